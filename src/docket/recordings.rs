//! A hearing's recordings through the API: the list (segments, seal, composite job), the
//! composite on request, and each file streamed with HTTP range requests. Readers are the
//! court platform (API key) or the hearing's judge, clerk or mediator (join token with
//! `access_recording`); every view and download is audited, naming who and which file.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sqlx::Row;
use tower::ServiceExt;

use super::model::{CompositeJob, RecordingView};
use crate::audit::AuditAction;
use crate::auth::{Actor, apikey};
use crate::clock::{now_ms, rfc3339};
use crate::domain::role::capabilities;
use crate::domain::{Capability, Role};
use crate::hearing::admit::Purpose;
use crate::http::AppState;
use crate::http::error::{ApiError, Conflict, Problem};
use crate::http::extract::{ApiPath, verify_join_token};
use crate::http::range::RangeAsk;

/// Who reads a recording: the platform, or a participant whose role may.
pub(super) async fn reader(
    st: &AppState,
    req_headers: &axum::http::HeaderMap,
    hearing: &str,
    allowed: &[Capability],
) -> Result<Actor, ApiError> {
    let c = caller(st, req_headers, hearing).await?;
    if let Some((_, role)) = c.participant
        && !allowed.iter().any(|x| capabilities(role).allows(*x))
    {
        return Err(ApiError::Forbidden("your role may not read this"));
    }
    Ok(c.actor)
}

/// Someone calling about a hearing's record.
pub(super) struct Caller {
    /// For the audit log.
    pub actor: Actor,
    /// The participant and their role; `None` for the platform.
    pub participant: Option<(String, Role)>,
}

/// Authenticates the platform's API key, or a join token of this hearing whose participant is
/// still registered (not removed) in the same role; the hearing may be over (that is when
/// records are read and signed).
pub(super) async fn caller(
    st: &AppState,
    req_headers: &axum::http::HeaderMap,
    hearing: &str,
) -> Result<Caller, ApiError> {
    let token = req_headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, t)| s.eq_ignore_ascii_case("bearer") && !t.is_empty())
        .map(|(_, t)| t.trim())
        .ok_or(ApiError::Unauthorized(
            "missing Authorization: Bearer header",
        ))?;
    if apikey::looks_like_api_key(token) {
        return match apikey::authenticate(&st.db, token).await? {
            Some(id) => Ok(Caller {
                actor: id.actor(),
                participant: None,
            }),
            None => Err(ApiError::Unauthorized("unknown or revoked API key")),
        };
    }
    let claims = verify_join_token(st, token)?;
    crate::hearing::admit::admit(&st.db, &claims, hearing, Purpose::Record).await?;
    Ok(Caller {
        actor: Actor::Participant {
            id: claims.sub.clone().into(),
        },
        participant: Some((claims.sub, claims.role)),
    })
}

/// Who may read recordings besides the platform.
const RECORDING_READERS: &[Capability] = &[Capability::AccessRecording];

/// Audits one access to the recording.
pub(super) async fn audit(
    st: &AppState,
    actor: &Actor,
    action: AuditAction,
    hearing: &str,
    file: Option<&str>,
) -> Result<(), ApiError> {
    let mut w = st.db.begin_write().await?;
    crate::audit::append(
        &mut w.tx,
        now_ms(),
        actor,
        action,
        &format!("hearing:{hearing}"),
        serde_json::json!({"file": file}),
    )
    .await?;
    w.commit().await?;
    Ok(())
}

/// The hearing's recording: segments, seal and composite job.
#[utoipa::path(get, path = "/hearings/{hearing_id}/recording", tag = "recordings",
    security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 200, body = RecordingView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn get(
    State(st): State<AppState>,
    ApiPath(hearing_id): ApiPath<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<RecordingView>, ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let actor = reader(&st, &headers, &hearing_id, RECORDING_READERS).await?;
    super::rows::load_hearing(st.db.pool(), &hearing_id).await?;
    let index = crate::recording::index::Index {
        db: st.db.clone(),
        outbox: st.outbox.clone(),
    };
    let segments = index.segments(&hearing_id).await?;
    let row = sqlx::query(
        "SELECT head, sealed_at, composite_state, composite_progress, composite_error \
         FROM recordings WHERE hearing_id = $1",
    )
    .bind(&hearing_id)
    .fetch_optional(st.db.pool())
    .await
    .map_err(crate::db::DbError::from)?;
    let view = match row {
        None => RecordingView {
            hearing_id: hearing_id.clone(),
            sealed_at: None,
            head: None,
            segments,
            composite: CompositeJob {
                state: "none".into(),
                progress: 0.0,
                error: None,
            },
        },
        Some(r) => {
            let get = |e: sqlx::Error| ApiError::from(crate::db::DbError::from(e));
            RecordingView {
                hearing_id: hearing_id.clone(),
                sealed_at: r
                    .try_get::<Option<i64>, _>("sealed_at")
                    .map_err(get)?
                    .map(rfc3339),
                head: r.try_get("head").map_err(get)?,
                segments,
                composite: CompositeJob {
                    state: r.try_get("composite_state").map_err(get)?,
                    progress: r.try_get::<i64, _>("composite_progress").map_err(get)? as f64
                        / 1000.0,
                    error: r.try_get("composite_error").map_err(get)?,
                },
            }
        }
    };
    audit(&st, &actor, AuditAction::RecordingList, &hearing_id, None).await?;
    Ok(Json(view))
}

/// Render the hearing's composite (again) in the background; its progress is in the
/// recording's `composite`.
#[utoipa::path(post, path = "/hearings/{hearing_id}/recording/composite", tag = "recordings",
    security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 202, description = "Queued"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn compose(
    State(st): State<AppState>,
    ApiPath(hearing_id): ApiPath<String>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let actor = reader(&st, &headers, &hearing_id, RECORDING_READERS).await?;
    let hearing = super::rows::load_hearing(st.db.pool(), &hearing_id).await?;
    if hearing.state != crate::domain::HearingState::Closed {
        return Err(Conflict::HearingNotEnded.into());
    }
    let running: Option<String> = sqlx::query_scalar(
        "SELECT CASE WHEN sealed_at IS NULL THEN 'unsealed' ELSE composite_state END \
         FROM recordings WHERE hearing_id = $1",
    )
    .bind(&hearing_id)
    .fetch_optional(st.db.pool())
    .await
    .map_err(crate::db::DbError::from)?;
    match running.as_deref() {
        None => {
            return Err(Conflict::NothingRecorded.into());
        }
        Some("running") => {
            return Err(Conflict::CompositeRunning.into());
        }
        Some("unsealed") => {
            return Err(Conflict::RecordingClosing.into());
        }
        Some(_) => {}
    }
    audit(
        &st,
        &actor,
        AuditAction::RecordingCompose,
        &hearing_id,
        None,
    )
    .await?;
    st.composer.start(hearing_id);
    Ok(StatusCode::ACCEPTED)
}

/// One file of the recording (a segment or the composite), with range requests; audited as a
/// view (a range request: how players stream and seek) or a download (the whole file).
#[utoipa::path(get, path = "/hearings/{hearing_id}/recording/files/{file}", tag = "recordings",
    security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("file" = String, Path, description = "File name, as listed")),
    responses((status = 200, description = "The file"), (status = 206, description = "Part of it"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 416, body = Problem, description = "Range not satisfiable (malformed or \
            multiple ranges are ignored: the whole file is served)")))]
pub(super) async fn file(
    State(st): State<AppState>,
    ApiPath((hearing_id, file)): ApiPath<(String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let actor = reader(&st, req.headers(), &hearing_id, RECORDING_READERS).await?;
    // Only files the manifest lists (and so the index): never anything else on disk.
    let listed: Option<i64> = sqlx::query_scalar(
        "SELECT bytes FROM recording_segments WHERE hearing_id = $1 AND file = $2",
    )
    .bind(&hearing_id)
    .bind(&file)
    .fetch_optional(st.db.pool())
    .await
    .map_err(crate::db::DbError::from)?;
    if listed.is_none() {
        return Err(ApiError::NotFound("recording file"));
    }
    let dir = st
        .config
        .recording
        .dir
        .clone()
        .unwrap_or_default()
        .join(&hearing_id);
    let size = tokio::fs::metadata(dir.join(&file))
        .await
        .map_err(|_| ApiError::NotFound("recording file"))?
        .len();
    let mut req = req;
    let asked = req.headers().get(header::RANGE).map(|h| h.as_bytes());
    let ranged = match crate::http::range::judge(asked, size) {
        RangeAsk::Part(first, last) => {
            let canonical = axum::http::HeaderValue::from_str(&format!("bytes={first}-{last}"))
                .expect("digits and a dash are a valid header value");
            req.headers_mut().insert(header::RANGE, canonical);
            true
        }
        RangeAsk::Whole => {
            req.headers_mut().remove(header::RANGE);
            false
        }
        RangeAsk::Unsatisfiable => return Err(ApiError::RangeNotSatisfiable { size }),
    };
    let action = if ranged {
        AuditAction::RecordingView
    } else {
        AuditAction::RecordingDownload
    };
    audit(&st, &actor, action, &hearing_id, Some(&file)).await?;
    // The type follows the extension: video/x-matroska for segments, video/webm for the
    // composite.
    let served = tower_http::services::ServeFile::new(dir.join(&file))
        .oneshot(req)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if served.status() == StatusCode::NOT_FOUND {
        return Err(ApiError::NotFound("recording file"));
    }
    let mut res = served.into_response();
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_str(&format!("inline; filename=\"{file}\""))
            .unwrap_or(axum::http::HeaderValue::from_static("inline")),
    );
    Ok(res)
}
