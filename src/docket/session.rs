//! What a join token opens: the participant's view of their hearing, checked by the server.

use super::model::Session;
use super::rows;
use crate::domain::role::capabilities;
use crate::hearing::Admitted;
use crate::hearing::admit::Purpose;
use crate::http::AppState;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiPath, Joiner};
use axum::Json;
use axum::extract::State;

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
    let Admitted {
        hearing,
        display_name,
    } = crate::hearing::admit::admit(&st.db, &claims, &hearing_id, Purpose::Join).await?;
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
