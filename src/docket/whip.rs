//! WHIP (RFC 9725) over HTTP: an encoder publishes into a hearing as the participant its join
//! token names, or as the WHIP device its device key belongs to (a courtroom's encoder, in the
//! `courtroom` role, while the hearing is open). `POST` an SDP offer (`application/sdp`) → `201 Created` with the answer, the
//! session's `Location` and `ETag`; `PATCH` it with trickled candidates
//! (`application/trickle-ice-sdpfrag`, `If-Match` checked) → `204`; `DELETE` it → `200`, and the
//! participant leaves the room. Responses carry CORS headers (exposing `Location`, `Link` and
//! `ETag`) so a browser-based encoder can use them; `OPTIONS` answers preflights without a token.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::domain::Role;
use crate::engine::Arrival;
use crate::hearing::Admitted;
use crate::hearing::admit::Purpose;
use crate::http::AppState;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiPath, DeviceIdentity, DeviceKey, Joiner, Platform};

pub(super) const SDP: &str = "application/sdp";
const SDPFRAG: &str = "application/trickle-ice-sdpfrag";

/// Whether the request's body is of `mime` (parameters aside).
pub(super) fn body_is(headers: &HeaderMap, mime: &'static str) -> Result<(), ApiError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if given.is_some_and(|g| g.eq_ignore_ascii_case(mime)) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(mime))
    }
}

/// CORS for WHIP clients in browsers: any origin (the bearer token is the credential, never a
/// cookie), and the headers a client must read.
pub(super) fn cors(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Location, Link, ETag"),
    );
}

/// Errors, with CORS too (a browser client must be able to read why it was refused).
pub(super) fn refused(e: ApiError) -> Response {
    let mut res = e.into_response();
    cors(&mut res);
    res
}

/// Publish into a hearing over WHIP: the SDP offer in, the answer out.
#[utoipa::path(post, path = "/hearings/{hearing_id}/whip", tag = "whip",
    request_body(content = String, content_type = "application/sdp"),
    security(("join_token" = []), ("device_key" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 201, body = String, content_type = "application/sdp",
            headers(("Location" = String, description = "The session's URL (PATCH, DELETE)"),
                ("ETag" = String, description = "The session's version, for If-Match"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 415, body = Problem), (status = 503, body = Problem)))]
pub(super) async fn publish(
    State(st): State<AppState>,
    joiner: Result<Joiner, ApiError>,
    device: Result<DeviceKey, ApiError>,
    ApiPath(hearing_id): ApiPath<String>,
    headers: HeaderMap,
    offer: String,
) -> Response {
    let result = async {
        let hearing_id = super::path_id(&hearing_id, "hearing")?;
        let (who, kind) = match device? {
            DeviceKey(Some(d)) => device_arrival(&st, d, &hearing_id).await?,
            DeviceKey(None) => {
                let Joiner(claims) = joiner?;
                let Admitted {
                    hearing,
                    display_name,
                } = crate::hearing::admit::admit(&st.db, &claims, &hearing_id, Purpose::Join)
                    .await?;
                let who = Arrival {
                    id: claims.sub.as_str().into(),
                    name: display_name,
                    role: claims.role,
                };
                (who, hearing.kind)
            }
        };
        body_is(&headers, SDP)?;
        let is_device = who.role == Role::Courtroom;
        let publisher = who.id.clone();
        let created = st.whip.publish(&hearing_id, kind, who, offer).await?;
        // A device removed while its session was being set up: its removal found no session
        // to end, so this one ends now.
        if is_device {
            let still: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM devices WHERE id = $1 AND removed_at IS NULL",
            )
            .bind(publisher.as_str())
            .fetch_one(st.db.pool())
            .await?;
            if still == 0 {
                let _ = st.whip.end(&hearing_id, &created.id, publisher.as_str());
                return Err(ApiError::Unauthorized("unknown or removed device key"));
            }
        }
        Ok::<_, ApiError>((hearing_id, created))
    }
    .await;
    let (hearing_id, created) = match result {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    let location = format!("/api/v1/hearings/{hearing_id}/whip/{}", created.id);
    created_response(location, created)
}

/// A WHIP device publishing into `hearing_id`: itself, in the `courtroom` role, while its
/// hearing is open (as a pulled device is in the room only then).
async fn device_arrival(
    st: &AppState,
    d: DeviceIdentity,
    hearing_id: &str,
) -> Result<(Arrival, crate::domain::HearingKind), ApiError> {
    use crate::domain::HearingState;
    if d.hearing_id != hearing_id {
        return Err(ApiError::Forbidden(
            "this device key is for another hearing",
        ));
    }
    let hearing = super::rows::load_hearing(st.db.pool(), hearing_id).await?;
    match hearing.state {
        HearingState::Open | HearingState::InSession | HearingState::Recess => {}
        HearingState::Closed => return Err(crate::http::error::Conflict::HearingClosed.into()),
        HearingState::Scheduled => {
            return Err(crate::http::error::Conflict::HearingNotOpen.into());
        }
    }
    let who = Arrival {
        id: d.id.as_str().into(),
        name: d.name,
        role: Role::Courtroom,
    };
    Ok((who, hearing.kind))
}

/// `201 Created`: the answer, the session's `Location` and `ETag`.
pub(super) fn created_response(location: String, created: crate::whip::Created) -> Response {
    let mut res = (StatusCode::CREATED, Body::from(created.answer)).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(SDP));
    for (name, value) in [(header::LOCATION, location), (header::ETAG, created.etag)] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    cors(&mut res);
    res
}

/// Who may trickle into and end a session: the participant it is for, or the platform (for
/// its own WHEP viewers).
pub(super) fn caller(
    platform: Result<Platform, ApiError>,
    joiner: Result<Joiner, ApiError>,
    device: Result<DeviceKey, ApiError>,
) -> Result<String, ApiError> {
    match (platform, joiner, device?) {
        (_, _, DeviceKey(Some(d))) => Ok(d.id),
        (Ok(_), _, _) => Ok("platform".to_owned()),
        (Err(_), Ok(Joiner(claims)), _) => Ok(claims.sub),
        (Err(e), Err(_), _) => Err(e),
    }
}

/// Trickles candidates into session `session_id` (WHIP or WHEP).
pub(super) async fn trickle_into(
    st: &AppState,
    who: Result<String, ApiError>,
    (hearing_id, session_id): (String, String),
    headers: &HeaderMap,
    fragment: &str,
) -> Response {
    let result = async {
        let who = who?;
        body_is(headers, SDPFRAG)?;
        let if_match = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok());
        st.whip
            .trickle(&hearing_id, &session_id, &who, if_match, fragment)
            .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    match result {
        Ok(()) => {
            let mut res = StatusCode::NO_CONTENT.into_response();
            cors(&mut res);
            res
        }
        Err(e) => refused(e),
    }
}

/// Ends session `session_id` (WHIP or WHEP).
pub(super) fn end_of(
    st: &AppState,
    who: Result<String, ApiError>,
    (hearing_id, session_id): (String, String),
) -> Response {
    let result = who.and_then(|who| Ok(st.whip.end(&hearing_id, &session_id, &who)?));
    match result {
        Ok(()) => {
            let mut res = StatusCode::OK.into_response();
            cors(&mut res);
            res
        }
        Err(e) => refused(e),
    }
}

/// Trickle the encoder's ICE candidates into its WHIP session.
#[utoipa::path(patch, path = "/hearings/{hearing_id}/whip/{session_id}", tag = "whip",
    request_body(content = String, content_type = "application/trickle-ice-sdpfrag"),
    security(("join_token" = []), ("device_key" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("session_id" = String, Path, description = "WHIP session id")),
    responses((status = 204), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn trickle(
    State(st): State<AppState>,
    platform: Result<Platform, ApiError>,
    joiner: Result<Joiner, ApiError>,
    device: Result<DeviceKey, ApiError>,
    ApiPath(ids): ApiPath<(String, String)>,
    headers: HeaderMap,
    fragment: String,
) -> Response {
    trickle_into(
        &st,
        caller(platform, joiner, device),
        ids,
        &headers,
        &fragment,
    )
    .await
}

/// End a WHIP session: the encoder's participant leaves the hearing's room.
#[utoipa::path(delete, path = "/hearings/{hearing_id}/whip/{session_id}", tag = "whip",
    security(("join_token" = []), ("device_key" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("session_id" = String, Path, description = "WHIP session id")),
    responses((status = 200), (status = 404, body = Problem)))]
pub(super) async fn end(
    State(st): State<AppState>,
    platform: Result<Platform, ApiError>,
    joiner: Result<Joiner, ApiError>,
    device: Result<DeviceKey, ApiError>,
    ApiPath(ids): ApiPath<(String, String)>,
) -> Response {
    end_of(&st, caller(platform, joiner, device), ids)
}

/// CORS preflight for WHIP's endpoints (no token needed): what a browser client may send.
pub(super) async fn preflight() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    cors(&mut res);
    let h = res.headers_mut();
    for (name, value) in [
        (
            header::ACCESS_CONTROL_ALLOW_METHODS,
            "POST, PATCH, DELETE, OPTIONS",
        ),
        (
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "Authorization, Content-Type, If-Match",
        ),
        (header::ACCESS_CONTROL_MAX_AGE, "86400"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.insert("accept-post", HeaderValue::from_static(SDP));
    res
}
