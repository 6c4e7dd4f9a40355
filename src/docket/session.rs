//! What a join token opens: the participant's view of their hearing, checked by the server.

use axum::Json;
use axum::extract::State;
use sqlx::Row;

use super::model::{Hearing, Session};
use super::rows;
use crate::app::AppState;
use crate::auth::jwt::JoinClaims;
use crate::domain::role::capabilities;
use crate::domain::{HearingState, Role};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiPath, Joiner};

/// The docket, hearing and role a join token is for (authenticated by the join token).
#[utoipa::path(get, path = "/hearings/{hearing_id}/session", tag = "join",
    security(("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 200, body = Session), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub(super) async fn get(
    State(st): State<AppState>,
    Joiner(claims): Joiner,
    ApiPath(hearing_id): ApiPath<String>,
) -> Result<Json<Session>, ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let (hearing, display_name) = check_claims(&st, &claims, &hearing_id).await?;
    let docket = rows::load_docket(st.db.pool(), &hearing.docket_id).await?;
    Ok(Json(Session {
        docket,
        hearing,
        participant_id: claims.sub,
        display_name,
        role: claims.role,
        capabilities: capabilities(claims.role).to_vec(),
        requirements: st.config.client,
    }))
}

/// Checks a verified join token against the database: the hearing it names is `hearing_id` and
/// not closed, and the participant is still registered with the same role. Returns the hearing
/// and the participant's display name.
pub(crate) async fn check_claims(
    st: &AppState,
    claims: &JoinClaims,
    hearing_id: &str,
) -> Result<(Hearing, String), ApiError> {
    if claims.hid != hearing_id {
        return Err(ApiError::Forbidden(
            "this join link is for a different hearing",
        ));
    }
    let hearing = rows::load_hearing(st.db.pool(), hearing_id).await?;
    if hearing.state == HearingState::Closed {
        return Err(ApiError::Forbidden("this hearing has ended"));
    }
    let row = sqlx::query(
        "SELECT display_name, role, revoked_at FROM participants WHERE id = $1 AND hearing_id = $2",
    )
    .bind(&claims.sub)
    .bind(hearing_id)
    .fetch_optional(st.db.pool())
    .await?
    .ok_or(ApiError::Forbidden(
        "this participant is not registered for the hearing",
    ))?;
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Err(ApiError::Forbidden(
            "this participant was removed from the hearing",
        ));
    }
    let role: String = row.try_get("role")?;
    if Role::parse(&role) != Some(claims.role) {
        return Err(ApiError::Unauthorized(
            "the participant's role changed; ask the court for a new link",
        ));
    }
    Ok((hearing, row.try_get("display_name")?))
}
