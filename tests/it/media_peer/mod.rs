//! A test participant with real WebRTC media (the `webrtc` crate): it joins through signaling,
//! publishes Opus and VP8 RTP with known payloads, answers the server's subscribe offers, and
//! counts what it receives per publisher, checking every payload byte for byte.

mod publish;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gavel::sfu::PeerFactory;
use gavel::sfu::conn::Conn;
use gavel_signaling::client::SignalingClient;
use gavel_signaling::{ClientMessage, Connection, MediaKind, ServerMessage};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::RTCSessionDescription;

const T: Duration = Duration::from_secs(10);

/// The payload of packet `seq` of `kind`: what the subscriber must receive, byte for byte.
pub(crate) fn payload(kind: MediaKind, seq: u16) -> Vec<u8> {
    let tag = match kind {
        MediaKind::Audio => 0xA0u8,
        MediaKind::Video => 0xB0u8,
    };
    let len = if kind == MediaKind::Audio { 80 } else { 600 };
    (0..len)
        .map(|i: usize| match i {
            0 => tag,
            1 => (seq >> 8) as u8,
            2 => seq as u8,
            _ => (i as u16).wrapping_mul(31).wrapping_add(seq) as u8,
        })
        .collect()
}

/// Packets received from one publisher's track of one kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counter {
    pub packets: u64,
    pub corrupt: u64,
}

/// One video packet as received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub publisher: String,
    /// The track id in the subscribe description.
    pub track: String,
    pub seq: u16,
    pub ts: u32,
    pub payload: Vec<u8>,
}

type Stats = Arc<Mutex<HashMap<(String, MediaKind), Counter>>>;
type Remotes = Arc<Mutex<HashMap<String, Arc<dyn TrackRemote>>>>;
type Log = Arc<Mutex<Vec<Received>>>;

/// Where received packets are logged: video and audio apart.
#[derive(Clone, Default)]
struct Logs {
    video: Log,
    audio: Log,
}

/// Counts, and checks byte for byte, the media of every track arriving on `tracks`; logs video.
fn receive(
    mut tracks: mpsc::Receiver<Arc<dyn TrackRemote>>,
    stats: Stats,
    remotes: Remotes,
    logs: Logs,
) {
    tokio::spawn(async move {
        while let Some(track) = tracks.recv().await {
            let (stats, remotes, logs) = (stats.clone(), remotes.clone(), logs.clone());
            tokio::spawn(async move {
                let publisher = track.stream_id().await;
                let track_id = track.track_id().await;
                let kind = match track.kind().await {
                    RtpCodecKind::Audio => MediaKind::Audio,
                    _ => MediaKind::Video,
                };
                if kind == MediaKind::Video {
                    remotes
                        .lock()
                        .unwrap()
                        .insert(publisher.clone(), track.clone());
                }
                while let Some(ev) = track.poll().await {
                    if let TrackRemoteEvent::OnRtpPacket(p) = ev {
                        let log = match kind {
                            MediaKind::Video => &logs.video,
                            MediaKind::Audio => &logs.audio,
                        };
                        log.lock().unwrap().push(Received {
                            publisher: publisher.clone(),
                            track: track_id.clone(),
                            seq: p.header.sequence_number,
                            ts: p.header.timestamp,
                            payload: p.payload.to_vec(),
                        });
                        let ok = p.payload.as_ref()
                            == payload(kind, p.header.sequence_number).as_slice();
                        let mut s = stats.lock().unwrap();
                        let c = s.entry((publisher.clone(), kind)).or_default();
                        c.packets += 1;
                        if !ok {
                            c.corrupt += 1;
                        }
                    }
                }
            });
        }
    });
}

type Pc = Conn;

async fn new_pc(factory: &PeerFactory, stats: Stats, remotes: Remotes, log: Logs) -> Pc {
    let (tx, rx) = mpsc::channel(8);
    receive(rx, stats, remotes, log);
    Conn::new(factory, Some(tx)).await.unwrap()
}

/// Connections on loopback with every codec Gavel has.
fn loopback() -> PeerFactory {
    PeerFactory::new(vec!["127.0.0.1:0".into()])
}

/// A participant with media.
pub(crate) struct MediaPeer {
    pub id: String,
    out: mpsc::Sender<ClientMessage>,
    /// Every server message except SDP, in order.
    pub events: mpsc::UnboundedReceiver<ServerMessage>,
    answers: mpsc::UnboundedReceiver<String>,
    stats: Stats,
    publish: Option<Pc>,
    stop: Arc<AtomicBool>,
    remotes: Remotes,
    /// Whether subscribe offers are answered (off: a client that stopped cooperating).
    pub answering: Arc<AtomicBool>,
    offers: Arc<std::sync::atomic::AtomicU64>,
    /// RFC 6464 level sent with audio (127: silence).
    level: u8,
    /// Key-frame requests (PLI/FIR) that reached this peer's published video.
    pub keyframe_requests: Arc<std::sync::atomic::AtomicU64>,
    /// Every video packet received, in order.
    pub video_log: Log,
    /// Every audio packet received, in order.
    pub audio_log: Log,
    /// Send descriptions without candidates and the candidates after them (trickle ICE).
    pub trickle: Arc<AtomicBool>,
    /// The server's latest answer to a publish offer.
    pub publish_answer: Option<String>,
    /// Publish camera video as H.264 (as phones and courtroom hardware do) instead of VP8.
    pub h264: bool,
    /// The senders of the published tracks, by track id (to stop one).
    senders: Vec<(String, Arc<dyn webrtc::rtp_transceiver::RtpSender>)>,
    /// Replaces (or, with `None`, drops) the signaling socket.
    socket: mpsc::UnboundedSender<Option<SignalingClient>>,
    /// Closes the subscribe connection (the next offer gets a new one).
    close_sub: mpsc::UnboundedSender<()>,
}

async fn recv_on(
    ws: &mut Option<SignalingClient>,
) -> Result<ServerMessage, gavel_signaling::client::ClientError> {
    match ws {
        Some(ws) => ws.recv(Duration::from_secs(3600)).await,
        None => std::future::pending().await,
    }
}

/// Takes the candidates out of `sdp`, as a trickling browser's early description lacks them:
/// the description, then one `ice_candidate` message per candidate and one to end them.
fn trickled(sdp: &str, pc: Connection) -> (String, Vec<ClientMessage>) {
    let mid = sdp
        .lines()
        .find_map(|l| l.strip_prefix("a=mid:"))
        .map(|m| m.trim().to_owned());
    let mut candidates: Vec<ClientMessage> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a="))
        .filter(|l| l.starts_with("candidate:"))
        .map(|c| ClientMessage::IceCandidate {
            pc,
            candidate: c.trim().to_owned(),
            sdp_mid: mid.clone(),
            sdp_mline_index: Some(0),
        })
        .collect();
    assert!(!candidates.is_empty(), "a description with candidates");
    candidates.push(ClientMessage::IceCandidate {
        pc,
        candidate: String::new(),
        sdp_mid: mid,
        sdp_mline_index: Some(0),
    });
    let bare: String = sdp
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("a=candidate:") && !l.starts_with("a=end-of-candidates"))
        .collect();
    (bare, candidates)
}

impl Drop for MediaPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A new participant of `role` in `hearing`, joined and welcomed.
pub(crate) async fn peer(app: &crate::support::TestApp, hearing: &str, role: &str) -> MediaPeer {
    let id = app.participant(hearing, role).await;
    let token = app.join_token(hearing, &id).await;
    let mut p = MediaPeer::join(app.connect_ws().await, id, &token).await;
    p.expect(|m| matches!(m, ServerMessage::Welcome { .. }))
        .await;
    p
}

impl MediaPeer {
    /// Joins with `token` and starts answering subscribe offers.
    pub(crate) async fn join(ws: SignalingClient, id: String, token: &str) -> MediaPeer {
        Self::join_with(ws, id, token, loopback()).await
    }

    /// The same, receiving through connections of `factory` (fewer codecs: an older device).
    pub(crate) async fn join_with(
        mut ws: SignalingClient,
        id: String,
        token: &str,
        factory: PeerFactory,
    ) -> MediaPeer {
        ws.send(&ClientMessage::Join {
            v: 1,
            token: token.to_owned(),
            resume: false,
        })
        .await
        .unwrap();
        let (out_tx, mut out_rx) = mpsc::channel::<ClientMessage>(64);
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (ans_tx, ans_rx) = mpsc::unbounded_channel();
        let stats: Stats = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (sub_stats, reply) = (stats.clone(), out_tx.clone());
        let remotes: Remotes = Arc::default();
        let sub_remotes = remotes.clone();
        let answering = Arc::new(AtomicBool::new(true));
        let answer_offers = answering.clone();
        let offers = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let offers_seen = offers.clone();
        let sub_log = Logs::default();
        let (video_log, audio_log) = (sub_log.video.clone(), sub_log.audio.clone());
        let trickle = Arc::new(AtomicBool::new(false));
        let trickle_answers = trickle.clone();
        let (socket_tx, mut socket_rx) = mpsc::unbounded_channel::<Option<SignalingClient>>();
        let (close_sub, mut close_rx) = mpsc::unbounded_channel::<()>();
        tokio::spawn(async move {
            let mut sub: Option<Pc> = None;
            // The socket can be dropped and replaced (resume) while the connections stay.
            let mut ws = Some(ws);
            loop {
                tokio::select! {
                    Some(()) = close_rx.recv() => {
                        // The next offer gets a new connection.
                        if let Some(pc) = sub.take() {
                            let _ = pc.pc.close().await;
                        }
                    }
                    s = socket_rx.recv() => match s {
                        Some(s) => ws = s,
                        None => break,
                    },
                    m = out_rx.recv() => match m {
                        Some(m) => {
                            if let Some(w) = ws.as_mut() && w.send(&m).await.is_err() {
                                ws = None;
                            }
                        }
                        None => break,
                    },
                    r = recv_on(&mut ws) => match r {
                        Ok(ServerMessage::PublishAnswer { sdp }) => { let _ = ans_tx.send(sdp); }
                        Ok(ServerMessage::SubscribeOffer { sdp, tracks }) => {
                            offers_seen.fetch_add(1, Ordering::Relaxed);
                            let offered = sdp.clone();
                            if answer_offers.load(Ordering::Relaxed) {
                                if sub.is_none() {
                                    sub = Some(new_pc(&factory, sub_stats.clone(), sub_remotes.clone(), sub_log.clone()).await);
                                }
                                let pc = sub.as_mut().unwrap();
                                pc.pc.set_remote_description(RTCSessionDescription::offer(sdp).unwrap()).await.unwrap();
                                let answer = pc.pc.create_answer(None).await.unwrap();
                                let sdp = pc.local_with_candidates(answer).await.unwrap();
                                if trickle_answers.load(Ordering::Relaxed) {
                                    let (sdp, candidates) = trickled(&sdp, Connection::Subscribe);
                                    let _ = reply.send(ClientMessage::SubscribeAnswer { sdp }).await;
                                    for c in candidates {
                                        let _ = reply.send(c).await;
                                    }
                                } else {
                                    let _ = reply.send(ClientMessage::SubscribeAnswer { sdp }).await;
                                }
                            }
                            let _ = ev_tx.send(ServerMessage::SubscribeOffer { sdp: offered, tracks });
                        }
                        Ok(m) => { if ev_tx.send(m).is_err() { break; } }
                        Err(_) => ws = None,
                    },
                }
            }
            if let Some(pc) = sub {
                let _ = pc.pc.close().await;
            }
        });
        MediaPeer {
            id,
            out: out_tx,
            events: ev_rx,
            answers: ans_rx,
            stats,
            publish: None,
            stop,
            remotes,
            answering,
            offers,
            level: 127,
            keyframe_requests: Arc::default(),
            video_log,
            audio_log,
            trickle,
            publish_answer: None,
            socket: socket_tx,
            close_sub,
            h264: false,
            senders: Vec::new(),
        }
    }

    /// Closes the subscribe connection, as a client whose connection failed; a new offer is
    /// answered on a new one.
    pub(crate) fn close_subscribe(&self) {
        self.close_sub.send(()).unwrap();
    }

    /// Drops the signaling socket abruptly (no `leave`, no close frame); the peer connections
    /// stay.
    pub(crate) fn drop_socket(&self) {
        self.socket.send(None).unwrap();
    }

    /// Joins again on `ws` with `token`, asking to keep the media (`resume`).
    pub(crate) async fn rejoin(&self, mut ws: SignalingClient, token: &str, resume: bool) {
        ws.send(&ClientMessage::Join {
            v: 1,
            token: token.to_owned(),
            resume,
        })
        .await
        .unwrap();
        self.socket.send(Some(ws)).unwrap();
    }

    /// Set when this peer is dropped.
    pub(crate) fn stopped(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    pub(crate) async fn send(&self, m: ClientMessage) {
        self.out.send(m).await.unwrap();
    }

    /// The next server message matching `f` (others are skipped).
    pub(crate) async fn expect(&mut self, f: impl Fn(&ServerMessage) -> bool) -> ServerMessage {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            let m = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .expect("expected message in time")
                .expect("connection open");
            if f(&m) {
                return m;
            }
        }
    }

    /// The codec of `publisher`'s video as this peer receives it.
    pub(crate) async fn video_codec(&self, publisher: &str) -> String {
        let (track, ssrc) = self.video_from(publisher).await;
        track.codec(ssrc).await.unwrap().mime_type
    }

    /// Sends a picture-loss indication for `publisher`'s video, as a decoder that lost a frame.
    pub(crate) async fn request_keyframe(&self, publisher: &str) {
        let (track, ssrc) = self.video_from(publisher).await;
        let pli = rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: ssrc,
        };
        track.write_rtcp(vec![Box::new(pli)]).await.unwrap();
    }

    /// Reports a downlink estimate of `bps` (REMB), as a browser's receiver does.
    pub(crate) async fn report_bandwidth(&self, publisher: &str, bps: u32) {
        use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
        let (track, ssrc) = self.video_from(publisher).await;
        let remb = ReceiverEstimatedMaximumBitrate {
            sender_ssrc: 1,
            bitrate: bps as f32,
            ssrcs: vec![ssrc],
        };
        track.write_rtcp(vec![Box::new(remb)]).await.unwrap();
    }

    /// The id of `publisher`'s video track as this peer received it.
    pub(crate) async fn video_track_id(&self, publisher: &str) -> String {
        self.video_from(publisher).await.0.track_id().await
    }

    async fn video_from(&self, publisher: &str) -> (Arc<dyn TrackRemote>, u32) {
        let track = self
            .remotes
            .lock()
            .unwrap()
            .get(publisher)
            .cloned()
            .unwrap();
        let ssrc = track.ssrcs().await[0];
        (track, ssrc)
    }

    /// Subscribe offers received so far.
    pub(crate) fn offers(&self) -> u64 {
        self.offers.load(Ordering::Relaxed)
    }

    /// What arrived from `publisher`'s `kind` track so far.
    pub(crate) fn received(&self, publisher: &str, kind: MediaKind) -> Counter {
        self.stats
            .lock()
            .unwrap()
            .get(&(publisher.to_owned(), kind))
            .copied()
            .unwrap_or_default()
    }

    /// Waits until more than `n` packets of `kind` arrived from `publisher`.
    pub(crate) async fn wait_received(&self, publisher: &str, kind: MediaKind, n: u64) -> Counter {
        crate::support::wait_for(T, "media to arrive", || async {
            let c = self.received(publisher, kind);
            (c.packets > n).then_some(c)
        })
        .await
    }
}
