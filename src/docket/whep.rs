//! WHEP (playback) over HTTP: a viewer outside the room (a monitoring wall, the platform's
//! gallery) pulls one participant, or the hearing's main view, with a receive-only offer;
//! the session's shape is WHIP's (`PATCH` trickles, `DELETE` ends; see `super::whip`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::whip::{SDP, body_is, caller, created_response, end_of, refused, trickle_into};
use crate::audit::{self, AuditAction};
use crate::auth::Actor;
use crate::domain::{ParticipantId, Role};
use crate::hearing::Admitted;
use crate::hearing::admit::Purpose;
use crate::http::AppState;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiPath, DeviceKey, Joiner, Platform};
use crate::sfu::codec::MediaCodec;

/// Roles whose join token may watch over WHEP: those who run the hearing (a monitoring wall).
/// Anyone else would see the hearing without the court's say: a sequestered witness, a party
/// still in the lobby.
const MAY_VIEW: [Role; 3] = [Role::Judge, Role::Clerk, Role::Mediator];

/// Watch one participant of a hearing over WHEP: a receive-only SDP offer in, the answer out.
/// The viewer sees what an observer in the hearing itself would: the participant's camera and
/// microphone while they are in the hearing (not the lobby, a caucus or sequestration) and not
/// muted by the court.
#[utoipa::path(post, path = "/hearings/{hearing_id}/participants/{participant_id}/whep",
    tag = "whip", request_body(content = String, content_type = "application/sdp"),
    security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("participant_id" = String, Path, description = "Whom to watch (a participant or a courtroom device)")),
    responses((status = 201, body = String, content_type = "application/sdp",
            headers(("Location" = String, description = "The session's URL (PATCH, DELETE)"),
                ("ETag" = String, description = "The session's version, for If-Match"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 415, body = Problem), (status = 503, body = Problem)))]
pub(super) async fn play(
    State(st): State<AppState>,
    platform: Result<Platform, ApiError>,
    joiner: Result<Joiner, ApiError>,
    ApiPath((hearing_id, participant_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    offer: String,
) -> Response {
    let target = match super::path_id(&participant_id, "participant") {
        Ok(t) => t,
        Err(e) => return refused(e),
    };
    Watch {
        st,
        platform,
        joiner,
        hearing_id,
        target: Some(target),
        headers,
        offer,
    }
    .run()
    .await
}

/// Watch a hearing's main view over WHEP: everyone an observer in the hearing would see, in a
/// grid, and everyone they would hear, mixed (VP8 and Opus, made once for all its viewers while
/// any watch). Nothing of the lobby, a caucus or a sequestered witness; nothing the court muted.
#[utoipa::path(post, path = "/hearings/{hearing_id}/whep", tag = "whip",
    request_body(content = String, content_type = "application/sdp"),
    security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 201, body = String, content_type = "application/sdp",
            headers(("Location" = String, description = "The session's URL (PATCH, DELETE)"),
                ("ETag" = String, description = "The session's version, for If-Match"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem),
        (status = 503, body = Problem)))]
pub(super) async fn play_main(
    State(st): State<AppState>,
    platform: Result<Platform, ApiError>,
    joiner: Result<Joiner, ApiError>,
    ApiPath(hearing_id): ApiPath<String>,
    headers: HeaderMap,
    offer: String,
) -> Response {
    Watch {
        st,
        platform,
        joiner,
        hearing_id,
        target: None,
        headers,
        offer,
    }
    .run()
    .await
}

/// A WHEP request: who asks, to watch whom (`target`: a participant or device; none: the main
/// view), with what offer.
struct Watch {
    st: AppState,
    platform: Result<Platform, ApiError>,
    joiner: Result<Joiner, ApiError>,
    hearing_id: String,
    target: Option<String>,
    headers: HeaderMap,
    offer: String,
}

impl Watch {
    /// Starts the session. The set-up runs to its end even if the viewer hangs up half-way
    /// (the request's future is dropped): one cut short between putting the viewer in the
    /// room and registering its session would leave its outlets in the room, and one cut
    /// between the session and its audit record would leave a playback off the record. A
    /// session nobody answers ends by itself.
    async fn run(self) -> Response {
        match tokio::spawn(self.set_up()).await {
            Ok(response) => response,
            Err(e) => refused(ApiError::Internal(format!("the WHEP set-up failed: {e}"))),
        }
    }

    async fn set_up(self) -> Response {
        let Self {
            st,
            platform,
            joiner,
            hearing_id,
            target,
            headers,
            offer,
        } = self;
        let st = &st;
        let headers = &headers;
        let result = async {
            let hearing_id = super::path_id(&hearing_id, "hearing")?;
            body_is(headers, SDP)?;
            let (viewer, actor, hearing) = match (platform, joiner) {
                (Ok(Platform(key)), _) => {
                    let hearing = super::rows::load_hearing(st.db.pool(), &hearing_id).await?;
                    (ParticipantId::from("platform"), key.actor(), hearing)
                }
                (Err(_), Ok(Joiner(claims))) => {
                    if !MAY_VIEW.contains(&claims.role) {
                        return Err(ApiError::Forbidden("this role may not watch over WHEP"));
                    }
                    let Admitted { hearing, .. } =
                        crate::hearing::admit::admit(&st.db, &claims, &hearing_id, Purpose::Join)
                            .await?;
                    let id = ParticipantId::from(claims.sub.as_str());
                    (id.clone(), Actor::Participant { id }, hearing)
                }
                (Err(e), Err(_)) => return Err(e),
            };
            if hearing.state == crate::domain::HearingState::Closed {
                return Err(crate::http::error::Conflict::HearingClosed.into());
            }
            let video = match &target {
                Some(target) => camera_codec(st, &hearing_id, target).await?,
                None => MediaCodec::Vp8,
            };
            let viewer_key = viewer.clone();
            let created = st
                .whip
                .play(
                    &hearing_id,
                    hearing.kind,
                    target.as_deref().map(ParticipantId::from),
                    video,
                    viewer,
                    offer,
                )
                .await?;
            let watched = match &target {
                Some(t) => format!("participant:{t}"),
                None => format!("hearing:{hearing_id}"),
            };
            let audited = async {
                let mut w = st.db.begin_write().await?;
                audit::append(
                &mut w.tx,
                crate::clock::now_ms(),
                &actor,
                AuditAction::PlaybackStart,
                &watched,
                serde_json::json!({
                    "hearing_id": hearing_id, "session": created.id, "main_view": target.is_none(),
                }),
            )
            .await?;
                w.commit().await
            }
            .await;
            if let Err(e) = audited {
                // No playback off the record.
                let _ = st.whip.end(&hearing_id, &created.id, viewer_key.as_str());
                return Err(e.into());
            }
            Ok::<_, ApiError>((hearing_id, created))
        }
        .await;
        match result {
            Ok((hearing_id, created)) => {
                let location = format!("/api/v1/hearings/{hearing_id}/whep/{}", created.id);
                created_response(location, created)
            }
            Err(e) => refused(e),
        }
    }
}

/// The codec `target`'s camera reaches a viewer in: a pulled courtroom device's is H.264 (its
/// own, or the baseline rendition of it); a person's, as the web client sends it, and a WHIP
/// device's are VP8 (an encoder sending H.264 is not shown over WHEP yet).
async fn camera_codec(
    st: &AppState,
    hearing_id: &str,
    target: &str,
) -> Result<MediaCodec, ApiError> {
    let known: Option<String> = sqlx::query_scalar(
        "SELECT 'person' FROM participants WHERE id = $1 AND hearing_id = $2 \
         AND revoked_at IS NULL UNION ALL SELECT kind FROM devices WHERE id = $1 \
         AND hearing_id = $2 AND removed_at IS NULL",
    )
    .bind(target)
    .bind(hearing_id)
    .fetch_optional(st.db.pool())
    .await?;
    match known.as_deref() {
        Some("rtsp") => Ok(MediaCodec::H264),
        Some(_) => Ok(MediaCodec::Vp8),
        None => Err(ApiError::NotFound("participant")),
    }
}

/// Trickle the viewer's ICE candidates into its WHEP session.
#[utoipa::path(patch, path = "/hearings/{hearing_id}/whep/{session_id}", tag = "whip",
    request_body(content = String, content_type = "application/trickle-ice-sdpfrag"),
    security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("session_id" = String, Path, description = "WHEP session id")),
    responses((status = 204), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn whep_trickle(
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

/// End a WHEP session.
#[utoipa::path(delete, path = "/hearings/{hearing_id}/whep/{session_id}", tag = "whip",
    security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("session_id" = String, Path, description = "WHEP session id")),
    responses((status = 200), (status = 404, body = Problem)))]
pub(super) async fn whep_end(
    State(st): State<AppState>,
    platform: Result<Platform, ApiError>,
    joiner: Result<Joiner, ApiError>,
    device: Result<DeviceKey, ApiError>,
    ApiPath(ids): ApiPath<(String, String)>,
) -> Response {
    end_of(&st, caller(platform, joiner, device), ids)
}
