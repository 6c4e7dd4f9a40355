//! The network test of the pre-join check (Art. 22): round trip, download and upload
//! throughput, and whether UDP media reaches the server. Authenticated by the participant's
//! join token like `session`; every size is bounded, and UDP probes are few at a time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::hearing::admit::Purpose;
use crate::http::AppState;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Joiner};
use crate::sfu::probe::Probe;

/// Largest download or upload of one test.
const MAX_BYTES: usize = 2 * 1024 * 1024;
/// Longest session description accepted for a UDP probe.
const MAX_SDP: usize = 16 * 1024;
/// UDP probes alive at once, server-wide (each holds a socket for [`PROBE_LIFETIME`]).
const MAX_PROBES: usize = 32;
/// How long a probe connection lives.
const PROBE_LIFETIME: Duration = Duration::from_secs(15);

/// Probes one participant may hold at once (a page runs one).
const MAX_PROBES_EACH: usize = 2;

static PROBES: AtomicUsize = AtomicUsize::new(0);
static PROBES_BY: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, usize>>> =
    std::sync::LazyLock::new(Default::default);

/// A held probe slot (server-wide and per participant), given back when dropped.
struct ProbeSlot(String);

impl ProbeSlot {
    fn take(participant: &str) -> Option<Self> {
        let mut by = PROBES_BY
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mine = by.get(participant).copied().unwrap_or(0);
        if mine >= MAX_PROBES_EACH || PROBES.load(Ordering::Relaxed) >= MAX_PROBES {
            return None;
        }
        by.insert(participant.to_owned(), mine + 1);
        PROBES.fetch_add(1, Ordering::Relaxed);
        Some(Self(participant.to_owned()))
    }
}

impl Drop for ProbeSlot {
    fn drop(&mut self) {
        let mut by = PROBES_BY
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = by.get_mut(&self.0) {
            *n -= 1;
            if *n == 0 {
                by.remove(&self.0);
            }
        }
        PROBES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How much to download.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct DownloadQuery {
    /// Bytes, at most 2 MiB.
    bytes: usize,
}

/// What the server received.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct UploadResult {
    /// Bytes received.
    bytes: usize,
}

/// A session description for the UDP probe.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UdpProbe {
    /// The SDP (the client's data-channel offer, or the server's answer with its candidates).
    sdp: String,
}

async fn authorize(
    st: &AppState,
    claims: &crate::auth::jwt::JoinClaims,
    raw: &str,
) -> Result<(), ApiError> {
    let id = super::path_id(raw, "hearing")?;
    crate::hearing::admit::admit(&st.db, claims, &id, Purpose::Join).await?;
    Ok(())
}

/// Download test: `bytes` of filler that does not compress, never cached.
#[utoipa::path(get, path = "/hearings/{hearing_id}/network-test", tag = "join",
    security(("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"), DownloadQuery),
    responses((status = 200, description = "the bytes"), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn download(
    State(st): State<AppState>,
    Joiner(claims): Joiner,
    ApiPath(hearing_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DownloadQuery>,
) -> Result<Response, ApiError> {
    authorize(&st, &claims, &hearing_id).await?;
    if q.bytes == 0 || q.bytes > MAX_BYTES {
        return Err(crate::domain::validate::FieldError::Invalid {
            field: "bytes",
            expected: "must be 1 to 2097152",
        }
        .into());
    }
    // xorshift: cheap, and no compressor in the path can shrink it.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let body: Vec<u8> = (0..q.bytes)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect();
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// Upload test: counts the body (at most 2 MiB).
#[utoipa::path(post, path = "/hearings/{hearing_id}/network-test", tag = "join",
    security(("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 200, body = UploadResult), (status = 401, body = Problem), (status = 413, body = Problem)))]
pub(super) async fn upload(
    State(st): State<AppState>,
    Joiner(claims): Joiner,
    ApiPath(hearing_id): ApiPath<String>,
    body: Body,
) -> Result<Json<UploadResult>, ApiError> {
    authorize(&st, &claims, &hearing_id).await?;
    // Bounded: more than MAX_BYTES is refused, not buffered.
    let bytes = axum::body::to_bytes(body, MAX_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?
        .len();
    Ok(Json(UploadResult { bytes }))
}

/// UDP test: answers the client's data-channel offer with a connection that lives 15 s; the
/// client sees it connect when UDP media can reach the server.
#[utoipa::path(post, path = "/hearings/{hearing_id}/network-test/udp", tag = "join",
    security(("join_token" = [])), request_body = UdpProbe,
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 200, body = UdpProbe), (status = 401, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub(super) async fn udp(
    State(st): State<AppState>,
    Joiner(claims): Joiner,
    ApiPath(hearing_id): ApiPath<String>,
    ApiJson(probe): ApiJson<UdpProbe>,
) -> Result<Json<UdpProbe>, ApiError> {
    authorize(&st, &claims, &hearing_id).await?;
    if probe.sdp.is_empty() || probe.sdp.len() > MAX_SDP {
        return Err(crate::domain::validate::FieldError::Invalid {
            field: "sdp",
            expected: "must be 1 to 16384 bytes",
        }
        .into());
    }
    let Some(slot) = ProbeSlot::take(&claims.sub) else {
        return Err(ApiError::Busy(
            "too many network tests at once; try again in a few seconds",
        ));
    };
    let answered = Probe::answer(&st.sfu, probe.sdp).await;
    match answered {
        Ok((probe, sdp)) => {
            let span = tracing::info_span!("network-test", participant = %claims.sub);
            tokio::spawn(tracing::Instrument::instrument(
                async move {
                    probe.hold(PROBE_LIFETIME).await;
                    drop(slot);
                },
                span,
            ));
            Ok(Json(UdpProbe { sdp }))
        }
        Err(e) => {
            drop(slot);
            Err(crate::domain::validate::FieldError::Invalid {
                field: "sdp",
                expected: leak(e),
            }
            .into())
        }
    }
}

/// Field errors carry static text; the cause is logged instead.
fn leak(e: crate::sfu::SfuError) -> &'static str {
    tracing::info!(error = %e, "network test offer refused");
    "is not a usable data-channel offer"
}
