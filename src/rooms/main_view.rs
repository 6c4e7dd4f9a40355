//! The hearing's main view for viewers outside the room (WHEP at the hearing itself, not at a
//! participant): one live mix (`gavel_media_pipelines::live_mix`) of everyone an observer in
//! the hearing would see and hear, made while at least one such viewer watches and encoded once
//! for all of them. Its inputs follow the room's rules as they change: someone in the lobby, a
//! caucus or sequestered, or muted by the court, is not in it.
//!
//! The mix is built and run on a thread of its own (GStreamer's changes block), told what to
//! take and drop in order over a channel; only that thread connects tracks to it and
//! disconnects them (each by identity, so a newer main view's inputs are never touched), and
//! when the main view stops it disconnects all it connected. Its output is pumped into two
//! tracks of its own, on which the viewers' outlets sit like on any published track.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use gavel_media_pipelines::ingest::{Packet, Part};
use gavel_media_pipelines::live_mix::LiveMix;
use gavel_signaling::{MediaKind, Source};
use rtc::shared::marshal::Unmarshal;

use crate::domain::{ParticipantId, TrackKey};
use crate::engine::AudioVideo;
use crate::sfu::codec::MediaCodec;
use crate::sfu::track::{Outlet, PublishedTrack};

/// The main view's picture size.
const SIZE: (u32, u32) = (1280, 720);

/// One viewer of the main view: where its sound and picture go.
#[derive(Debug)]
pub struct MainViewer {
    /// Its outlets' owner id (unique among subscribers).
    pub owner: u64,
    /// Where the mixed sound goes (Opus).
    pub audio: Arc<Outlet>,
    /// Where the picture goes (VP8).
    pub video: Arc<Outlet>,
}

/// What the mix thread is told, in order.
enum Cmd {
    /// Take `track` in as input `key`.
    Add(String, Arc<PublishedTrack>),
    /// Drop input `key`.
    Remove(String),
    /// A viewer came in: a key frame.
    Keyframe,
}

/// A running mix: the thread's channel, its output tracks, and the tracks asked to feed it.
struct Mixing {
    cmds: Sender<Cmd>,
    /// Cleared when the main view stops: its thread connects nothing more.
    alive: Arc<AtomicBool>,
    video: Arc<PublishedTrack>,
    audio: Arc<PublishedTrack>,
    fed: HashMap<String, Arc<PublishedTrack>>,
}

impl Drop for Mixing {
    fn drop(&mut self) {
        // The thread stops when its channel closes, disconnecting every track it connected.
        self.alive.store(false, Ordering::Release);
        self.video.end();
        self.audio.end();
    }
}

/// The main view of one room.
#[derive(Default)]
pub(super) struct MainView {
    viewers: Vec<MainViewer>,
    running: Option<Mixing>,
}

impl std::fmt::Debug for MainView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MainView")
            .field("viewers", &self.viewers.len())
            .field("running", &self.running.is_some())
            .finish()
    }
}

impl MainView {
    pub(super) fn add(&mut self, v: MainViewer) {
        self.viewers.push(v);
    }

    /// Viewer `owner` leaves (nothing if it is not one of these).
    pub(super) fn remove(&mut self, owner: u64) {
        self.viewers.retain(|v| v.owner != owner);
        if let Some(m) = &self.running {
            m.video.remove_outlet(owner);
            m.audio.remove_outlet(owner);
        }
    }

    /// Brings the mix to the rules: running while anyone watches, its inputs the viewable
    /// microphones and cameras (and screens), every viewer on its output.
    pub(super) fn apply(
        &mut self,
        tracks: &HashMap<ParticipantId, Vec<Arc<PublishedTrack>>>,
        viewable: &HashMap<ParticipantId, AudioVideo>,
    ) {
        if self.viewers.is_empty() {
            self.running = None;
            return;
        }
        if self.running.is_none() {
            match start() {
                Ok(m) => self.running = Some(m),
                Err(e) => {
                    tracing::error!(error = %e, "FAULT: the main view could not start");
                    return;
                }
            }
        }
        let Some(m) = self.running.as_mut() else {
            return;
        };
        let wanted: HashMap<String, &Arc<PublishedTrack>> = tracks
            .iter()
            .flat_map(|(who, theirs)| {
                let may = viewable.get(who).copied().unwrap_or_default();
                theirs.iter().filter(move |t| {
                    may.get(t.kind)
                        && matches!(
                            t.source,
                            Source::Microphone | Source::Camera | Source::Screen
                        )
                })
            })
            .map(|t| (input_key(&t.publisher, &t.key), t))
            .collect();
        let gone: Vec<String> = m
            .fed
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for k in gone {
            if m.fed.remove(&k).is_some() {
                let _ = m.cmds.send(Cmd::Remove(k));
            }
        }
        for (k, t) in wanted {
            if !m.fed.contains_key(&k) {
                m.fed.insert(k.clone(), t.clone());
                let _ = m.cmds.send(Cmd::Add(k, t.clone()));
                if t.kind == MediaKind::Video {
                    let t = t.clone();
                    tokio::spawn(async move { t.request_keyframe(u8::MAX).await });
                }
            }
        }
        let mut fresh = false;
        for v in &self.viewers {
            for (track, outlet) in [(&m.video, &v.video), (&m.audio, &v.audio)] {
                if !track.has_outlet(v.owner) {
                    track.add_outlet(outlet.clone());
                    fresh = true;
                }
            }
        }
        if fresh {
            let _ = m.cmds.send(Cmd::Keyframe);
        }
    }
}

/// The input key of a track: unique in the room.
fn input_key(publisher: &ParticipantId, key: &TrackKey) -> String {
    format!("{publisher}/{key}")
}

/// Starts the mix's thread (which builds the mix, then its output pump).
fn start() -> Result<Mixing, String> {
    let (video_codec, audio_codec) = (MediaCodec::Vp8, MediaCodec::Opus);
    let output = |codec: MediaCodec, name: &str| {
        Arc::new(PublishedTrack::from_device(
            ParticipantId::from("main-view"),
            TrackKey::new(format!("main-view-{name}")),
            codec,
        ))
    };
    let (video, audio) = (output(video_codec, "video"), output(audio_codec, "audio"));
    let (cmds, rx) = channel();
    let alive = Arc::new(AtomicBool::new(true));
    let (v, a, still) = (video.clone(), audio.clone(), alive.clone());
    let rt = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("gavel-main-view".into())
        .spawn(move || {
            let started = LiveMix::start(
                SIZE.0,
                SIZE.1,
                video_codec.payload_type(),
                audio_codec.payload_type(),
            );
            let (mix, out) = match started {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %e, "FAULT: the main view could not start");
                    return;
                }
            };
            let pumped = std::thread::Builder::new()
                .name("gavel-main-view-out".into())
                .spawn(move || pump(&out, &v, &a, &rt));
            if let Err(e) = pumped {
                tracing::error!(error = %e, "FAULT: the main view's output could not start");
                return;
            }
            run(mix, &rx, &still);
        })
        .map_err(|e| e.to_string())?;
    Ok(Mixing {
        cmds,
        alive,
        video,
        audio,
        fed: HashMap::new(),
    })
}

/// An input the mix thread connected: the track, and its feed (to disconnect exactly it).
type Connected = (
    Arc<PublishedTrack>,
    Arc<(gavel_media_pipelines::recorder::Tap, u8)>,
);

/// The mix's thread: does what it is told, in order, until the main view stops; then
/// disconnects every track it connected.
fn run(mut mix: LiveMix, rx: &Receiver<Cmd>, alive: &AtomicBool) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut connected: HashMap<String, Connected> = HashMap::new();
    loop {
        match rx.recv_timeout(std::time::Duration::from_millis(500)) {
            Ok(Cmd::Add(key, track)) => {
                if !alive.load(Ordering::Acquire) {
                    continue;
                }
                let pt = track.media.payload_type();
                match mix.add(&key, track.media.recorder(), pt) {
                    Ok(tap) => {
                        let fed = track.feed_mix(tap, pt);
                        connected.insert(key, (track, fed));
                    }
                    Err(e) => tracing::warn!(error = %e, "the main view could not take a track"),
                }
            }
            Ok(Cmd::Remove(key)) => {
                if let Some((track, fed)) = connected.remove(&key) {
                    track.unfeed_mix(&fed);
                }
                mix.remove(&key);
            }
            Ok(Cmd::Keyframe) => mix.request_keyframe(),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if let Some(why) = mix.failure() {
            tracing::warn!(why, "the main view's mix reported an error");
        }
    }
    for (track, fed) in connected.values() {
        track.unfeed_mix(fed);
    }
    // Dropping the mix stops its pipeline; the pump sees its channel close.
    drop(mix);
}

/// Moves the mix's RTP into its output tracks until the mix stops.
fn pump(
    out: &Receiver<Packet>,
    video: &PublishedTrack,
    audio: &PublishedTrack,
    rt: &tokio::runtime::Handle,
) {
    while let Ok(p) = out.recv() {
        let track = match p.part {
            Part::Audio => audio,
            _ => video,
        };
        if let Ok(packet) = rtc::rtp::Packet::unmarshal(&mut p.rtp.as_slice()) {
            rt.block_on(track.push(packet));
        }
    }
}
