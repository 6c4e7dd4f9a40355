//! The case API: the thin REST interface through which the court platform creates dockets and
//! hearings, registers verified participants, mints join links and subscribes to events.
//!
//! Every handler authenticates first (platform API key, or a participant's join token for
//! `session`), validates every field, then performs its change and the matching audit entry
//! (and webhook events) in one write transaction. Nothing is written when anything fails.

mod agreement;
mod devices;
mod dockets;
mod hearings;
pub mod model;
mod nettest;
mod participants;
mod recordings;
pub(crate) use participants::join_url as participants_url;
mod rows;
mod session;
mod transcript;
mod webhooks;
mod whep;
mod whip;
mod written;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;

/// The `/api/v1` routes with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dockets::create, dockets::list))
        .routes(routes!(dockets::get))
        .routes(routes!(hearings::create, hearings::list))
        .routes(routes!(hearings::get))
        .routes(routes!(hearings::transition))
        .routes(routes!(participants::create, participants::list))
        .routes(routes!(participants::revoke))
        .routes(routes!(participants::join_link))
        .routes(routes!(devices::create, devices::list))
        .routes(routes!(devices::remove))
        .routes(routes!(devices::check))
        .routes(routes!(session::get))
        .routes(routes!(whip::publish))
        .routes(routes!(whip::trickle, whip::end))
        .route(
            "/hearings/{hearing_id}/whip",
            axum::routing::options(whip::preflight),
        )
        .route(
            "/hearings/{hearing_id}/whip/{session_id}",
            axum::routing::options(whip::preflight),
        )
        .routes(routes!(whep::play))
        .routes(routes!(whep::play_main))
        .routes(routes!(whep::whep_trickle, whep::whep_end))
        .route(
            "/hearings/{hearing_id}/participants/{participant_id}/whep",
            axum::routing::options(whip::preflight),
        )
        .route(
            "/hearings/{hearing_id}/whep/{session_id}",
            axum::routing::options(whip::preflight),
        )
        .route(
            "/hearings/{hearing_id}/whep",
            axum::routing::options(whip::preflight),
        )
        .routes(routes!(nettest::download, nettest::upload))
        .routes(routes!(nettest::udp))
        .routes(routes!(recordings::get))
        .routes(routes!(recordings::compose))
        .routes(routes!(recordings::file))
        .routes(routes!(transcript::get))
        .routes(routes!(transcript::versions, transcript::correct))
        .routes(routes!(written::finalise, written::list))
        .routes(routes!(written::get))
        .routes(routes!(written::signed))
        .routes(routes!(written::html))
        .routes(routes!(written::public))
        .routes(routes!(written::decide))
        .routes(routes!(agreement::draft, agreement::list))
        .routes(routes!(agreement::get))
        .routes(routes!(agreement::signed))
        .routes(routes!(agreement::decide))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::delete))
}

/// Parses a path id; anything that is not a UUID cannot name a resource, so it is a 404.
fn path_id(raw: &str, what: &'static str) -> Result<String, crate::http::error::ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| crate::http::error::ApiError::NotFound(what))
}
