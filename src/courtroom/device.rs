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

use super::pump::{Stopped, Tracks, pump};
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
        let transport: String = r.try_get("transport")?;
        Ok(Self {
            id: r.try_get("id")?,
            hearing: hearing.to_owned(),
            kind,
            name: r.try_get("name")?,
            source: RtspSource {
                url: r.try_get("url")?,
                user: r.try_get("username")?,
                password: r.try_get("password")?,
                transport: match Transport::parse(&transport) {
                    Some(Transport::Udp) => RtspTransport::Udp,
                    _ => RtspTransport::Tcp,
                },
                tls_pin: r.try_get("tls_pin")?,
            },
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
    /// Runs until the device is no longer wanted or its hearing's room retires.
    pub(super) async fn run(self) {
        let d = &self.device;
        let who = Arrival {
            id: ParticipantId::from(d.id.as_str()),
            name: d.name.clone(),
            role: Role::Courtroom,
        };
        let seat = self.rooms.seat(&d.hearing, d.kind, who).await;
        tracing::info!("courtroom device in the hearing");
        let mut link = Link::Never;
        let mut failures = 0u32;
        loop {
            let round = tokio::select! {
                () = self.cancel.cancelled() => break,
                () = seat.retired() => return,
                r = self.round(&seat, &mut link) => r,
            };
            let wait = match round {
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
                () = self.cancel.cancelled() => break,
                () = seat.retired() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
        if self.shutdown.is_cancelled() {
            return; // the room goes with the server; the device was not removed
        }
        // No longer wanted (removed, or the hearing left its live states): out of the room.
        seat.tell(Input::Revoked {
            participant: ParticipantId::from(d.id.as_str()),
        })
        .await;
        tracing::info!("courtroom device left the hearing");
    }

    /// One attempt: probe, ingest, publish, pump. Returns why it ended.
    async fn round(&self, seat: &Seat, link: &mut Link) -> Stopped {
        let d = &self.device;
        let src = d.source.clone();
        let probed = tokio::task::spawn_blocking(move || probe(&src, PROBE_WITHIN))
            .await
            .unwrap_or_else(|e| Err(RtspError::Gst(e.to_string())));
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
        let (ingest, rx) = match Ingest::start(&d.source, plan) {
            Ok(started) => started,
            Err(e) => return self.failed(seat, link, &e.to_string(), status_of(&e)).await,
        };
        let publisher = ParticipantId::from(d.id.as_str());
        let track = |media: MediaCodec, key: &str| {
            Arc::new(PublishedTrack::from_device(
                publisher.clone(),
                TrackKey::new(format!("{}-{key}-{}", d.id, next_round())),
                media,
            ))
        };
        let tracks = Tracks {
            video: plan.video.map(|_| track(MediaCodec::H264, "video")),
            audio: plan.audio.map(|_| track(MediaCodec::Opus, "audio")),
        };
        for t in tracks.video.iter().chain(tracks.audio.iter()) {
            seat.link.send_media(MediaEvent::Published(t.clone())).await;
        }
        self.store_status("ok").await;
        if *link != Link::Up {
            if *link == Link::Down {
                seat.tell(Input::DeviceLink {
                    participant: publisher.clone(),
                    up: true,
                })
                .await;
            }
            *link = Link::Up;
        }
        let cancel = self.cancel.clone();
        let rt = tokio::runtime::Handle::current();
        let (tracks, stopped) = tokio::task::spawn_blocking(move || {
            let stopped = pump(&ingest, &rx, &tracks, &cancel, &rt);
            drop(ingest);
            (tracks, stopped)
        })
        .await
        .unwrap_or_else(|e| {
            let none = Tracks {
                video: None,
                audio: None,
            };
            (none, Stopped::Lost(format!("the pump stopped: {e}")))
        });
        for t in tracks.video.into_iter().chain(tracks.audio) {
            t.end();
            seat.link.send_media(MediaEvent::Unpublished(t)).await;
        }
        if let Stopped::Lost(why) = &stopped {
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
            return Stopped::Dropped(why.clone());
        }
        stopped
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

/// The status an attempt's error gives the device.
fn status_of(e: &RtspError) -> &'static str {
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
    Plan {
        video: p
            .video
            .as_ref()
            .map(|v| path(video_path(&v.encoding, v.profile.as_deref(), v.b_frames))),
        audio: p.audio.as_deref().map(|a| path(audio_path(a))),
        video_pt: MediaCodec::H264.payload_type(),
        audio_pt: MediaCodec::Opus.payload_type(),
    }
}

/// A number per round, so each round's tracks have keys of their own.
fn next_round() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
