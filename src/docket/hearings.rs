//! Hearings: create on a docket, list, get, and move through the state machine.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::model::{Hearing, NewHearing, NewTransition, Page};
use super::rows::{self, HEARING_COLS};
use crate::audit;
use crate::audit::AuditAction;
use crate::clock::{now_ms, parse_rfc3339};
use crate::domain::validate::{FieldError, optional_language, optional_text};
use crate::http::AppState;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Platform};

/// Schedule a hearing on a docket.
#[utoipa::path(post, path = "/dockets/{docket_id}/hearings", tag = "hearings",
    request_body = NewHearing, security(("api_key" = [])),
    params(("docket_id" = String, Path, description = "Docket id")),
    responses((status = 201, body = Hearing), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn create(
    State(st): State<AppState>,
    Platform(caller): Platform,
    ApiPath(docket_id): ApiPath<String>,
    ApiJson(body): ApiJson<NewHearing>,
) -> Result<(StatusCode, Json<Hearing>), ApiError> {
    let docket_id = super::path_id(&docket_id, "docket")?;
    let start = parse_rfc3339(&body.scheduled_start).ok_or(FieldError::Invalid {
        field: "scheduled_start",
        expected: "must be an RFC 3339 time with offset, e.g. 2026-12-01T09:30:00+08:00",
    })?;
    let title = optional_text("title", body.title.as_deref(), 200)?;
    let language = optional_language("language", body.language.as_deref())?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    rows::load_docket(&mut *w.tx, &docket_id).await?;
    sqlx::query(
        "INSERT INTO hearings (id, docket_id, kind, title, scheduled_start, language, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'scheduled', $7, $7)",
    )
    .bind(&id)
    .bind(&docket_id)
    .bind(body.kind.as_str())
    .bind(&title)
    .bind(start)
    .bind(&language)
    .bind(now)
    .execute(&mut *w.tx)
    .await?;
    audit::append(
        &mut w.tx,
        now,
        &caller.actor(),
        AuditAction::HearingCreate,
        &format!("hearing:{id}"),
        serde_json::json!({ "docket_id": docket_id, "kind": body.kind.as_str(), "scheduled_start": start, "language": language }),
    )
    .await?;
    let hearing = rows::load_hearing(&mut *w.tx, &id).await?;
    w.commit().await?;
    Ok((StatusCode::CREATED, Json(hearing)))
}

/// List a docket's hearings by scheduled start.
#[utoipa::path(get, path = "/dockets/{docket_id}/hearings", tag = "hearings", params(Page,
    ("docket_id" = String, Path, description = "Docket id")), security(("api_key" = [])),
    responses((status = 200, body = [Hearing]), (status = 404, body = Problem)))]
pub(super) async fn list(
    State(st): State<AppState>,
    Platform(_caller): Platform,
    ApiPath(docket_id): ApiPath<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<Hearing>>, ApiError> {
    let docket_id = super::path_id(&docket_id, "docket")?;
    let (limit, offset) = page.bounds()?;
    rows::load_docket(st.db.pool(), &docket_id).await?;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {HEARING_COLS} FROM hearings WHERE docket_id = $1 \
         ORDER BY scheduled_start, id LIMIT $2 OFFSET $3"
    ));
    let found = sqlx::query(sql)
        .bind(&docket_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(st.db.pool())
        .await?;
    Ok(Json(
        found.iter().map(rows::hearing).collect::<Result<_, _>>()?,
    ))
}

/// Get one hearing.
#[utoipa::path(get, path = "/hearings/{hearing_id}", tag = "hearings", security(("api_key" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 200, body = Hearing), (status = 404, body = Problem)))]
pub(super) async fn get(
    State(st): State<AppState>,
    Platform(_caller): Platform,
    ApiPath(hearing_id): ApiPath<String>,
) -> Result<Json<Hearing>, ApiError> {
    let id = super::path_id(&hearing_id, "hearing")?;
    Ok(Json(rows::load_hearing(st.db.pool(), &id).await?))
}

/// Move a hearing to another state; illegal moves are answered 409 and change nothing.
#[utoipa::path(post, path = "/hearings/{hearing_id}/transitions", tag = "hearings",
    request_body = NewTransition, security(("api_key" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 200, body = Hearing), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn transition(
    State(st): State<AppState>,
    Platform(caller): Platform,
    ApiPath(hearing_id): ApiPath<String>,
    ApiJson(body): ApiJson<NewTransition>,
) -> Result<Json<Hearing>, ApiError> {
    let id = super::path_id(&hearing_id, "hearing")?;
    let reason = optional_text("reason", body.reason.as_deref(), 500)?;
    let hearing = crate::hearing::transition::apply(
        &st.db,
        &st.outbox,
        &id,
        body.to,
        &caller.actor(),
        reason,
    )
    .await?;
    let news = if body.to == crate::domain::HearingState::Closed {
        // Closed in the record: nobody stays in the room.
        crate::engine::Input::HearingClosed
    } else {
        crate::engine::Input::HearingStateChanged(body.to.into())
    };
    st.rooms.notify(&id, news).await;
    // Its courtroom devices come in when it opens, and leave when it closes.
    st.courtroom.sync(&id).await;
    Ok(Json(hearing))
}
