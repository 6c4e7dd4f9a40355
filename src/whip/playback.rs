//! WHEP playback: a viewer outside the room (a monitoring wall, the platform's public gallery)
//! pulls one participant's camera and microphone, or the hearing's main view (everyone, in a
//! grid, their sound mixed), with a receive-only offer. It gets what an observer in the hearing
//! itself would (see `rooms::Viewer` and `rooms::MainViewer`): nothing of the lobby, a caucus
//! or a sequestered witness, nothing the court muted. Same resource shape as WHIP: `PATCH`
//! trickles, `DELETE` ends.

use std::sync::{Arc, Mutex};

use gavel_signaling::MediaKind;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::peer_connection::RTCSessionDescription;

use tokio::sync::{mpsc, watch};

use super::{Created, Link, Liveness, Session, Whip, WhipError, frag, until};
use crate::domain::{HearingKind, ParticipantId};
use crate::rooms::{MainViewer, Viewer, Watch};
use crate::sfu::codec::MediaCodec;
use crate::sfu::conn::Conn;
use crate::sfu::plane::{Plane, PlaneEvent, PlayTrack};
use crate::sfu::track::{Outlet, PublishedTrack, default_codec, local_track};
use crate::sfu::{SfuError, sdp_policy};

/// The payload type `answer` gives `codec` in its `kind` section.
fn payload_type(answer: &str, kind: MediaKind, codec: MediaCodec) -> Option<u8> {
    let media = match kind {
        MediaKind::Audio => "m=audio",
        MediaKind::Video => "m=video",
    };
    let name = codec.mime().rsplit('/').next()?.to_ascii_lowercase();
    answer
        .split("\r\n")
        .skip_while(|l| !l.starts_with(media))
        .skip(1)
        .take_while(|l| !l.starts_with("m="))
        .find_map(|l| {
            let (pt, enc) = l.strip_prefix("a=rtpmap:")?.split_once(' ')?;
            enc.to_ascii_lowercase()
                .starts_with(&format!("{name}/"))
                .then(|| pt.parse().ok())
                .flatten()
        })
}

impl Whip {
    /// Starts playing `target`'s camera (in `video`: VP8 from browsers, H.264 from courtroom
    /// devices) and microphone in `hearing`, or with no target the hearing's main view (VP8),
    /// to the viewer that sent `offer` (receive-only), known as `viewer` (the participant, or
    /// the platform).
    pub async fn play(
        &self,
        hearing: &str,
        kind: HearingKind,
        target: Option<ParticipantId>,
        video: MediaCodec,
        viewer: ParticipantId,
        offer: String,
    ) -> Result<Created, WhipError> {
        if !sdp_policy::sending_tracks(&offer)?.is_empty() {
            return Err(WhipError::BadDescription(
                "a WHEP offer receives only (recvonly)".into(),
            ));
        }
        if self.rooms.is_over(hearing) {
            return Err(WhipError::HearingOver);
        }
        self.make_room()?;
        let to = Audience {
            hearing,
            kind,
            target,
            video,
            viewer,
            ufrag: frag::ufrag(&offer),
        };
        if let (Some(plane), MediaCodec::Vp8) = (&self.plane, video) {
            return self.play_on_plane(plane.clone(), to, offer).await;
        }
        let conn = Conn::new(&self.factory.sending(), None).await?;
        let pc = conn.pc.clone();
        let started = self.start_playing(conn, to, offer).await;
        if started.is_err() {
            let _ = pc.close().await;
        }
        started
    }

    /// [`Whip::play`] once its connection exists (closed by the caller on failure).
    async fn start_playing(
        &self,
        mut conn: Conn,
        to: Audience<'_>,
        offer: String,
    ) -> Result<Created, WhipError> {
        let desc = RTCSessionDescription::offer(offer)
            .map_err(|e| WhipError::BadDescription(e.to_string()))?;
        conn.pc
            .set_remote_description(desc)
            .await
            .map_err(|e| WhipError::BadDescription(e.to_string()))?;
        let owner = crate::sfu::peer::new_owner();
        let mut locals = Vec::new();
        for (kind, codec) in [
            (MediaKind::Audio, MediaCodec::Opus),
            (MediaKind::Video, to.video),
        ] {
            let ssrc = u32::from_be_bytes(crate::auth::random_bytes::<4>());
            // H.264 with Gavel's parameters (constrained baseline, as devices send it); the
            // others as the publisher chose them.
            let rtc_codec = match codec {
                MediaCodec::H264 => codec.rtc(),
                _ => default_codec(kind),
            };
            let stream = to
                .target
                .as_ref()
                .map_or("main-view", ParticipantId::as_str);
            let local = local_track(
                stream.to_owned(),
                format!("{stream}-{}", codec.mime()),
                kind,
                rtc_codec,
                ssrc,
            );
            conn.pc
                .add_track(local.clone() as Arc<dyn TrackLocal>)
                .await
                .map_err(SfuError::from)?;
            locals.push((kind, codec, ssrc, local));
        }
        let answer = conn.pc.create_answer(None).await.map_err(SfuError::from)?;
        let answer = conn.local_with_candidates(answer).await?;
        let mut outlets = Vec::new();
        for (kind, codec, ssrc, local) in &locals {
            let pt = payload_type(&answer, *kind, *codec).ok_or_else(|| {
                WhipError::BadDescription(format!("the offer does not receive {}", codec.mime()))
            })?;
            outlets.push(Arc::new(Outlet::new(owner, local.clone(), *ssrc, pt)));
        }
        let (watching, begun) = self
            .begin(to, owner, outlets, Link::Peer(conn.pc.clone()), answer)
            .await;
        let video_local = locals[1].3.clone();
        tokio::spawn(tracing::Instrument::instrument(
            feedback(video_local, watching),
            begun.span.clone(),
        ));
        let connected = conn.connected.clone();
        Ok(begun.run(connected, Some(conn)))
    }

    /// [`Whip::play`] on the media plane: the viewer's connection is one of the plane's, fed
    /// by the tracks it watches.
    async fn play_on_plane(
        &self,
        plane: Plane,
        to: Audience<'_>,
        offer: String,
    ) -> Result<Created, WhipError> {
        let stream = to
            .target
            .as_ref()
            .map_or("main-view", ParticipantId::as_str)
            .to_owned();
        let kinds = [
            (MediaKind::Audio, MediaCodec::Opus),
            (MediaKind::Video, to.video),
        ];
        let tracks = kinds
            .iter()
            .map(|&(_, codec)| PlayTrack {
                codec,
                stream_id: stream.clone(),
                track_id: format!("{stream}-{}", codec.mime()),
            })
            .collect();
        // overflow: drop (the plane never waits for a session; a lost key-frame request is
        // asked again by the viewer's decoder)
        let (events_tx, events) = mpsc::channel(16);
        let playing = plane.play(offer, tracks, events_tx).await?;
        let owner = crate::sfu::peer::new_owner();
        let mut outlets = Vec::new();
        for (&(kind, codec), sender) in kinds.iter().zip(playing.senders) {
            let Some(pt) = payload_type(&playing.answer, kind, codec) else {
                plane.close_playing(playing.conn, playing.token).await;
                return Err(WhipError::BadDescription(format!(
                    "the offer does not receive {}",
                    codec.mime()
                )));
            };
            outlets.push(Arc::new(Outlet::on_plane(owner, sender, pt)));
        }
        let link = Link::Plane(plane, playing.conn, playing.token);
        let (watching, begun) = self.begin(to, owner, outlets, link, playing.answer).await;
        let (state, connected) = watch::channel(false);
        tokio::spawn(tracing::Instrument::instrument(
            plane_events(events, state, watching),
            begun.span.clone(),
        ));
        Ok(begun.run(connected, None))
    }

    /// Puts the viewer's outlets (audio, video) in the room and registers the session.
    async fn begin(
        &self,
        to: Audience<'_>,
        owner: u64,
        outlets: Vec<Arc<Outlet>>,
        link: Link,
        answer: String,
    ) -> (Watching, Begun) {
        let (audio, camera) = (outlets[0].clone(), outlets[1].clone());
        let watching = Arc::new(Mutex::new(None));
        let watch = match to.target {
            Some(target) => {
                let viewer = Viewer {
                    owner,
                    target,
                    audio,
                    video: camera,
                    video_codec: to.video,
                    watching: watching.clone(),
                };
                self.rooms.view(to.hearing, to.kind, viewer).await
            }
            None => {
                let viewer = MainViewer {
                    owner,
                    audio,
                    video: camera,
                };
                self.rooms.view_main(to.hearing, to.kind, viewer).await
            }
        };
        let (id, etag, session) =
            self.register(super::Kind::Play, to.hearing, to.viewer, to.ufrag, link);
        let span = tracing::info_span!("whep", hearing = %to.hearing, session = %id);
        let begun = Begun {
            created: Created { id, etag, answer },
            session,
            watch,
            sessions: self.sessions.clone(),
            span,
        };
        (watching, begun)
    }
}

/// Whom a viewer watches, in which hearing, and who they are.
struct Audience<'a> {
    hearing: &'a str,
    kind: HearingKind,
    target: Option<ParticipantId>,
    video: MediaCodec,
    viewer: ParticipantId,
    ufrag: Option<String>,
}

/// The track a viewer's video outlet is on now (none for the main view).
type Watching = Arc<Mutex<Option<Arc<PublishedTrack>>>>;

/// A playback session registered and in the room, not yet running.
struct Begun {
    created: Created,
    session: Arc<Session>,
    watch: Watch,
    sessions: super::Sessions,
    span: tracing::Span,
}

impl Begun {
    /// Runs the session while `connected` says the viewer is there (holding `conn`, the
    /// viewer's own connection if it has one); returns what `201 Created` says.
    fn run(self, connected: watch::Receiver<bool>, conn: Option<Conn>) -> Created {
        let run = Playback {
            id: self.created.id.clone(),
            session: self.session,
            connected,
            _conn: conn,
            watch: self.watch,
            sessions: self.sessions,
        };
        tokio::spawn(tracing::Instrument::instrument(run.run(), self.span));
        self.created
    }
}

/// What the plane says of a viewer's connection: key-frame requests go to the camera track it
/// is on (a new viewer needs one to start), and the connection's state to its session, which
/// ends when the plane has closed the connection (the state's sender is dropped).
async fn plane_events(
    mut events: mpsc::Receiver<PlaneEvent>,
    state: watch::Sender<bool>,
    watching: Watching,
) {
    while let Some(event) = events.recv().await {
        match event {
            PlaneEvent::Closed => break,
            // Lost for now: the session ends if it stays so (`LOST_AFTER`), as a viewer on a
            // connection of its own does.
            PlaneEvent::Disconnected => {
                state.send_replace(false);
                continue;
            }
            PlaneEvent::Connected => {
                state.send_replace(true);
            }
            PlaneEvent::KeyframeWanted { .. } => {}
            PlaneEvent::Estimate(_) => continue,
        }
        ask_keyframe(&watching).await;
    }
}

/// Key-frame requests from the viewer go to the camera track it is on.
async fn feedback(local: Arc<TrackLocalStaticRTP>, watching: Watching) {
    while let Some(TrackLocalEvent::OnRtcpPacket(_)) = local.poll().await {
        ask_keyframe(&watching).await;
    }
}

/// Asks the camera track a viewer is on (if any) for a key frame.
async fn ask_keyframe(watching: &Watching) {
    let track = watching.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(t) = track {
        t.request_keyframe(u8::MAX).await;
    }
}

/// One playback session's task.
struct Playback {
    id: String,
    session: Arc<Session>,
    /// Whether the viewer's connection is up; closed when it is gone for good.
    connected: watch::Receiver<bool>,
    /// The viewer's own connection (none on the plane), kept while the session runs.
    _conn: Option<Conn>,
    watch: Watch,
    sessions: super::Sessions,
}

impl Playback {
    async fn run(mut self) {
        tracing::info!("WHEP session started");
        let mut liveness = Liveness::new();
        loop {
            tokio::select! {
                () = self.session.cancel.cancelled() => break,
                () = self.watch.retired() => break,
                changed = self.connected.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    liveness.saw(*self.connected.borrow_and_update());
                }
                () = until(liveness.lost_at) => break,
            }
        }
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
        self.watch.end().await;
        self.session.link.close().await;
        tracing::info!("WHEP session ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_payload_types_are_read_per_section() {
        let answer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 109\r\na=rtpmap:109 opus/48000/2\r\n\
                      m=video 9 UDP/TLS/RTP/SAVPF 120 96\r\na=rtpmap:120 VP8/90000\r\n\
                      a=rtpmap:96 H264/90000\r\n";
        assert_eq!(
            payload_type(answer, MediaKind::Audio, MediaCodec::Opus),
            Some(109)
        );
        assert_eq!(
            payload_type(answer, MediaKind::Video, MediaCodec::Vp8),
            Some(120)
        );
        assert_eq!(
            payload_type(answer, MediaKind::Video, MediaCodec::H264),
            Some(96)
        );
        assert_eq!(
            payload_type(answer, MediaKind::Audio, MediaCodec::Vp8),
            None
        );
    }
}
