//! E-courtroom devices of a hearing (Art. 33, mixed hearings): the platform registers, lists,
//! checks and removes the RTSP cameras and codecs Gavel is to pull into the hearing. Every change
//! is audited; the password is stored for the server's own use and never returned or logged
//! (the audit entry names the device, its URL and transport, never its credentials). A check
//! opens the device's stream and records what it found; a device that refuses its credentials
//! or cannot be reached is a fault record (Art. 40) as well as its status.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::model::{Device, DeviceAudio, DeviceStream, DeviceVideo, NewDevice};
use super::rows;
use crate::audit::{self, AuditAction};
use crate::clock::{now_ms, rfc3339};
use crate::domain::HearingState;
use crate::domain::device::{
    DeviceKind, DeviceSpec, Transport, audio_path, spec, video_path, whip_spec,
};
use crate::domain::validate::FieldError;
use crate::fault::Component;
use crate::http::AppState;
use crate::http::error::{ApiError, Conflict, Problem};
use crate::http::extract::{ApiJson, ApiPath, Platform};

/// The columns `device` reads: never the password.
const COLS: &str = "id, hearing_id, name, kind, url, username, \
                    password IS NOT NULL AS has_password, transport, tls_pin, tls_ca, status, \
                    checked_at, \
                    stream, created_at";

/// Devices one hearing may have: a courtroom has a handful of cameras and codecs.
const MAX_PER_HEARING: i64 = 32;

fn device(r: &AnyRow) -> Result<Device, ApiError> {
    let transport: String = r.try_get("transport")?;
    let kind: String = r.try_get("kind")?;
    Ok(Device {
        kind: DeviceKind::parse(&kind).ok_or_else(|| {
            ApiError::Internal("stored device kind is not one the server knows".into())
        })?,
        key: None,
        id: r.try_get("id")?,
        hearing_id: r.try_get("hearing_id")?,
        name: r.try_get("name")?,
        url: r.try_get("url")?,
        username: r.try_get("username")?,
        has_password: r.try_get::<bool, _>("has_password").or_else(|_| {
            // SQLite answers the comparison as an integer.
            r.try_get::<i64, _>("has_password").map(|n| n != 0)
        })?,
        transport: Transport::parse(&transport).ok_or_else(|| {
            ApiError::Internal("stored transport is not one the server knows".into())
        })?,
        tls_pin: r.try_get("tls_pin")?,
        tls_ca: r.try_get("tls_ca")?,
        status: r.try_get("status")?,
        checked_at: r.try_get::<Option<i64>, _>("checked_at")?.map(rfc3339),
        stream: r
            .try_get::<Option<String>, _>("stream")?
            .and_then(|s| serde_json::from_str(&s).ok()),
        created_at: rfc3339(r.try_get("created_at")?),
    })
}

/// Register an e-courtroom device (an RTSP camera or codec) for a hearing.
#[utoipa::path(post, path = "/hearings/{hearing_id}/devices", tag = "devices",
    request_body = NewDevice, security(("api_key" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 201, body = Device), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn create(
    State(st): State<AppState>,
    Platform(caller): Platform,
    ApiPath(hearing_id): ApiPath<String>,
    ApiJson(body): ApiJson<NewDevice>,
) -> Result<(StatusCode, Json<Device>), ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let (d, key) = registration(&hearing_id, &body)?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    let hearing = rows::load_hearing(&mut *w.tx, &hearing_id).await?;
    if hearing.state == HearingState::Closed {
        return Err(Conflict::HearingClosed.into());
    }
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM devices WHERE hearing_id = $1 AND removed_at IS NULL",
    )
    .bind(&hearing_id)
    .fetch_one(&mut *w.tx)
    .await?;
    if count >= MAX_PER_HEARING {
        return Err(Conflict::TooManyDevices(MAX_PER_HEARING).into());
    }
    sqlx::query(
        "INSERT INTO devices (id, hearing_id, name, url, username, password, transport, tls_pin, \
         created_at, kind, key_hash, tls_ca) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&id)
    .bind(&hearing_id)
    .bind(&d.name)
    .bind(&d.url)
    .bind(&d.username)
    .bind(&d.password)
    .bind(d.transport.as_str())
    .bind(&d.tls_pin)
    .bind(now)
    .bind(body.kind.as_str())
    .bind(key.as_ref().map(|(_, hash)| hash.clone()))
    .bind(&d.tls_ca)
    .execute(&mut *w.tx)
    .await?;
    audit::append(
        &mut w.tx,
        now,
        &caller.actor(),
        AuditAction::DeviceCreate,
        &format!("device:{id}"),
        serde_json::json!({
            "hearing_id": hearing_id, "name": d.name, "kind": body.kind.as_str(), "url": d.url,
            "transport": d.transport.as_str(), "pinned": d.tls_pin.is_some(),
            "authority": d.tls_ca.is_some(),
        }),
    )
    .await?;
    let mut created = load(&mut w.tx, &hearing_id, &id).await?;
    w.commit().await?;
    created.key = key.map(|(key, _)| key);
    // In a live hearing, the device comes into the room now.
    st.courtroom.sync(&hearing_id).await;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The registration `body` asks for, checked, and for a WHIP device its new key (the key, and
/// the hash to store).
fn registration(
    hearing_id: &str,
    body: &NewDevice,
) -> Result<(DeviceSpec, Option<(String, String)>), ApiError> {
    match body.kind {
        DeviceKind::Rtsp => {
            let url = body.url.as_deref().ok_or(FieldError::Invalid {
                field: "url",
                expected: "given for an rtsp device",
            })?;
            let d = spec(
                &body.name,
                url,
                body.username.as_deref(),
                body.password.as_deref(),
                body.transport.unwrap_or_default(),
                (body.tls_pin.as_deref(), body.tls_ca.as_deref()),
            )?;
            // The authority must be a certificate GIO reads (it is what the device is checked by).
            if let Some(ca) = &d.tls_ca
                && gavel_media_pipelines::tls_pin::check_ca(ca).is_err()
            {
                return Err(FieldError::Invalid {
                    field: "tls_ca",
                    expected: "a PEM certificate that can be read",
                }
                .into());
            }
            Ok((d, None))
        }
        DeviceKind::Whip => {
            if body.transport.is_some() {
                return Err(FieldError::Invalid {
                    field: "transport",
                    expected: "given only for an rtsp device",
                }
                .into());
            }
            let name = whip_spec(
                &body.name,
                body.url.as_deref(),
                body.username.as_deref(),
                body.password.as_deref(),
                (body.tls_pin.as_deref(), body.tls_ca.as_deref()),
            )?;
            let d = DeviceSpec {
                name,
                url: format!("/api/v1/hearings/{hearing_id}/whip"),
                username: None,
                password: None,
                transport: Transport::default(),
                tls_pin: None,
                tls_ca: None,
            };
            Ok((d, Some(crate::auth::devicekey::generate())))
        }
    }
}

async fn load(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    hearing_id: &str,
    id: &str,
) -> Result<Device, ApiError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM devices WHERE id = $1 AND hearing_id = $2 AND removed_at IS NULL"
    ));
    let row = sqlx::query(sql)
        .bind(id)
        .bind(hearing_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(ApiError::NotFound("device"))?;
    device(&row)
}

/// List a hearing's e-courtroom devices.
#[utoipa::path(get, path = "/hearings/{hearing_id}/devices", tag = "devices",
    params(("hearing_id" = String, Path, description = "Hearing id")), security(("api_key" = [])),
    responses((status = 200, body = [Device]), (status = 404, body = Problem)))]
pub(super) async fn list(
    State(st): State<AppState>,
    Platform(_caller): Platform,
    ApiPath(hearing_id): ApiPath<String>,
) -> Result<Json<Vec<Device>>, ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    rows::load_hearing(st.db.pool(), &hearing_id).await?;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM devices WHERE hearing_id = $1 AND removed_at IS NULL \
         ORDER BY created_at, id"
    ));
    let found = sqlx::query(sql)
        .bind(&hearing_id)
        .fetch_all(st.db.pool())
        .await?;
    Ok(Json(found.iter().map(device).collect::<Result<_, _>>()?))
}

/// Remove an e-courtroom device from a hearing (its credentials are forgotten).
#[utoipa::path(delete, path = "/hearings/{hearing_id}/devices/{device_id}", tag = "devices",
    security(("api_key" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("device_id" = String, Path, description = "Device id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub(super) async fn remove(
    State(st): State<AppState>,
    Platform(caller): Platform,
    ApiPath((hearing_id, device_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let id = super::path_id(&device_id, "device")?;
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    let gone = load(&mut w.tx, &hearing_id, &id).await?;
    sqlx::query(
        "UPDATE devices SET removed_at = $1, password = NULL, key_hash = NULL WHERE id = $2",
    )
    .bind(now)
    .bind(&id)
    .execute(&mut *w.tx)
    .await?;
    audit::append(
        &mut w.tx,
        now,
        &caller.actor(),
        AuditAction::DeviceRemove,
        &format!("device:{id}"),
        serde_json::json!({ "hearing_id": hearing_id, "name": gone.name }),
    )
    .await?;
    w.commit().await?;
    // Out of the room, if it was in one (pulled, or publishing over WHIP).
    st.courtroom.sync(&hearing_id).await;
    st.whip.end_all_of(&hearing_id, &id);
    Ok(StatusCode::NO_CONTENT)
}

/// How long a check waits for the device's stream.
const CHECK_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Checks running at once, server-wide (each holds a pipeline and a connection to a device).
static CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Check an e-courtroom device: open its stream, see what it sends and how each part will reach
/// the hearing (passed through, or transcoded once). A refused password or a device that cannot
/// be reached is its status and a fault record.
#[utoipa::path(post, path = "/hearings/{hearing_id}/devices/{device_id}/check", tag = "devices",
    security(("api_key" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("device_id" = String, Path, description = "Device id")),
    responses((status = 200, body = Device), (status = 404, body = Problem), (status = 503, body = Problem)))]
pub(super) async fn check(
    State(st): State<AppState>,
    Platform(caller): Platform,
    ApiPath((hearing_id, device_id)): ApiPath<(String, String)>,
) -> Result<Json<Device>, ApiError> {
    use gavel_media_pipelines::rtsp::{RtspError, probe};
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let id = super::path_id(&device_id, "device")?;
    let row = sqlx::query(
        "SELECT name, kind, url, username, password, transport, tls_pin, tls_ca FROM devices \
         WHERE id = $1 AND hearing_id = $2 AND removed_at IS NULL",
    )
    .bind(&id)
    .bind(&hearing_id)
    .fetch_optional(st.db.pool())
    .await?
    .ok_or(ApiError::NotFound("device"))?;
    if row.try_get::<String, _>("kind")? != DeviceKind::Rtsp.as_str() {
        return Err(Conflict::NotPulled.into());
    }
    let name: String = row.try_get("name")?;
    let src = crate::courtroom::rtsp_source(&row)?;
    let url = src.url.clone();
    let Ok(permit) = CHECKS.try_acquire() else {
        return Err(ApiError::Busy(
            "too many device checks at once; try again shortly",
        ));
    };
    // The permit goes with the probe: it is held until the pipeline is gone, even if the
    // request is abandoned first.
    let probed = tokio::task::spawn_blocking(move || {
        let _held = permit;
        probe(&src, CHECK_WITHIN)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the device check stopped: {e}")))?;
    let (status, stream, trouble) = match probed {
        Ok(p) => {
            let stream = DeviceStream {
                video: p.video.map(|v| DeviceVideo {
                    path: video_path(&v.encoding, v.profile.as_deref(), v.b_frames),
                    encoding: v.encoding,
                    profile: v.profile,
                    b_frames: v.b_frames,
                }),
                audio: p.audio.map(|a| DeviceAudio {
                    path: audio_path(&a),
                    encoding: a,
                }),
            };
            tracing::info!(device = %id, video = ?stream.video.as_ref().map(|v| v.path),
                audio = ?stream.audio.as_ref().map(|a| a.path), "device checked");
            ("ok", Some(stream), None)
        }
        // A pipeline that could not be built is ours, not the device's.
        Err(e @ RtspError::Gst(_)) => return Err(ApiError::Internal(e.to_string())),
        Err(e) => (crate::courtroom::status_of(&e), None, Some(e)),
    };
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    let stored = stream
        .as_ref()
        .map(|s| serde_json::to_string(s).expect("a stream description serialises"));
    sqlx::query(
        "UPDATE devices SET status = $1, checked_at = $2, stream = COALESCE($3, stream) \
         WHERE id = $4 AND removed_at IS NULL",
    )
    .bind(status)
    .bind(now)
    .bind(&stored)
    .bind(&id)
    .execute(&mut *w.tx)
    .await?;
    audit::append(
        &mut w.tx,
        now,
        &caller.actor(),
        AuditAction::DeviceCheck,
        &format!("device:{id}"),
        serde_json::json!({ "hearing_id": hearing_id, "status": status }),
    )
    .await?;
    let checked = load(&mut w.tx, &hearing_id, &id).await?;
    w.commit().await?;
    if let Some(e) = trouble {
        // The device's name and URL say which; its credentials never appear.
        let detail = format!("courtroom device {name} ({url}): {e}");
        crate::fault::report(&st.db, Some(&hearing_id), Component::Device, &detail).await;
    }
    Ok(Json(checked))
}
