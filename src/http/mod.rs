//! The HTTP surface: routes, layers (limits, timeouts, panic guard, security headers), the
//! OpenAPI document, the join page and TLS set-up.
//!
//! Invariant: every response, including 404s, 405s, oversize bodies and panics, is a problem
//! document or a deliberate page; nothing answers with a framework default.

pub mod conflict;
pub mod error;
pub mod extract;
pub mod range;
mod state;
pub mod tls;
pub mod ws;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::Modify;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use error::ApiError;
pub use state::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Gavel case API", description = "The thin interface through which a court's \
        platform creates dockets and hearings, registers verified participants, mints join \
        links and subscribes to hearing events. Errors are RFC 9457 problem documents."),
    modifiers(&Security)
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut key = Http::new(HttpAuthScheme::Bearer);
        key.description = Some("Platform API key from `gavel apikey create`.".into());
        components.add_security_scheme("api_key", SecurityScheme::Http(key));
        let mut join = Http::new(HttpAuthScheme::Bearer);
        join.bearer_format = Some("JWT".into());
        join.description = Some("A participant's join token (EdDSA-signed JWT).".into());
        components.add_security_scheme("join_token", SecurityScheme::Http(join));
        let mut device = Http::new(HttpAuthScheme::Bearer);
        device.description =
            Some("A WHIP device's key (`gvd_…`), shown once when the device is registered.".into());
        components.add_security_scheme("device_key", SecurityScheme::Http(device));
    }
}

/// The OpenAPI document and the router it describes (the `routes` under `/api/v1`), built
/// together so they cannot drift.
pub fn api(routes: OpenApiRouter<AppState>) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .nest("/api/v1", routes)
        .split_for_parts()
}

/// The whole application router: the case API's `routes`, the signaling socket, the web
/// client and health checks, with the layers every response passes through.
pub fn router(state: AppState, routes: OpenApiRouter<AppState>) -> Router {
    let (api, doc) = api(routes);
    let doc_json = doc.to_json().expect("the OpenAPI document serialises");
    let body_limit = state.config.server.max_body_bytes;
    let timeout = Duration::from_secs(state.config.server.request_timeout_secs);
    api.route(
        "/api/v1/openapi.json",
        get(move || async move {
            (
                [(header::CONTENT_TYPE, "application/json")],
                doc_json.clone(),
            )
        }),
    )
    .route("/healthz", get(healthz))
    .route("/readyz", get(readyz))
    .route("/ws", get(ws::upgrade))
    .merge(crate::web::router())
    .fallback(|| async { ApiError::NoRoute })
    .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
    .layer(DefaultBodyLimit::max(body_limit))
    .layer(CatchPanicLayer::custom(|_| {
        ApiError::Internal("a request handler panicked".into()).into_response()
    }))
    .layer(middleware::from_fn_with_state(timeout, guard))
    .with_state(state)
}

/// Liveness: 200 while the process serves requests. It never waits on anything else (a
/// database outage must not make an orchestrator restart a server whose hearings go on).
async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// Readiness: 200 when the database answers within 2 s, else a 503 problem document; for load
/// balancers deciding where new hearings go.
async fn readyz(State(st): State<AppState>) -> Response {
    let check = sqlx::query("SELECT 1").execute(st.db.pool());
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unavailable");
            ApiError::Busy("the database is unavailable").into_response()
        }
        Err(_) => ApiError::Busy("the database did not answer in time").into_response(),
    }
}

/// Outermost layer: bounds every request's time (answering a problem document) and adds the
/// security headers to every response, including timeouts and panics.
async fn guard(State(timeout): State<Duration>, req: Request, next: Next) -> Response {
    let mut res = match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::Timeout.into_response(),
    };
    let h = res.headers_mut();
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}
