//! Participants of a hearing and their join links.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::model::{JoinLink, NewJoinLink, NewParticipant, Page, Participant};
use super::rows::{self, PARTICIPANT_COLS};
use crate::audit;
use crate::audit::AuditAction;
use crate::auth::jwt::{self, ISSUER, JOIN_AUDIENCE, JoinClaims};
use crate::clock::{now_ms, rfc3339};
use crate::domain::HearingState;
use crate::domain::validate::{in_range, optional_text, text};
use crate::http::AppState;
use crate::http::error::{ApiError, Conflict, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Platform};

/// Register a verified participant for a hearing.
#[utoipa::path(post, path = "/hearings/{hearing_id}/participants", tag = "participants",
    request_body = NewParticipant, security(("api_key" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 201, body = Participant), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn create(
    State(st): State<AppState>,
    Platform(caller): Platform,
    ApiPath(hearing_id): ApiPath<String>,
    ApiJson(body): ApiJson<NewParticipant>,
) -> Result<(StatusCode, Json<Participant>), ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let display_name = text("display_name", &body.display_name, 100)?;
    let identity_ref = text("identity_ref", &body.identity_ref, 128)?;
    let contact = optional_text("contact", body.contact.as_deref(), 200)?;
    if !body.role.is_person() {
        // Courtroom devices are registered as devices, with their stream (`/devices`).
        return Err(crate::domain::validate::FieldError::Invalid {
            field: "role",
            expected: "a person's role (a courtroom device is registered under /devices)",
        }
        .into());
    }
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    let hearing = rows::load_hearing(&mut *w.tx, &hearing_id).await?;
    if hearing.state == HearingState::Closed {
        return Err(Conflict::HearingClosed.into());
    }
    sqlx::query(
        "INSERT INTO participants (id, hearing_id, display_name, role, identity_ref, contact, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&hearing_id)
    .bind(&display_name)
    .bind(body.role.as_str())
    .bind(&identity_ref)
    .bind(&contact)
    .bind(now)
    .execute(&mut *w.tx)
    .await?;
    audit::append(
        &mut w.tx,
        now,
        &caller.actor(),
        AuditAction::ParticipantCreate,
        &format!("participant:{id}"),
        serde_json::json!({ "hearing_id": hearing_id, "role": body.role.as_str() }),
    )
    .await?;
    let row = load_row(&mut w.tx, &hearing_id, &id).await?;
    w.commit().await?;
    Ok((StatusCode::CREATED, Json(rows::participant(&row)?)))
}

async fn load_row(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    hearing_id: &str,
    id: &str,
) -> Result<sqlx::any::AnyRow, ApiError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {PARTICIPANT_COLS} FROM participants \
         WHERE id = $1 AND hearing_id = $2 AND revoked_at IS NULL"
    ));
    sqlx::query(sql)
        .bind(id)
        .bind(hearing_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(ApiError::NotFound("participant"))
}

/// List a hearing's participants.
#[utoipa::path(get, path = "/hearings/{hearing_id}/participants", tag = "participants",
    params(Page, ("hearing_id" = String, Path, description = "Hearing id")), security(("api_key" = [])),
    responses((status = 200, body = [Participant]), (status = 404, body = Problem)))]
pub(super) async fn list(
    State(st): State<AppState>,
    Platform(_caller): Platform,
    ApiPath(hearing_id): ApiPath<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<Participant>>, ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let (limit, offset) = page.bounds()?;
    rows::load_hearing(st.db.pool(), &hearing_id).await?;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {PARTICIPANT_COLS} FROM participants WHERE hearing_id = $1 AND revoked_at IS NULL \
         ORDER BY created_at, id LIMIT $2 OFFSET $3"
    ));
    let found = sqlx::query(sql)
        .bind(&hearing_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(st.db.pool())
        .await?;
    Ok(Json(
        found
            .iter()
            .map(rows::participant)
            .collect::<Result<_, _>>()?,
    ))
}

/// Remove a participant; their join links stop working at once.
#[utoipa::path(delete, path = "/hearings/{hearing_id}/participants/{participant_id}",
    tag = "participants", security(("api_key" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("participant_id" = String, Path, description = "Participant id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub(super) async fn revoke(
    State(st): State<AppState>,
    Platform(caller): Platform,
    ApiPath((hearing_id, participant_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let id = super::path_id(&participant_id, "participant")?;
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    load_row(&mut w.tx, &hearing_id, &id).await?;
    sqlx::query("UPDATE participants SET revoked_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&id)
        .execute(&mut *w.tx)
        .await?;
    audit::append(
        &mut w.tx,
        now,
        &caller.actor(),
        AuditAction::ParticipantRevoke,
        &format!("participant:{id}"),
        serde_json::json!({ "hearing_id": hearing_id }),
    )
    .await?;
    w.commit().await?;
    // A live session ends now too, not only future joins; so do their encoders and players.
    st.whip.end_all_of(&hearing_id, &id);
    st.rooms
        .notify(
            &hearing_id,
            crate::engine::Input::Revoked {
                participant: id.into(),
            },
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Mint a signed, expiring join link for one participant. Once the hearing has ended, the link
/// opens only its written record, for reading and signing.
#[utoipa::path(post, path = "/hearings/{hearing_id}/participants/{participant_id}/join-links",
    tag = "participants", request_body = NewJoinLink, security(("api_key" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("participant_id" = String, Path, description = "Participant id")),
    responses((status = 201, body = JoinLink), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn join_link(
    State(st): State<AppState>,
    Platform(caller): Platform,
    ApiPath((hearing_id, participant_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<NewJoinLink>,
) -> Result<(StatusCode, Json<JoinLink>), ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let id = super::path_id(&participant_id, "participant")?;
    let cfg = &st.config.tokens;
    let ttl = in_range(
        "ttl_seconds",
        body.ttl_seconds.unwrap_or(cfg.default_ttl_secs),
        60,
        cfg.max_ttl_secs,
        "must be between 60 seconds and tokens.max_ttl_secs",
    )?;
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    // A link for a closed hearing opens only its written record (to read and sign it, which
    // happens after the hearing): the record page; joining the hearing itself is refused.
    let hearing = rows::load_hearing(&mut *w.tx, &hearing_id).await?;
    let page = if hearing.state == HearingState::Closed {
        "review"
    } else {
        "join"
    };
    let row = load_row(&mut w.tx, &hearing_id, &id).await?;
    let p = rows::participant(&row)?;
    let jti = uuid::Uuid::new_v4().to_string();
    let claims = JoinClaims {
        iss: ISSUER.into(),
        aud: JOIN_AUDIENCE.into(),
        sub: id.clone(),
        hid: hearing_id.clone(),
        role: p.role,
        iat: now / 1000,
        exp: now / 1000 + ttl,
        jti: jti.clone(),
    };
    let token = jwt::issue(&st.keys.ring(), &claims);
    audit::append(
        &mut w.tx,
        now,
        &caller.actor(),
        AuditAction::JoinLinkIssue,
        &format!("participant:{id}"),
        serde_json::json!({ "hearing_id": hearing_id, "jti": jti, "expires": claims.exp, "role": p.role.as_str() }),
    )
    .await?;
    w.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(JoinLink {
            url: format!(
                "{}/{page}/{hearing_id}#token={token}",
                st.config.public_url()
            ),
            token,
            expires_at: rfc3339(claims.exp * 1000),
            participant_id: id,
            hearing_id,
            role: p.role,
        }),
    ))
}

/// The link a participant opens. The token sits in the fragment, which browsers never send to
/// servers or in Referer headers, so it stays out of access logs and proxies.
pub(crate) fn join_url(base: &str, hearing_id: &str, token: &str) -> String {
    format!("{base}/join/{hearing_id}#token={token}")
}
