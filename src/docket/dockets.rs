//! Dockets: create, list, get.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::model::{Docket, NewDocket, Page};
use super::rows::{self, DOCKET_COLS};
use crate::audit;
use crate::audit::AuditAction;
use crate::clock::now_ms;
use crate::domain::validate::text;
use crate::http::AppState;
use crate::http::error::{ApiError, Problem, conflict_on_unique};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Platform};

/// Create a docket.
#[utoipa::path(post, path = "/dockets", tag = "dockets", request_body = NewDocket,
    security(("api_key" = [])),
    responses((status = 201, body = Docket), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn create(
    State(st): State<AppState>,
    Platform(caller): Platform,
    ApiJson(body): ApiJson<NewDocket>,
) -> Result<(StatusCode, Json<Docket>), ApiError> {
    let case_number = text("case_number", &body.case_number, 64)?;
    let title = text("title", &body.title, 200)?;
    let court = text("court", &body.court, 120)?;
    let case_type = text("case_type", &body.case_type, 60)?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO dockets (id, case_number, title, court, case_type, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(&case_number)
    .bind(&title)
    .bind(&court)
    .bind(&case_type)
    .bind(now)
    .execute(&mut *w.tx)
    .await
    .map_err(|e| conflict_on_unique(e, "a docket with this case number"))?;
    audit::append(
        &mut w.tx,
        now,
        &caller.actor(),
        AuditAction::DocketCreate,
        &format!("docket:{id}"),
        serde_json::json!({ "case_number": case_number, "court": court, "case_type": case_type }),
    )
    .await?;
    let docket = rows::load_docket(&mut *w.tx, &id).await?;
    w.commit().await?;
    Ok((StatusCode::CREATED, Json(docket)))
}

/// List dockets, newest first.
#[utoipa::path(get, path = "/dockets", tag = "dockets", params(Page), security(("api_key" = [])),
    responses((status = 200, body = [Docket])))]
pub(super) async fn list(
    State(st): State<AppState>,
    Platform(_caller): Platform,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<Docket>>, ApiError> {
    let (limit, offset) = page.bounds()?;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {DOCKET_COLS} FROM dockets ORDER BY created_at DESC, id LIMIT $1 OFFSET $2"
    ));
    let found = sqlx::query(sql)
        .bind(limit)
        .bind(offset)
        .fetch_all(st.db.pool())
        .await?;
    Ok(Json(
        found.iter().map(rows::docket).collect::<Result<_, _>>()?,
    ))
}

/// Get one docket.
#[utoipa::path(get, path = "/dockets/{docket_id}", tag = "dockets", security(("api_key" = [])),
    params(("docket_id" = String, Path, description = "Docket id")),
    responses((status = 200, body = Docket), (status = 404, body = Problem)))]
pub(super) async fn get(
    State(st): State<AppState>,
    Platform(_caller): Platform,
    ApiPath(docket_id): ApiPath<String>,
) -> Result<Json<Docket>, ApiError> {
    let id = super::path_id(&docket_id, "docket")?;
    Ok(Json(rows::load_docket(st.db.pool(), &id).await?))
}
