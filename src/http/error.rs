//! `ApiError`: every failure the HTTP API reports, rendered as RFC 9457 problem details.
//!
//! The body says what the caller can fix (`detail`, and `field` for validation errors). For
//! server-side failures it says only that something failed, with a reference id that is also
//! in the log beside the real cause, so nothing internal leaks to the caller.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::jwt::TokenError;
use crate::db::DbError;
use crate::domain::hearing::IllegalTransition;
use crate::domain::validate::FieldError;
use crate::hearing::{AdmitError, JoinRefusal, StoreError, TransitionError};
pub use crate::http::conflict::Conflict;
use crate::http::conflict::is_unique_violation;

/// An error answer from the API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No usable credentials (401).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A join token that does not let its holder in (401 when a new link would help, 403
    /// when the holder may not come in, 404 when its hearing is gone); its slug names why.
    #[error(transparent)]
    Join(#[from] JoinRefusal),
    /// Authenticated, but not allowed to do this (403).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The named resource does not exist or is not visible to the caller (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No such route (404).
    #[error("no such endpoint")]
    NoRoute,
    /// The route exists but not with this method (405).
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    /// The request conflicts with the record's current state (409); its slug names how.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// A hearing state change the state machine does not allow (409).
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// A field failed validation (422).
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The body is not valid JSON (400).
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// The JSON does not fit the schema: wrong type, unknown or missing field (422).
    #[error("invalid request body: {0}")]
    Schema(String),
    /// The body is not of the type the endpoint takes, e.g. `application/json` (415).
    #[error("expected a body with Content-Type: {0}")]
    UnsupportedMediaType(&'static str),
    /// A WHIP request refused (RFC 9725): its own status and slug.
    #[error(transparent)]
    Whip(#[from] crate::whip::WhipError),
    /// The body exceeds `server.max_body_bytes` (413).
    #[error("request body too large")]
    PayloadTooLarge,
    /// The request took longer than `server.request_timeout_secs` (408).
    #[error("the request took too long and was abandoned")]
    Timeout,
    /// A plain request to the WebSocket endpoint (426).
    #[error("this endpoint speaks the signaling protocol over WebSocket only (see PROTOCOL.md)")]
    WebSocketRequired,
    /// A `Range` the file cannot satisfy (416); `size` is the file's length in bytes.
    #[error("the range asked for is outside the file ({size} bytes)")]
    RangeNotSatisfiable {
        /// The file's length.
        size: u64,
    },
    /// The server is at a limit for this kind of request; try again shortly (503).
    #[error("{0}")]
    Busy(&'static str),
    /// A database failure (500, cause logged).
    #[error("database failure: {0}")]
    Db(#[from] DbError),
    /// Any other server-side failure (500, cause logged).
    #[error("internal failure: {0}")]
    Internal(String),
}

/// The problem-details body (RFC 9457).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this case, for a person.
    pub detail: String,
    /// For validation problems: the field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    fn status_and_slug(&self) -> (StatusCode, &'static str) {
        use ApiError::*;
        match self {
            Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Join(r) => {
                let status = match r {
                    JoinRefusal::NoSuchHearing => StatusCode::NOT_FOUND,
                    r if r.needs_new_link() => StatusCode::UNAUTHORIZED,
                    _ => StatusCode::FORBIDDEN,
                };
                (status, r.slug())
            }
            IllegalTransition(_) => (StatusCode::CONFLICT, "transition-not-allowed"),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            NotFound(_) | NoRoute => (StatusCode::NOT_FOUND, "not-found"),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed"),
            Conflict(c) => (StatusCode::CONFLICT, c.slug()),
            Field(_) | Schema(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-field"),
            MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed-json"),
            UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type")
            }
            Whip(w) => {
                use crate::whip::WhipError as W;
                match w {
                    W::NotFound => (StatusCode::NOT_FOUND, "not-found"),
                    W::Refused(crate::sfu::sdp_policy::OfferRefusal::Unreadable) => {
                        (StatusCode::BAD_REQUEST, "whip-bad-description")
                    }
                    W::Refused(_) => (StatusCode::FORBIDDEN, "whip-offer-refused"),
                    W::BadDescription(_) => (StatusCode::BAD_REQUEST, "whip-bad-description"),
                    W::PreconditionFailed => {
                        (StatusCode::PRECONDITION_FAILED, "whip-precondition-failed")
                    }
                    W::IceRestart => (StatusCode::UNPROCESSABLE_ENTITY, "whip-ice-restart"),
                    W::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
                    W::HearingOver => (StatusCode::CONFLICT, "hearing-closed"),
                    W::Sfu(_) | W::Plane(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
                }
            }
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large"),
            Timeout => (StatusCode::REQUEST_TIMEOUT, "timeout"),
            Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            WebSocketRequired => (StatusCode::UPGRADE_REQUIRED, "websocket-required"),
            RangeNotSatisfiable { .. } => {
                (StatusCode::RANGE_NOT_SATISFIABLE, "range-not-satisfiable")
            }
            Db(e) if e.is_unavailable() => {
                (StatusCode::SERVICE_UNAVAILABLE, "database-unavailable")
            }
            Db(_) | Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug) = self.status_and_slug();
        let detail = if status == StatusCode::INTERNAL_SERVER_ERROR {
            let reference = uuid::Uuid::new_v4();
            tracing::error!(%reference, error = %self, "request failed");
            format!("the server could not complete the request (reference {reference})")
        } else if slug == "database-unavailable" {
            let reference = uuid::Uuid::new_v4();
            tracing::error!(%reference, error = %self, "request failed: the database is unavailable");
            format!(
                "the server's database is unavailable, so the request may not have been saved: check, then try again shortly (reference {reference})"
            )
        } else {
            self.to_string()
        };
        let field = match &self {
            ApiError::Field(f) => Some(f.field().to_owned()),
            _ => None,
        };
        let body = Problem {
            kind: format!("/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            field,
        };
        let mut res = (status, Json(body)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        match &self {
            // HTTP/2 drops this hop-by-hop header; HTTP/1.1 clients learn what to speak.
            ApiError::WebSocketRequired => {
                res.headers_mut()
                    .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            }
            // RFC 9110 §14.4: a 416 says how long the file is.
            ApiError::RangeNotSatisfiable { size } => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    res.headers_mut().insert(header::CONTENT_RANGE, v);
                }
            }
            _ => {}
        }
        res
    }
}

/// Maps a database error to a 409 when it is a uniqueness violation, else a 500.
pub fn conflict_on_unique(e: sqlx::Error, what: &'static str) -> ApiError {
    if is_unique_violation(&e) {
        return ApiError::Conflict(Conflict::Exists(what));
    }
    ApiError::Db(DbError::Sqlx(e))
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        Self::Join(e.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Db(e) => Self::Db(e),
            StoreError::Corrupt(_) => Self::Internal(e.to_string()),
        }
    }
}

impl From<AdmitError> for ApiError {
    fn from(e: AdmitError) -> Self {
        match e {
            AdmitError::Refused(r) => r.into(),
            AdmitError::Store(e) => e.into(),
        }
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::NotFound => Self::NotFound("hearing"),
            TransitionError::Illegal(i) => i.into(),
            TransitionError::Store(e) => e.into(),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Db(DbError::Sqlx(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn problem(e: ApiError) -> (StatusCode, serde_json::Value) {
        let res = e.into_response();
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .expect("a problem document is small");
        (status, serde_json::from_slice(&body).expect("JSON"))
    }

    #[tokio::test]
    async fn every_join_refusal_is_its_own_problem_type_with_its_message() {
        for r in JoinRefusal::ALL {
            let (status, p) = problem(r.into()).await;
            assert_eq!(p["type"], format!("/problems/{}", r.slug()));
            assert_eq!(p["detail"], r.to_string());
            let want = match r {
                JoinRefusal::NoSuchHearing => StatusCode::NOT_FOUND,
                r if r.needs_new_link() => StatusCode::UNAUTHORIZED,
                _ => StatusCode::FORBIDDEN,
            };
            assert_eq!(status, want, "{r:?}");
        }
    }

    #[tokio::test]
    async fn each_transition_error_answers_as_the_caller_can_act_on_it() {
        use crate::domain::HearingState::{Closed, Open};
        let (status, p) = problem(TransitionError::NotFound.into()).await;
        assert_eq!(
            (status, &p["type"]),
            (StatusCode::NOT_FOUND, &"/problems/not-found".into())
        );
        let illegal = IllegalTransition {
            from: Closed,
            to: Open,
        };
        let (status, p) = problem(TransitionError::Illegal(illegal).into()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(p["type"], "/problems/transition-not-allowed");
        assert_eq!(p["detail"], "a hearing cannot go from closed to open");
        let store = TransitionError::Store(StoreError::Db(DbError::Missing("hearing")));
        let (status, p) = problem(store.into()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !p["detail"].as_str().unwrap_or_default().contains("hearing"),
            "{p}"
        );
    }

    /// One of each conflict.
    fn conflicts() -> [Conflict; 20] {
        [
            Conflict::Exists("a docket"),
            Conflict::HearingClosed,
            Conflict::HearingNotEnded,
            Conflict::NotOverToFinalise,
            Conflict::NothingRecorded,
            Conflict::CompositeRunning,
            Conflict::RecordingClosing,
            Conflict::StaleRevision {
                current: 2,
                asked: 1,
            },
            Conflict::RevisionSigned(1),
            Conflict::RevisionFinalised(1),
            Conflict::LaterRevisionFinalised,
            Conflict::RecordComplete,
            Conflict::AlreadyDecided,
            Conflict::TooManyDevices(32),
            Conflict::HearingNotOpen,
            Conflict::NotPulled,
            Conflict::NotAMediation,
            Conflict::NoSides,
            Conflict::AgreementSigned(1),
            Conflict::LaterDraft,
        ]
    }

    #[tokio::test]
    async fn every_conflict_is_a_409_with_its_slug_and_message() {
        for c in conflicts() {
            let (slug, detail) = (c.slug(), c.to_string());
            let (status, p) = problem(c.into()).await;
            assert_eq!(status, StatusCode::CONFLICT);
            assert_eq!(p["type"], format!("/problems/{slug}"));
            assert_eq!(p["detail"], detail);
        }
    }

    #[test]
    fn the_web_client_has_words_for_every_refusal_in_both_languages() {
        let strings = include_str!("../../web-client/js/strings.js");
        let zh = strings.find("\"zh-CN\": {").expect("the Chinese table");
        let (en, zh) = strings.split_at(zh);
        let slugs = JoinRefusal::ALL
            .iter()
            .map(|r| r.slug())
            .chain(conflicts().into_iter().map(|c| c.slug()))
            .chain(["transition-not-allowed", "database-unavailable"]);
        for slug in slugs {
            let key = format!("problem_{}:", slug.replace('-', "_"));
            assert!(en.contains(&key), "no English words for {slug}");
            assert!(zh.contains(&key), "no Chinese words for {slug}");
        }
    }
}
