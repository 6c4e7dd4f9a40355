//! One courtroom device in its hearing's room: it takes its place, then pulls the device's
//! stream again and again for as long as it is wanted. Each round probes what the device sends
//! (so each part takes the path the stream itself calls for), starts the ingest, publishes its
//! tracks into the room and pumps packets until the stream fails; then the tracks end, and the
//! next round follows after a backoff. The device's status in the record says how the last
//! attempt went; the first failure of an outage is a fault record (never the credentials), and
//! the judge and clerk hear of every drop and return.

use std::sync::Arc;
use std::time::Duration;

use gavel_media_pipelines::ingest::{Ingest, Path, Plan};
use gavel_media_pipelines::rtsp::{Probed, RtspError, RtspSource, RtspTransport, probe};
use sqlx::Row;
use sqlx::any::AnyRow;
use tokio_util::sync::CancellationToken;

use super::pump::{Pumped, Stopped, Tracks, pump};
use crate::db::Db;
use crate::domain::device::{MediaPath, Transport, audio_path, retry_after, video_path};
use crate::domain::{HearingKind, ParticipantId, Role, TrackKey};
use crate::engine::{Arrival, Input};
use crate::fault::Component;
use crate::rooms::{MediaEvent, Rooms, Seat};
use crate::sfu::codec::MediaCodec;
use crate::sfu::track::PublishedTrack;

/// How long a probe may look at the stream.
const PROBE_WITHIN: Duration = Duration::from_secs(10);

/// How long a started ingest may take to hand over its first packet.
const FIRST_PACKET_WITHIN: Duration = Duration::from_secs(5);

/// A registered device, as the server pulls it.
#[derive(Debug, Clone)]
pub(super) struct Device {
    pub(super) id: String,
    pub(super) hearing: String,
    pub(super) kind: HearingKind,
    pub(super) name: String,
    pub(super) source: RtspSource,
}

impl Device {
    pub(super) fn from_row(
        r: &AnyRow,
        hearing: &str,
        kind: HearingKind,
    ) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: r.try_get("id")?,
            hearing: hearing.to_owned(),
            kind,
            name: r.try_get("name")?,
            source: rtsp_source(r)?,
        })
    }

    /// The device's name and URL, as a fault record names it (never its credentials).
    fn named(&self) -> String {
        format!("courtroom device {} ({})", self.name, self.source.url)
    }
}

/// The task of one device.
pub(super) struct DeviceTask {
    pub(super) db: Db,
    pub(super) rooms: Arc<Rooms>,
    /// Fires when the device is no longer wanted (and when the server shuts down).
    pub(super) cancel: CancellationToken,
    /// Fires when the server shuts down.
    pub(super) shutdown: CancellationToken,
    pub(super) device: Device,
}

/// How the last round went, to tell only changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Not yet pulled.
    Never,
    /// Sending.
    Up,
    /// Down since the last round (the fault is on record).
    Down,
}

impl DeviceTask {
    /// Runs until the device is no longer wanted, the room ends its place (the judge removed
    /// it) or the room retires (the hearing is over).
    pub(super) async fn run(self) {
        let d = &self.device;
        let who = Arrival {
            id: ParticipantId::from(d.id.as_str()),
            name: d.name.clone(),
            role: Role::Courtroom,
        };
        let seat = self.rooms.seat(&d.hearing, d.kind, who).await;
        tracing::info!("courtroom device in the hearing");
        // Every way the device's work ends, in one token the rounds watch (a round is never
        // dropped half-way: it always ends its tracks and its pipeline).
        let stop = self.cancel.child_token();
        let watcher = {
            let (stop, seat) = (stop.clone(), seat.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = seat.retired() => {}
                    () = seat.ended() => {}
                    () = stop.cancelled() => {}
                }
                stop.cancel();
            })
        };
        let mut link = Link::Never;
        let mut failures = 0u32;
        while !stop.is_cancelled() {
            let wait = match self.round(&seat, &mut link, &stop).await {
                Stopped::Cancelled => break,
                // It ran: try again at once (a blink), then back off.
                Stopped::Dropped(_) => {
                    failures = 0;
                    retry_after(0)
                }
                Stopped::Lost(_) => {
                    failures = failures.saturating_add(1);
                    retry_after(failures)
                }
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        watcher.abort();
        // Told the room only when the platform took the device away (or the hearing left its
        // live states); not when the server stops or the room itself ended the place.
        if self.cancel.is_cancelled() && !self.shutdown.is_cancelled() {
            seat.tell(Input::Revoked {
                participant: ParticipantId::from(d.id.as_str()),
            })
            .await;
        }
        tracing::info!("courtroom device left the hearing");
    }

    /// One attempt: probe, ingest, first packet, publish, pump. Returns why it ended.
    async fn round(&self, seat: &Seat, link: &mut Link, stop: &CancellationToken) -> Stopped {
        let d = &self.device;
        let src = d.source.clone();
        let probed = tokio::task::spawn_blocking(move || probe(&src, PROBE_WITHIN))
            .await
            .unwrap_or_else(|e| Err(RtspError::Gst(e.to_string())));
        if stop.is_cancelled() {
            return Stopped::Cancelled;
        }
        let probed = match probed {
            Ok(p) => p,
            Err(e) => return self.failed(seat, link, &e.to_string(), status_of(&e)).await,
        };
        let plan = plan(&probed);
        if plan.video.is_none() && plan.audio.is_none() {
            return self
                .failed(seat, link, "it sends nothing Gavel takes", "no-media")
                .await;
        }
        tracing::info!(video = ?plan.video, audio = ?plan.audio, "courtroom device: paths");
        let source = d.source.clone();
        // GStreamer's state changes block: off the async threads, as is the wait for the first
        // packet (a pipeline that starts but sends nothing is not a device in the hearing).
        let started = tokio::task::spawn_blocking(move || {
            let (ingest, rx) = Ingest::start(&source, plan)?;
            let first = rx.recv_timeout(FIRST_PACKET_WITHIN).ok();
            Ok::<_, RtspError>((ingest, rx, first))
        })
        .await
        .unwrap_or_else(|e| Err(RtspError::Gst(e.to_string())));
        let (ingest, rx, first) = match started {
            Ok((ingest, rx, Some(first))) => (ingest, rx, first),
            Ok((ingest, _, None)) => {
                let _ = tokio::task::spawn_blocking(move || drop(ingest)).await;
                return self
                    .failed(seat, link, "no media arrived", "no-media")
                    .await;
            }
            Err(e) => return self.failed(seat, link, &e.to_string(), status_of(&e)).await,
        };
        let publisher = ParticipantId::from(d.id.as_str());
        let track = |media: MediaCodec, key: &str| {
            Arc::new(
                PublishedTrack::from_device(
                    publisher.clone(),
                    TrackKey::new(format!("{}-{key}-{}", d.id, next_round())),
                    media,
                )
                // The ingest makes a baseline rendition of a main or high profile camera.
                .with_rendition(media.fallback()),
            )
        };
        let tracks = Tracks {
            video: plan.video.map(|_| track(video_codec(&probed), "video")),
            audio: plan.audio.map(|_| track(MediaCodec::Opus, "audio")),
        };
        for t in tracks.video.iter().chain(tracks.audio.iter()) {
            seat.link.send_media(MediaEvent::Published(t.clone())).await;
        }
        self.store_status("ok").await;
        // The first time, the judge sees it come in; after a loss it is announced back once it
        // has sent steadily (a camera that fails again at once is not announced back and
        // forth).
        if *link == Link::Never {
            *link = Link::Up;
        }
        let was_down = *link == Link::Down;
        let steady = {
            let (seat, rt) = (seat.clone(), tokio::runtime::Handle::current());
            let publisher = publisher.clone();
            move || {
                if was_down {
                    rt.block_on(seat.tell(Input::DeviceLink {
                        participant: publisher,
                        up: true,
                    }));
                }
            }
        };
        let stop_pump = stop.clone();
        let rt = tokio::runtime::Handle::current();
        let (tracks, end) = tokio::task::spawn_blocking(move || {
            let end = pump(&ingest, &rx, first, &tracks, &stop_pump, &rt, steady);
            drop(ingest);
            (tracks, end)
        })
        .await
        .unwrap_or_else(|e| {
            let none = Tracks {
                video: None,
                audio: None,
            };
            let end = Pumped {
                stopped: Stopped::Lost(format!("the pump stopped: {e}")),
                steady: false,
            };
            (none, end)
        });
        for t in tracks.video.into_iter().chain(tracks.audio) {
            t.end();
            seat.link.send_media(MediaEvent::Unpublished(t)).await;
        }
        if end.steady {
            *link = Link::Up;
        }
        match end.stopped {
            // The judge knew it was in: told it is gone.
            Stopped::Lost(why) if *link == Link::Up => {
                tracing::warn!(why, "courtroom device lost; pulling it again");
                *link = Link::Down;
                seat.tell(Input::DeviceLink {
                    participant: publisher,
                    up: false,
                })
                .await;
                let detail = format!("{} stopped sending: {why}", d.named());
                crate::fault::report(&self.db, Some(&d.hearing), Component::Device, &detail).await;
                self.store_status("unreachable").await;
                if end.steady {
                    Stopped::Dropped(why)
                } else {
                    Stopped::Lost(why)
                }
            }
            Stopped::Lost(why) => self.failed(seat, link, &why, "unreachable").await,
            other => other,
        }
    }

    /// An attempt that did not get the stream: its status, and (first of an outage) a fault
    /// record; a device that was sending is told lost.
    async fn failed(&self, seat: &Seat, link: &mut Link, why: &str, status: &str) -> Stopped {
        let d = &self.device;
        if *link != Link::Down {
            tracing::warn!(why, status, "courtroom device could not be pulled");
            let detail = format!("{}: {why}", d.named());
            crate::fault::report(&self.db, Some(&d.hearing), Component::Device, &detail).await;
            if *link == Link::Up {
                seat.tell(Input::DeviceLink {
                    participant: ParticipantId::from(d.id.as_str()),
                    up: false,
                })
                .await;
            }
            *link = Link::Down;
        }
        self.store_status(status).await;
        Stopped::Lost(why.to_owned())
    }

    /// Records how the last attempt went (the API shows it as the device's `status`).
    async fn store_status(&self, status: &str) {
        let result = sqlx::query(
            "UPDATE devices SET status = $1, checked_at = $2 WHERE id = $3 AND removed_at IS NULL",
        )
        .bind(status)
        .bind(crate::clock::now_ms())
        .bind(&self.device.id)
        .execute(self.db.pool())
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "a device's status could not be stored");
        }
    }
}

/// Where and how to pull a registered device, from its row (`url`, `username`, `password`,
/// `transport`, `tls_pin`): for the device's task and for a check through the case API alike.
pub fn rtsp_source(r: &AnyRow) -> Result<RtspSource, sqlx::Error> {
    let transport: String = r.try_get("transport")?;
    Ok(RtspSource {
        url: r.try_get("url")?,
        user: r.try_get("username")?,
        password: r.try_get("password")?,
        transport: match Transport::parse(&transport) {
            Some(Transport::Udp) => RtspTransport::Udp,
            _ => RtspTransport::Tcp,
        },
        tls_pin: r.try_get("tls_pin")?,
        tls_ca: r.try_get("tls_ca")?,
    })
}

/// The status an attempt's error gives the device (the API shows it).
pub fn status_of(e: &RtspError) -> &'static str {
    match e {
        RtspError::Unauthorized => "unauthorized",
        RtspError::NoMedia => "no-media",
        RtspError::CertificateRefused => "untrusted",
        _ => "unreachable",
    }
}

/// What the ingest does with each part, from what the probe found.
fn plan(p: &Probed) -> Plan {
    let path = |m: MediaPath| match m {
        MediaPath::PassThrough => Path::PassThrough,
        MediaPath::Transcode => Path::Transcode,
    };
    let video = video_codec(p);
    Plan {
        video: p
            .video
            .as_ref()
            .map(|v| path(video_path(&v.encoding, v.profile.as_deref(), v.b_frames))),
        audio: p.audio.as_deref().map(|a| path(audio_path(a))),
        video_pt: video.payload_type(),
        audio_pt: MediaCodec::Opus.payload_type(),
        fallback_pt: video.fallback().map(MediaCodec::payload_type),
    }
}

/// The codec of the device's video in the hearing: its own H.264 profile when it passes
/// through, else constrained baseline (what the transcoder makes).
fn video_codec(p: &Probed) -> MediaCodec {
    p.video
        .as_ref()
        .filter(|v| {
            video_path(&v.encoding, v.profile.as_deref(), v.b_frames) == MediaPath::PassThrough
        })
        .and_then(|v| v.profile.as_deref())
        .and_then(MediaCodec::h264_profile)
        .unwrap_or(MediaCodec::H264)
}

/// A number per round, so each round's tracks have keys of their own.
fn next_round() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
