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

use super::{Created, Liveness, Session, Whip, WhipError, frag, until};
use crate::domain::{HearingKind, ParticipantId};
use crate::rooms::{MainViewer, Viewer, Watch};
use crate::sfu::codec::MediaCodec;
use crate::sfu::conn::Conn;
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
        let ufrag = frag::ufrag(&offer);
        let conn = Conn::new(&self.factory.sending(), None).await?;
        let pc = conn.pc.clone();
        let started = self
            .start_playing(conn, hearing, kind, target, video, viewer, ufrag, offer)
            .await;
        if started.is_err() {
            let _ = pc.close().await;
        }
        started
    }

    /// [`Whip::play`] once its connection exists (closed by the caller on failure).
    #[allow(clippy::too_many_arguments)]
    async fn start_playing(
        &self,
        mut conn: Conn,
        hearing: &str,
        kind: HearingKind,
        target: Option<ParticipantId>,
        video: MediaCodec,
        viewer: ParticipantId,
        ufrag: Option<String>,
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
            (MediaKind::Video, video),
        ] {
            let ssrc = u32::from_be_bytes(crate::auth::random_bytes::<4>());
            // H.264 with Gavel's parameters (constrained baseline, as devices send it); the
            // others as the publisher chose them.
            let rtc_codec = match codec {
                MediaCodec::H264 => codec.rtc(),
                _ => default_codec(kind),
            };
            let stream = target.as_ref().map_or("main-view", ParticipantId::as_str);
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
        let (audio, camera) = (outlets[0].clone(), outlets[1].clone());
        let watching = Arc::new(Mutex::new(None));
        let watch = match target {
            Some(target) => {
                let viewer = Viewer {
                    owner,
                    target,
                    audio,
                    video: camera,
                    video_codec: video,
                    watching: watching.clone(),
                };
                self.rooms.view(hearing, kind, viewer).await
            }
            None => {
                let viewer = MainViewer {
                    owner,
                    audio,
                    video: camera,
                };
                self.rooms.view_main(hearing, kind, viewer).await
            }
        };
        let (id, etag, session) =
            self.register(super::Kind::Play, hearing, viewer, ufrag, conn.pc.clone());
        let video_local = locals[1].3.clone();
        let run = Playback {
            id: id.clone(),
            session,
            conn,
            watch,
            sessions: self.sessions.clone(),
        };
        let span = tracing::info_span!("whep", hearing = %hearing, session = %id);
        tokio::spawn(tracing::Instrument::instrument(
            feedback(video_local, watching),
            span.clone(),
        ));
        tokio::spawn(tracing::Instrument::instrument(run.run(), span));
        Ok(Created { id, etag, answer })
    }
}

/// Key-frame requests from the viewer go to the camera track it is on.
async fn feedback(
    local: Arc<TrackLocalStaticRTP>,
    watching: Arc<Mutex<Option<Arc<PublishedTrack>>>>,
) {
    while let Some(TrackLocalEvent::OnRtcpPacket(_)) = local.poll().await {
        let track = watching.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(t) = track {
            t.request_keyframe(u8::MAX).await;
        }
    }
}

/// One playback session's task.
struct Playback {
    id: String,
    session: Arc<Session>,
    conn: Conn,
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
                changed = self.conn.connected.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    liveness.saw(*self.conn.connected.borrow_and_update());
                }
                () = until(liveness.lost_at) => break,
            }
        }
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
        self.watch.end().await;
        let _ = self.session.pc.close().await;
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
