//! Serves the web client (embedded in the binary so a join link is all a participant needs).
//!
//! The page reads the join token from the URL fragment and asks the server what it opens;
//! every permission is still enforced by the server.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("../web-client/index.html");
/// The clerk's transcript review (opened with the clerk's join link, `/review/...`).
const REVIEW_HTML: &str = include_str!("../web-client/review.html");

/// The page's assets: `/assets/<name>`, its content and type.
const ASSETS: [(&str, &str, &str); 12] = [
    (
        "style.css",
        include_str!("../web-client/style.css"),
        "text/css; charset=utf-8",
    ),
    ("js/app.js", include_str!("../web-client/js/app.js"), JS),
    (
        "js/strings.js",
        include_str!("../web-client/js/strings.js"),
        JS,
    ),
    (
        "js/signal.js",
        include_str!("../web-client/js/signal.js"),
        JS,
    ),
    ("js/media.js", include_str!("../web-client/js/media.js"), JS),
    ("js/ui.js", include_str!("../web-client/js/ui.js"), JS),
    ("js/state.js", include_str!("../web-client/js/state.js"), JS),
    (
        "js/roster.js",
        include_str!("../web-client/js/roster.js"),
        JS,
    ),
    (
        "js/agreement.js",
        include_str!("../web-client/js/agreement.js"),
        JS,
    ),
    (
        "js/review.js",
        include_str!("../web-client/js/review.js"),
        JS,
    ),
    (
        "js/precheck.js",
        include_str!("../web-client/js/precheck.js"),
        JS,
    ),
    (
        "js/toolbar.js",
        include_str!("../web-client/js/toolbar.js"),
        JS,
    ),
];
const JS: &str = "text/javascript; charset=utf-8";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self' wss:; img-src 'self' data:; \
             media-src 'self' blob:; frame-ancestors 'none'",
        ),
    );
    res
}

/// `/`, `/join/{hearing_id}` and the page's assets.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let index = || async { asset(INDEX_HTML, "text/html; charset=utf-8") };
    let mut router = Router::new()
        .route("/", get(index))
        .route("/join/{hearing_id}", get(index))
        .route(
            "/review/{hearing_id}",
            get(|| async { asset(REVIEW_HTML, "text/html; charset=utf-8") }),
        );
    for (name, body, content_type) in ASSETS {
        router = router.route(
            &format!("/assets/{name}"),
            get(move || async move { asset(body, content_type) }),
        );
    }
    router
}
