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

use gavel_signaling::{Connection, ErrorCode, MediaKind, ServerMessage, TrackInfo};
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
    /// The client's offer for its publish connection, and the ids of its screen-share tracks.
    PublishOffer {
        /// The offer.
        sdp: String,
        /// Screen-share track ids.
        screen: Vec<String>,
    },
    /// The client's answer to our subscribe offer.
    SubscribeAnswer(String),
    /// A trickled ICE candidate of the client's (empty: end of candidates).
    Candidate {
        /// For which connection.
        pc: Connection,
        /// The candidate attribute.
        candidate: String,
        /// Its media section.
        sdp_mid: Option<String>,
        /// Its media section's index.
        sdp_mline_index: Option<u16>,
    },
    /// The participant resumed on a new socket: send to `out` from now on.
    Rebind(mpsc::Sender<Outbound>),
    /// The client shows `track` (its id in the subscribe description) `height` pixels tall.
    VideoSize {
        /// Track id.
        track: String,
        /// Pixels (0: not shown).
        height: u32,
    },
}

/// The downlink assumed until the client reports an estimate (REMB): enough for the top layer
/// of one camera, so a hearing starts sharp and comes down if the client says it must.
const INITIAL_ESTIMATE_BPS: u64 = 1_500_000;
/// Kept back from the estimate for each subscribed audio track (Opus at its highest).
const AUDIO_RESERVE_BPS: u64 = 64_000;
/// Most candidates a client may trickle per connection (a browser sends a handful).
const MAX_CANDIDATES: usize = 32;

/// How often simulcast layers are re-chosen as their measured bitrates move.
const REALLOCATE_EVERY: Duration = Duration::from_secs(1);

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
        estimate: Arc::new(watch::channel(INITIAL_ESTIMATE_BPS).0),
        video_sizes: HashMap::new(),
        unconnected: Vec::new(),
        screen_tracks: Vec::new(),
        last_offer: None,
        published: HashMap::new(),
        candidates: (0, 0),
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
    /// Answered by the client on a connection that is up: forwarding may run whenever the
    /// room allows it.
    ready: bool,
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
    /// The client's downlink estimate (REMB), bits per second.
    estimate: Arc<watch::Sender<u64>>,
    /// Tile heights the client reported, by track id.
    video_sizes: HashMap<String, u32>,
    /// Answered tracks waiting for the subscribe connection to come up: started then, so the
    /// key frame asked for on their behalf is not lost to a connection not yet up.
    unconnected: Vec<(String, String)>,
    /// The client's screen-share track ids, from its latest publish offer.
    screen_tracks: Vec<String>,
    /// The latest subscribe offer sent (sent again on a resume while unanswered).
    last_offer: Option<ServerMessage>,
    /// This participant's published tracks, by the client's track id.
    published: HashMap<String, Arc<PublishedTrack>>,
    /// Candidates trickled so far on the publish and subscribe connections.
    candidates: (usize, usize),
}

/// The id a subscriber sees for `track` (its msid track id).
fn client_track_id(track: &PublishedTrack) -> String {
    format!("{}-{}", track.publisher, track.key)
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
        let mut estimate = self.estimate.subscribe();
        let mut reallocate = tokio::time::interval(REALLOCATE_EVERY);
        reallocate.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = awaiting.as_ref().map(|(_, d)| *d);
            let mut connected = self.subscribe.as_ref().map(|c| c.connected.clone());
            tokio::select! {
                () = until_connected(connected.as_mut()), if !self.unconnected.is_empty() => {
                    let want = desired.borrow().clone();
                    let keys = std::mem::take(&mut self.unconnected);
                    self.activate(keys, &want).await;
                }
                () = cancel.cancelled() => break,
                cmd = cmds.recv() => match cmd {
                    None => break,
                    Some(PeerCmd::PublishOffer { sdp, screen }) => {
                        if let Err(e) = self.publish_offer(sdp, screen).await {
                            // An unreadable description is the client's fault (it counts
                            // towards its limit); a failure of ours is not.
                            let code = match e {
                                SfuError::Sdp(_) => ErrorCode::BadMessage,
                                _ => ErrorCode::Conflict,
                            };
                            self.tell_error(code, &e.to_string());
                        }
                    }
                    Some(PeerCmd::SubscribeAnswer(sdp)) => {
                        if let Some((added, _)) = awaiting.take() {
                            let want = desired.borrow().clone();
                            self.subscribe_answer(sdp, added, &want).await;
                            dirty = true;
                        }
                    }
                    Some(PeerCmd::Candidate { pc, candidate, sdp_mid, sdp_mline_index }) => {
                        self.candidate(pc, candidate, sdp_mid, sdp_mline_index).await;
                    }
                    Some(PeerCmd::Rebind(out)) => {
                        self.ctx.out = out;
                        // An offer the old socket may never have delivered goes out again.
                        if let Some((_, deadline)) = awaiting.as_mut()
                            && let Some(offer) = self.last_offer.clone()
                        {
                            *deadline = tokio::time::Instant::now() + NEGOTIATION_TIMEOUT;
                            self.tell(offer);
                        }
                    }
                    Some(PeerCmd::VideoSize { track, height }) => {
                        // Only tracks this client receives; a client cannot grow the map.
                        let shown = self
                            .current
                            .values()
                            .find(|s| client_track_id(&s.track) == track)
                            .map(|s| (s.track.clone(), s.output.clone()));
                        if let Some((published, output)) = shown {
                            // Height 0: not shown (audio only), so nothing is sent at all.
                            if output.set_paused(height == 0) && height > 0 {
                                published.request_keyframe(u8::MAX).await;
                            }
                            self.video_sizes.insert(track, height);
                            self.allocate_layers();
                        }
                    }
                },
                _ = estimate.changed() => self.allocate_layers(),
                _ = reallocate.tick() => self.allocate_layers(),
                changed = desired.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    // Revocations take effect now, answer or no answer.
                    let want = desired.borrow_and_update().clone();
                    self.revoke(&want).await;
                    self.restore(&want).await;
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

    /// Adds a trickled candidate to the connection it names (which must exist: candidates come
    /// after their description).
    async fn candidate(
        &mut self,
        pc: Connection,
        candidate: String,
        sdp_mid: Option<String>,
        sdp_mline_index: Option<u16>,
    ) {
        let conn = match pc {
            Connection::Publish => self.publish.as_ref(),
            Connection::Subscribe => self.subscribe.as_ref(),
        };
        let Some(conn) = conn else {
            self.tell_error(
                ErrorCode::Conflict,
                "an ICE candidate before its connection's description",
            );
            return;
        };
        if candidate.is_empty() {
            return; // end of candidates: nothing to do, checks go on with what arrived
        }
        let count = match pc {
            Connection::Publish => &mut self.candidates.0,
            Connection::Subscribe => &mut self.candidates.1,
        };
        *count += 1;
        if *count > MAX_CANDIDATES {
            self.tell_error(ErrorCode::BadMessage, "too many ICE candidates");
            return;
        }
        if candidate.split(' ').count() < 8 {
            self.tell_error(ErrorCode::BadMessage, "not an ICE candidate");
            return;
        }
        if !sdp_policy::candidate_allowed(&candidate, self.ctx.factory.binds_loopback()) {
            return; // silently unused, as a browser ignores a candidate it cannot reach
        }
        let init = webrtc::peer_connection::RTCIceCandidateInit {
            candidate,
            sdp_mid,
            sdp_mline_index,
            ..Default::default()
        };
        if let Err(e) = conn.pc.add_ice_candidate(init).await {
            self.tell_error(ErrorCode::BadMessage, &format!("ICE candidate: {e}"));
        }
    }

    /// Chooses the simulcast layer of every subscribed simulcast track from the client's
    /// estimate and tile sizes (`super::layers::allocate`).
    fn allocate_layers(&mut self) {
        let audio = self
            .current
            .values()
            .filter(|s| s.track.kind == MediaKind::Audio)
            .count() as u64;
        let budget = self
            .estimate
            .borrow()
            .saturating_sub(audio * AUDIO_RESERVE_BPS);
        let mut tracks: Vec<(&Subscribed, Vec<super::layers::Layer>)> = self
            .current
            .values()
            .map(|s| (s, s.track.layers.available()))
            .filter(|(_, l)| !l.is_empty())
            .collect();
        // Raised first: shared screens (evidence), then in a stable order.
        tracks.sort_by_key(|(s, _)| {
            (
                s.track.source != gavel_signaling::Source::Screen,
                s.track.key.clone(),
            )
        });
        if tracks.is_empty() {
            return;
        }
        let demands: Vec<super::layers::Demand<'_>> = tracks
            .iter()
            .map(|(s, layers)| super::layers::Demand {
                layers,
                render_height: self
                    .video_sizes
                    .get(&client_track_id(&s.track))
                    .copied()
                    .unwrap_or(u32::MAX),
            })
            .collect();
        for ((s, _), layer) in tracks.iter().zip(super::layers::allocate(budget, &demands)) {
            if let Some(layer) = layer {
                s.output.layer.set_target(layer);
            }
        }
    }

    fn tell(&self, msg: ServerMessage) {
        // overflow: drop (a client this far behind is disconnected by the room)
        let _ = self.ctx.out.try_send(Outbound::Msg(msg));
    }

    fn tell_error(&self, code: ErrorCode, text: &str) {
        let msg = ServerMessage::error(None, code, text);
        // overflow: drop (as `tell`)
        let _ = self.ctx.out.try_send(if code == ErrorCode::BadMessage {
            Outbound::Refused(msg)
        } else {
            Outbound::Msg(msg)
        });
    }

    async fn publish_offer(&mut self, sdp: String, screen: Vec<String>) -> Result<(), SfuError> {
        if let Err(refusal) = sdp_policy::check(self.ctx.role, &sdp, &screen) {
            self.tell_error(ErrorCode::Forbidden, &refusal.to_string());
            return Ok(());
        }
        self.screen_tracks = screen;
        self.level_ext = sdp_policy::extmap_id(&sdp, super::AUDIO_LEVEL_URI);
        let sending = sdp_policy::sending_tracks(&sdp).unwrap_or_default();
        if self.publish.is_none() {
            self.publish = Some(Conn::new(&self.ctx.factory, self.track_tx.clone()).await?);
        }
        let conn = self.publish.as_mut().expect("set above");
        let offer = RTCSessionDescription::offer(sdp).map_err(|e| SfuError::Sdp(e.to_string()))?;
        conn.pc.set_remote_description(offer).await?;
        let answer = conn.pc.create_answer(None).await?;
        let sdp = conn.local_with_candidates(answer).await?;
        self.tell(ServerMessage::PublishAnswer { sdp });
        // Tracks the renegotiated offer no longer sends are over (the user stopped sharing).
        let stopped: Vec<String> = self
            .published
            .keys()
            .filter(|id| !sending.contains(id))
            .cloned()
            .collect();
        for id in stopped {
            if let Some(track) = self.published.remove(&id) {
                tracing::info!(source = ?track.source, "track unpublished");
                track.end();
                self.ctx
                    .room
                    .send_media(MediaEvent::Unpublished(track))
                    .await;
            }
        }
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
        let client_id = remote.track_id().await;
        let screen = self.screen_tracks.contains(&client_id);
        let track = Arc::new(
            PublishedTrack::new(self.ctx.participant.clone(), key, kind, codec, remote, ssrc)
                .with_level_extension(level_ext)
                .screen_share(screen),
        );
        tracing::info!(source = ?track.source, "track published");
        self.published.insert(client_id, track.clone());
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
                self.video_sizes.remove(&client_track_id(&s.track));
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
            self.subscribe = Some(Conn::new(&self.ctx.factory.sending(), None).await?);
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
                client_track_id(track),
                track.kind,
                track.codec.clone(),
                ssrc,
            );
            let sender = conn
                .pc
                .add_track(local.clone() as Arc<dyn TrackLocal>)
                .await?;
            let output = Arc::new(Output::new(self.owner, local.clone(), ssrc, pt));
            tokio::spawn(feedback(
                local,
                track.clone(),
                output.clone(),
                self.estimate.clone(),
            ));
            self.current.insert(
                k.clone(),
                Subscribed {
                    track: track.clone(),
                    sender,
                    output,
                    ready: false,
                },
            );
            added.push(k);
        }
        let offer = conn.pc.create_offer(None).await?;
        let sdp = conn.local_with_candidates(offer).await?;
        let tracks = self
            .current
            .values()
            .map(|s| TrackInfo {
                id: client_track_id(&s.track),
                participant: s.track.publisher.clone(),
                source: s.track.source,
            })
            .collect();
        let offer = ServerMessage::SubscribeOffer { sdp, tracks };
        self.last_offer = Some(offer.clone());
        self.tell(offer);
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
        let up = *conn.connected.borrow();
        if up {
            self.activate(added, want).await;
        } else {
            self.unconnected.extend(added);
        }
    }

    /// Starts forwarding the answered tracks `keys` that are still wanted.
    async fn activate(&mut self, keys: Vec<(String, String)>, want: &[Arc<PublishedTrack>]) {
        for k in keys {
            let Some(s) = self.current.get_mut(&k) else {
                continue;
            };
            s.ready = true;
            // Only tracks still wanted now: a route revoked while the offer was out stays off.
            if want.iter().any(|t| Arc::ptr_eq(t, &s.track)) {
                s.track.add_output(s.output.clone());
                s.track.request_keyframe(u8::MAX).await;
            }
        }
        self.allocate_layers();
    }

    /// Forwarding of ready tracks that are wanted again (the room may cut a route and restore
    /// it before this actor saw the cut) starts again.
    async fn restore(&mut self, want: &[Arc<PublishedTrack>]) {
        for s in self.current.values() {
            if s.ready
                && want.iter().any(|t| Arc::ptr_eq(t, &s.track))
                && !s.track.has_output(self.owner)
            {
                s.track.add_output(s.output.clone());
                s.track.request_keyframe(u8::MAX).await;
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

/// A subscriber's RTCP about one track: key-frame requests go to the publisher (for the layer
/// this subscriber gets; rate-limited there), bandwidth estimates to the actor.
async fn feedback(
    local: Arc<webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP>,
    track: Arc<PublishedTrack>,
    output: Arc<Output>,
    estimate: Arc<watch::Sender<u64>>,
) {
    use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
    while let Some(TrackLocalEvent::OnRtcpPacket(packets)) = local.poll().await {
        let mut keyframe = false;
        for p in &packets {
            match p.as_any().downcast_ref::<ReceiverEstimatedMaximumBitrate>() {
                Some(remb) if remb.bitrate.is_finite() && remb.bitrate >= 0.0 => {
                    // Saturating float-to-int conversion.
                    let bps = remb.bitrate as u64;
                    estimate.send_if_modified(|e| std::mem::replace(e, bps) != bps);
                }
                Some(_) => {}
                None => keyframe = true,
            }
        }
        if keyframe {
            let layers = output.layer.current().map_or(u8::MAX, |l| 1 << l);
            track.request_keyframe(layers).await;
        }
    }
}

fn rand_ssrc() -> u32 {
    u32::from_be_bytes(crate::auth::random_bytes::<4>())
}

/// Resolves once the connection is up (never without one).
async fn until_connected(connected: Option<&mut watch::Receiver<bool>>) {
    match connected {
        Some(rx) => {
            if rx.wait_for(|up| *up).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
