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

mod downlink;
mod negotiation;
mod publish;
mod subscribe;
mod uplink;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gavel_signaling::{Connection, ErrorCode, ServerMessage};
use tokio::sync::{mpsc, watch};

use super::track::{Outlet, PublishedTrack};
use super::{PeerFactory, SfuError};
use crate::domain::{ParticipantId, Role, TrackKey};
use crate::sfu::link::{Outbound, RoomLink};
use downlink::Downlink;
use negotiation::Negotiation;
use uplink::{PublishLink, TrackSinks};

/// How long to wait for ICE gathering, and for the client's answer to a subscribe offer.
pub(crate) const NEGOTIATION_TIMEOUT: Duration = Duration::from_secs(10);

/// Numbers actors (so outlets belong to one session, not just one participant) and tracks.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A fresh outlet owner id, for a subscriber that is not a media actor (a WHEP viewer).
pub fn new_owner() -> u64 {
    next_id()
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

    /// Stops the actor: its outlets stop, both connections close, its messages end.
    pub fn close(&self) {
        self.cancel.cancel();
    }

    /// The id its outlets carry.
    pub fn owner(&self) -> u64 {
        self.owner
    }
}

/// What the actor needs to know about its participant.
#[derive(Debug)]
pub struct PeerContext {
    /// Participant id.
    pub participant: ParticipantId,
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
    let actor = MediaActor {
        owner,
        ctx,
        publish: None,
        subscribe: None,
        current: HashMap::new(),
        track_sinks: None,
        estimate: Arc::new(watch::channel(INITIAL_ESTIMATE_BPS).0),
        video_sizes: HashMap::new(),
        negotiation: Negotiation::new(NEGOTIATION_TIMEOUT),
        offered: Arc::default(),
        last_offer: None,
        published: HashMap::new(),
        candidates: (0, 0),
        accepted_video: None,
        untakeable: Default::default(),
    };
    // Inside the session's span (hearing, participant): the actor's lines say whose media.
    let span = tracing::info_span!("media", participant = %actor.ctx.participant);
    tokio::spawn(tracing::Instrument::instrument(
        actor.run(cmd_rx, desired_rx, cancel.clone()),
        span,
    ));
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
    sender: downlink::Sender,
    outlet: Arc<Outlet>,
    /// Answered by the client on a connection that is up: forwarding may run whenever the
    /// room allows it.
    ready: bool,
}

struct MediaActor {
    owner: u64,
    ctx: PeerContext,
    publish: Option<PublishLink>,
    subscribe: Option<Downlink>,
    /// Tracks on the subscribe connection, by (publisher, key).
    current: HashMap<(ParticipantId, TrackKey), Subscribed>,
    /// Where the publish connection's new tracks go (none once shutting down).
    track_sinks: Option<TrackSinks>,
    /// The client's downlink estimate (REMB), bits per second.
    estimate: Arc<watch::Sender<u64>>,
    /// Tile heights the client reported, by track id.
    video_sizes: HashMap<String, u32>,
    /// The subscribe connection's offers and answers. Answered tracks wait in it for the
    /// connection to come up: started then, so the key frame asked for on their behalf is not
    /// lost to a connection not yet up.
    negotiation: Negotiation<(ParticipantId, TrackKey)>,
    /// What the latest publish offer said of its tracks (screen shares, the level extension).
    offered: Arc<std::sync::Mutex<uplink::Offered>>,
    /// The latest subscribe offer sent (sent again on a resume while unanswered).
    last_offer: Option<ServerMessage>,
    /// This participant's published tracks, by the client's track id.
    published: HashMap<String, Arc<PublishedTrack>>,
    /// Candidates trickled so far on the publish and subscribe connections.
    candidates: (usize, usize),
    /// The video codecs the client takes, from its first subscribe answer (`None` before).
    accepted_video: Option<Vec<crate::sfu::codec::MediaCodec>>,
    /// Wanted tracks the client can take in no form (not offered again while wanted).
    untakeable: std::collections::HashSet<(ParticipantId, TrackKey)>,
}

/// The id a subscriber sees for `track` (its msid track id).
fn client_track_id(track: &PublishedTrack) -> String {
    format!("{}-{}", track.publisher, track.key)
}

impl MediaActor {
    async fn run(
        mut self,
        mut cmds: mpsc::Receiver<PeerCmd>,
        mut desired: watch::Receiver<Vec<Arc<PublishedTrack>>>,
        cancel: tokio_util::sync::CancellationToken,
    ) {
        // overflow: drop (a client offering more tracks than this at once is misbehaving)
        let (own, mut track_rx) = mpsc::channel(8);
        // overflow: drop (as above)
        let (plane, mut plane_track_rx) = mpsc::channel(8);
        self.track_sinks = Some(TrackSinks {
            own,
            plane,
            participant: self.ctx.participant.clone(),
            offered: self.offered.clone(),
        });
        let mut estimate = self.estimate.subscribe();
        let mut reallocate = tokio::time::interval(REALLOCATE_EVERY);
        reallocate.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.negotiation.poll_timeout();
            let mut connected = self.subscribe.as_ref().map(Downlink::connected);
            let mut gone = self.subscribe.as_ref().and_then(Downlink::gone);
            tokio::select! {
                () = until_gone(gone.as_mut()) => self.downlink_gone().await,
                () = until_connected(connected.as_mut()), if self.negotiation.waits_for_connection() => {
                    let want = desired.borrow().clone();
                    let keys = self.negotiation.handle_connected();
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
                        if let Some(added) = self.negotiation.handle_answer() {
                            let want = desired.borrow().clone();
                            self.subscribe_answer(sdp, added, &want).await;
                        }
                    }
                    Some(PeerCmd::Candidate { pc, candidate, sdp_mid, sdp_mline_index }) => {
                        self.candidate(pc, candidate, sdp_mid, sdp_mline_index).await;
                    }
                    Some(PeerCmd::Rebind(out)) => {
                        self.ctx.out = out;
                        // An offer the old socket may never have delivered goes out again.
                        if self.negotiation.handle_rebind(now())
                            && let Some(offer) = self.last_offer.clone()
                        {
                            self.tell(offer);
                        }
                    }
                    Some(PeerCmd::VideoSize { track, height }) => {
                        // Only tracks this client receives; a client cannot grow the map.
                        let shown = self
                            .current
                            .values()
                            .find(|s| client_track_id(&s.track) == track)
                            .map(|s| (s.track.clone(), s.outlet.clone()));
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
                    self.negotiation.handle_wanted_changed();
                }
                () = sleep_until(deadline) => {
                    if let Some(added) = self.negotiation.handle_timeout(now()) {
                        tracing::warn!("no answer to the subscribe offer in time");
                        self.roll_back(&added).await;
                    }
                }
                Some(track) = track_rx.recv() => self.published(track).await,
                Some((id, track)) = plane_track_rx.recv() => self.published_on_plane(id, track).await,
            }
            if self.negotiation.poll_renegotiate() {
                let want = desired.borrow().clone();
                let added = self.renegotiate(&want).await;
                self.negotiation.offered(now(), added);
            }
        }
        self.shutdown().await;
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

    /// The media plane closed the subscribe connection (ICE or DTLS failed, or the client
    /// closed it): its tracks stop, and what the participant may receive is offered afresh on
    /// a new connection.
    async fn downlink_gone(&mut self) {
        tracing::warn!("the subscribe connection is gone; a new one is offered");
        for (_, s) in self.current.drain() {
            s.track.remove_outlet(self.owner);
        }
        self.video_sizes.clear();
        self.last_offer = None;
        if let Some(d) = self.subscribe.take() {
            d.close().await;
        }
        self.negotiation.handle_lost();
    }

    async fn shutdown(&mut self) {
        for s in self.current.values() {
            s.track.remove_outlet(self.owner);
        }
        self.track_sinks = None;
        if let Some(link) = self.publish.take() {
            link.close().await;
        }
        if let Some(downlink) = self.subscribe.take() {
            downlink.close().await;
        }
    }
}

/// The time the negotiation is told: tokio's clock, which its timers follow.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Resolves once `gone`'s sender is dropped (never without one).
async fn until_gone(gone: Option<&mut watch::Receiver<bool>>) {
    match gone {
        Some(rx) => while rx.changed().await.is_ok() {},
        None => std::future::pending().await,
    }
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

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}
