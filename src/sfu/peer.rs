//! One participant's media: their publish and subscribe peer connections, as an actor task.
//!
//! The actor answers the client's publish offers (after checking the role may send what it
//! offers), turns each incoming track into a [`PublishedTrack`] that it reports to the room, and
//! keeps the subscribe connection equal to the set of tracks the room says this participant may
//! receive: it adds and removes tracks, offers, and starts forwarding to a track only once the
//! client has answered. The desired set arrives on a `watch` channel, so the room never waits
//! for a slow negotiation and only the latest set matters.
//!
//! Invariant (court rules): a revoked track stops being forwarded at once, before any
//! renegotiation and whether or not an answer is pending; an answer only ever activates tracks
//! that are still wanted; a client that does not answer in time gets nothing new.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use gavel_signaling::{ErrorCode, MediaKind, ServerMessage};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::RTCSessionDescription;
use webrtc::rtp_transceiver::RtpSender;

use super::conn::Conn;
use super::track::{Output, PublishedTrack};
use super::{PeerFactory, SfuError, payload_type, sdp_policy};
use crate::domain::Role;
use crate::rooms::{MediaEvent, Outbound, RoomLink};

/// How long to wait for ICE gathering, and for the client's answer to a subscribe offer.
pub(crate) const NEGOTIATION_TIMEOUT: Duration = Duration::from_secs(10);

/// Numbers actors (so outputs belong to one session, not just one participant) and tracks.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Commands from the participant's WebSocket session.
#[derive(Debug)]
pub enum PeerCmd {
    /// The client's offer for its publish connection.
    PublishOffer(String),
    /// The client's answer to our subscribe offer.
    SubscribeAnswer(String),
}

/// The room's and the session's handle on a participant's media.
#[derive(Debug, Clone)]
pub struct PeerHandle {
    cmd: mpsc::Sender<PeerCmd>,
    desired: Arc<watch::Sender<Vec<Arc<PublishedTrack>>>>,
    cancel: tokio_util::sync::CancellationToken,
    owner: u64,
}

impl PeerHandle {
    /// Passes a client command to the actor without waiting; false if its queue is full (the
    /// client is sending faster than negotiation can go) or the actor is gone.
    pub fn try_send(&self, cmd: PeerCmd) -> bool {
        // overflow: drop (counted as a bad message by the session)
        self.cmd.try_send(cmd).is_ok()
    }

    /// Sets the tracks this participant should receive (never blocks).
    pub fn set_desired(&self, tracks: Vec<Arc<PublishedTrack>>) {
        self.desired.send_replace(tracks);
    }

    /// Stops the actor: its outputs stop, both connections close, its messages end.
    pub fn close(&self) {
        self.cancel.cancel();
    }

    /// The id its outputs carry.
    pub fn owner(&self) -> u64 {
        self.owner
    }
}

/// What the actor needs to know about its participant.
#[derive(Debug)]
pub struct PeerContext {
    /// Participant id.
    pub participant: String,
    /// Their role (decides what they may publish).
    pub role: Role,
    /// Messages to the client.
    pub out: mpsc::Sender<Outbound>,
    /// Their room.
    pub room: RoomLink,
    /// Builds peer connections.
    pub factory: PeerFactory,
}

/// Starts the actor. It stops (closing both connections) when every [`PeerHandle`] is dropped.
pub fn spawn(ctx: PeerContext) -> PeerHandle {
    let (cmd_tx, cmd_rx) = mpsc::channel(16);
    let (desired_tx, desired_rx) = watch::channel(Vec::new());
    let cancel = tokio_util::sync::CancellationToken::new();
    let owner = next_id();
    let actor = Actor {
        owner,
        ctx,
        publish: None,
        subscribe: None,
        current: HashMap::new(),
        track_tx: None,
        level_ext: None,
        removed_since_offer: false,
    };
    tokio::spawn(actor.run(cmd_rx, desired_rx, cancel.clone()));
    PeerHandle {
        cmd: cmd_tx,
        desired: Arc::new(desired_tx),
        cancel,
        owner,
    }
}

/// A track on the subscribe connection.
struct Subscribed {
    track: Arc<PublishedTrack>,
    sender: Arc<dyn RtpSender>,
    output: Arc<Output>,
}

struct Actor {
    owner: u64,
    ctx: PeerContext,
    publish: Option<Conn>,
    subscribe: Option<Conn>,
    /// Tracks on the subscribe connection, by (publisher, key).
    current: HashMap<(String, String), Subscribed>,
    track_tx: Option<mpsc::Sender<Arc<dyn TrackRemote>>>,
    /// Audio-level extension id from the latest publish offer.
    level_ext: Option<u8>,
    /// Tracks were removed since the last offer (the connection needs renegotiating).
    removed_since_offer: bool,
}

impl Actor {
    async fn run(
        mut self,
        mut cmds: mpsc::Receiver<PeerCmd>,
        mut desired: watch::Receiver<Vec<Arc<PublishedTrack>>>,
        cancel: tokio_util::sync::CancellationToken,
    ) {
        let (track_tx, mut track_rx) = mpsc::channel(8);
        self.track_tx = Some(track_tx);
        // While an offer is out: the tracks it adds, and when we stop waiting for the answer.
        let mut awaiting: Option<(Vec<(String, String)>, tokio::time::Instant)> = None;
        let mut dirty = false;
        loop {
            let deadline = awaiting.as_ref().map(|(_, d)| *d);
            tokio::select! {
                () = cancel.cancelled() => break,
                cmd = cmds.recv() => match cmd {
                    None => break,
                    Some(PeerCmd::PublishOffer(sdp)) => {
                        if let Err(e) = self.publish_offer(sdp).await {
                            self.tell_error(ErrorCode::BadMessage, &e.to_string());
                        }
                    }
                    Some(PeerCmd::SubscribeAnswer(sdp)) => {
                        if let Some((added, _)) = awaiting.take() {
                            let want = desired.borrow().clone();
                            self.subscribe_answer(sdp, added, &want).await;
                            dirty = true;
                        }
                    }
                },
                changed = desired.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    // Revocations take effect now, answer or no answer.
                    let want = desired.borrow_and_update().clone();
                    self.revoke(&want).await;
                    dirty = true;
                }
                () = sleep_until(deadline) => {
                    if let Some((added, _)) = awaiting.take() {
                        tracing::warn!("no answer to the subscribe offer in time");
                        self.roll_back(&added).await;
                        dirty = true;
                    }
                }
                Some(track) = track_rx.recv() => self.published(track).await,
            }
            if dirty && awaiting.is_none() {
                dirty = false;
                let want = desired.borrow().clone();
                awaiting = self
                    .renegotiate(&want)
                    .await
                    .map(|added| (added, tokio::time::Instant::now() + NEGOTIATION_TIMEOUT));
            }
        }
        self.shutdown().await;
    }

    fn tell(&self, msg: ServerMessage) {
        // overflow: drop (a client this far behind is disconnected by the room)
        let _ = self.ctx.out.try_send(Outbound::Msg(msg));
    }

    fn tell_error(&self, code: ErrorCode, text: &str) {
        self.tell(ServerMessage::error(None, code, text));
    }

    async fn publish_offer(&mut self, sdp: String) -> Result<(), SfuError> {
        if let Err(refusal) = sdp_policy::check(self.ctx.role, &sdp) {
            self.tell_error(ErrorCode::Forbidden, &refusal.to_string());
            return Ok(());
        }
        self.level_ext = sdp_policy::extmap_id(&sdp, super::AUDIO_LEVEL_URI);
        if self.publish.is_none() {
            self.publish = Some(Conn::new(&self.ctx.factory, self.track_tx.clone()).await?);
        }
        let conn = self.publish.as_mut().expect("set above");
        let offer = RTCSessionDescription::offer(sdp).map_err(|e| SfuError::Sdp(e.to_string()))?;
        conn.pc.set_remote_description(offer).await?;
        let answer = conn.pc.create_answer(None).await?;
        let sdp = conn.local_with_candidates(answer).await?;
        self.tell(ServerMessage::PublishAnswer { sdp });
        Ok(())
    }

    /// A new incoming track: report it to the room and forward it until the connection ends.
    async fn published(&mut self, remote: Arc<dyn TrackRemote>) {
        let Some(ssrc) = remote.ssrcs().await.first().copied() else {
            return;
        };
        let Some(codec) = remote.codec(ssrc).await else {
            return;
        };
        let kind = match remote.kind().await {
            RtpCodecKind::Audio => MediaKind::Audio,
            _ => MediaKind::Video,
        };
        // Server-assigned: a client's own track ids repeat across reconnections and end up in
        // every subscriber's SDP.
        let key = format!("t{}", next_id());
        let level_ext = (kind == MediaKind::Audio)
            .then_some(self.level_ext)
            .flatten();
        let track = Arc::new(
            PublishedTrack::new(self.ctx.participant.clone(), key, kind, codec, remote, ssrc)
                .with_level_extension(level_ext),
        );
        tracing::info!(?kind, "track published");
        // Published before the forwarding task can end and report Unpublished.
        self.ctx
            .room
            .send_media(MediaEvent::Published(track.clone()))
            .await;
        let room = self.ctx.room.clone();
        tokio::spawn(async move {
            track.clone().forward().await;
            room.send_media(MediaEvent::Unpublished(track)).await;
        });
    }

    /// Stops forwarding, and drops from the connection, every current track not in `want`.
    async fn revoke(&mut self, want: &[Arc<PublishedTrack>]) {
        let revoked: Vec<(String, String)> = self
            .current
            .iter()
            .filter(|(_, s)| !want.iter().any(|t| Arc::ptr_eq(t, &s.track)))
            .map(|(k, _)| k.clone())
            .collect();
        for k in revoked {
            self.removed_since_offer = true;
            if let Some(s) = self.current.remove(&k) {
                s.track.remove_output(self.owner);
                if let Some(conn) = &self.subscribe {
                    let _ = conn.pc.remove_track(&s.sender).await;
                }
            }
        }
    }

    /// Forgets tracks that were offered but never activated (no answer, or a bad one).
    async fn roll_back(&mut self, added: &[(String, String)]) {
        for k in added {
            if let Some(s) = self.current.remove(k) {
                s.track.remove_output(self.owner);
                if let Some(conn) = &self.subscribe {
                    let _ = conn.pc.remove_track(&s.sender).await;
                }
            }
        }
    }

    /// Brings the subscribe connection to `want`; returns the tracks awaiting the answer.
    async fn renegotiate(&mut self, want: &[Arc<PublishedTrack>]) -> Option<Vec<(String, String)>> {
        self.revoke(want).await;
        let mut added = Vec::new();
        match self.try_renegotiate(want, &mut added).await {
            Ok(pending) => pending,
            Err(e) => {
                tracing::warn!(error = %e, "subscribe negotiation failed");
                self.roll_back(&added).await;
                None
            }
        }
    }

    async fn try_renegotiate(
        &mut self,
        want: &[Arc<PublishedTrack>],
        added: &mut Vec<(String, String)>,
    ) -> Result<Option<Vec<(String, String)>>, SfuError> {
        let to_add: Vec<&Arc<PublishedTrack>> = want
            .iter()
            .filter(|t| {
                !self
                    .current
                    .contains_key(&(t.publisher.clone(), t.key.clone()))
            })
            .collect();
        if to_add.is_empty() && !self.removed_since_offer {
            return Ok(None);
        }
        self.removed_since_offer = false;
        if self.subscribe.is_none() {
            self.subscribe = Some(Conn::new(&self.ctx.factory, None).await?);
        }
        let conn = self.subscribe.as_mut().expect("set above");
        for track in to_add {
            let k = (track.publisher.clone(), track.key.clone());
            let ssrc = rand_ssrc();
            let Some(pt) = payload_type(&track.codec.mime_type) else {
                continue;
            };
            let local = super::track::local_track(
                track.publisher.clone(),
                format!("{}-{}", track.publisher, track.key),
                track.kind,
                track.codec.clone(),
                ssrc,
            );
            let sender = conn
                .pc
                .add_track(local.clone() as Arc<dyn TrackLocal>)
                .await?;
            // Key-frame requests from this subscriber go to the publisher (rate-limited there).
            let (requests, publisher_track) = (local.clone(), track.clone());
            tokio::spawn(async move {
                while let Some(ev) = requests.poll().await {
                    if let TrackLocalEvent::OnRtcpPacket(_) = ev {
                        publisher_track.request_keyframe().await;
                    }
                }
            });
            let output = Arc::new(Output {
                owner: self.owner,
                track: local,
                ssrc,
                payload_type: pt,
            });
            self.current.insert(
                k.clone(),
                Subscribed {
                    track: track.clone(),
                    sender,
                    output,
                },
            );
            added.push(k);
        }
        let offer = conn.pc.create_offer(None).await?;
        let sdp = conn.local_with_candidates(offer).await?;
        self.tell(ServerMessage::SubscribeOffer { sdp });
        Ok(Some(added.clone()))
    }

    async fn subscribe_answer(
        &mut self,
        sdp: String,
        added: Vec<(String, String)>,
        want: &[Arc<PublishedTrack>],
    ) {
        let Some(conn) = self.subscribe.as_mut() else {
            return;
        };
        let applied = match RTCSessionDescription::answer(sdp) {
            Ok(a) => conn
                .pc
                .set_remote_description(a)
                .await
                .map_err(SfuError::from),
            Err(e) => Err(SfuError::Sdp(e.to_string())),
        };
        if let Err(e) = applied {
            self.tell_error(ErrorCode::BadMessage, &e.to_string());
            self.roll_back(&added).await;
            return;
        }
        for k in added {
            let Some(s) = self.current.get(&k) else {
                continue;
            };
            // Only tracks still wanted now: a route revoked while the offer was out stays off.
            if want.iter().any(|t| Arc::ptr_eq(t, &s.track)) {
                s.track.add_output(s.output.clone());
                s.track.request_keyframe().await;
            }
        }
    }

    async fn shutdown(&mut self) {
        for s in self.current.values() {
            s.track.remove_output(self.owner);
        }
        for conn in [self.publish.take(), self.subscribe.take()]
            .into_iter()
            .flatten()
        {
            let _ = conn.pc.close().await;
        }
    }
}

fn rand_ssrc() -> u32 {
    u32::from_be_bytes(crate::auth::random_bytes::<4>())
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
