//! Load peers for `gavel bench sfu`: real `webrtc` peer connections that join through the real
//! signaling, publish the pre-encoded clip (Opus and 720p VP8, see `clip`) in real time, and
//! count what they receive. Publishers note each packet's send time by sequence number (one
//! process, one monotonic clock), so receivers measure end-to-end forwarding latency without
//! clock sync and without touching the payloads.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gavel_signaling::client::SignalingClient;
use gavel_signaling::{ClientMessage, MediaKind, ServerMessage};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, RTCSessionDescription};

use gavel::sfu::PeerFactory;
use gavel::sfu::conn::Conn;

use gavel::clip::Clip;

const T: Duration = Duration::from_secs(30);

/// When each packet of one published track was sent, microseconds after the meter's epoch, by
/// RTP sequence number (the SFU keeps sequence numbers of single-stream tracks).
pub(crate) struct SendLog(Box<[AtomicU64]>);

impl SendLog {
    fn new() -> Arc<Self> {
        Arc::new(Self((0..=u16::MAX).map(|_| AtomicU64::new(0)).collect()))
    }

    fn note(&self, seq: u16, us: u64) {
        self.0[usize::from(seq)].store(us, Ordering::Relaxed);
    }

    fn sent_at(&self, seq: u16) -> Option<u64> {
        Some(self.0[usize::from(seq)].load(Ordering::Relaxed)).filter(|&us| us > 0)
    }
}

impl std::fmt::Debug for SendLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SendLog")
    }
}

type Logs = Mutex<HashMap<(String, MediaKind), Arc<SendLog>>>;

/// Shared measurement state.
#[derive(Debug)]
pub(crate) struct Meter {
    /// The clock every payload's send time is measured on.
    pub(crate) epoch: Instant,
    /// Counting starts after this many ms from `epoch` (warm-up) ...
    pub(crate) window_start_ms: AtomicU64,
    /// ... and ends here.
    pub(crate) window_end_ms: AtomicU64,
    /// Packets sent inside the window.
    pub(crate) sent: AtomicU64,
    /// Bytes of payload sent inside the window.
    pub(crate) sent_bytes: AtomicU64,
    /// Packets received whose send time is inside the window.
    pub(crate) received: AtomicU64,
    /// One-way latencies of packets received in the window, microseconds.
    pub(crate) latencies_us: Mutex<Vec<u32>>,
    /// The same, of audio packets alone: speech is what a hearing notices first, and it
    /// shares each subscriber's connection (and the server's core) with video's key frames.
    pub(crate) audio_latencies_us: Mutex<Vec<u32>>,
    /// Time from opening the WebSocket to the first media packet, per subscriber, ms.
    pub(crate) joins_ms: Mutex<Vec<f64>>,
    /// Set when the run is over.
    pub(crate) stop: AtomicBool,
    /// WHEP viewers the server's media plane carries (its answer is ICE-lite).
    pub(crate) plane_viewers: AtomicU64,
    /// What publishers send.
    clip: Clip,
    /// Send times per (publisher, kind).
    logs: Logs,
}

impl Meter {
    /// A meter whose window is not yet open, for publishers sending `clip`.
    pub(crate) fn new(clip: Clip) -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            window_start_ms: AtomicU64::new(u64::MAX),
            window_end_ms: AtomicU64::new(u64::MAX),
            sent: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            received: AtomicU64::new(0),
            latencies_us: Mutex::new(Vec::new()),
            audio_latencies_us: Mutex::new(Vec::new()),
            joins_ms: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            plane_viewers: AtomicU64::new(0),
            clip,
            logs: Mutex::default(),
        })
    }

    fn log(&self, publisher: &str, kind: MediaKind) -> Option<Arc<SendLog>> {
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.get(&(publisher.to_owned(), kind)).cloned()
    }

    fn new_log(&self, publisher: &str, kind: MediaKind) -> Arc<SendLog> {
        let log = SendLog::new();
        self.logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((publisher.to_owned(), kind), log.clone());
        log
    }

    fn in_window(&self, ms: u64) -> bool {
        ms >= self.window_start_ms.load(Ordering::Relaxed)
            && ms < self.window_end_ms.load(Ordering::Relaxed)
    }
}

/// Sees every packet a load peer receives, with its publisher and kind (for measures the meter
/// does not take, e.g. matching a courtroom camera's frames).
pub(crate) type Tap = Arc<dyn Fn(&str, MediaKind, &rtc::rtp::Packet) + Send + Sync>;

/// Counts the media of every track arriving on `tracks` into `meter`; the first packet on any
/// track completes the participant's join.
fn count(
    mut tracks: mpsc::Receiver<Arc<dyn TrackRemote>>,
    meter: Arc<Meter>,
    joined: Instant,
    tap: Option<Tap>,
) {
    let first_packet = Arc::new(AtomicBool::new(false));
    tokio::spawn(async move {
        while let Some(track) = tracks.recv().await {
            let (meter, first_packet, tap) = (meter.clone(), first_packet.clone(), tap.clone());
            tokio::spawn(async move {
                let publisher = track.stream_id().await;
                let kind = match track.kind().await {
                    rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio => MediaKind::Audio,
                    _ => MediaKind::Video,
                };
                let mut log = None;
                while let Some(ev) = track.poll().await {
                    let TrackRemoteEvent::OnRtpPacket(p) = ev else {
                        continue;
                    };
                    if let Some(tap) = &tap {
                        tap(&publisher, kind, &p);
                    }
                    if !first_packet.swap(true, Ordering::Relaxed) {
                        let ms = joined.elapsed().as_secs_f64() * 1000.0;
                        meter
                            .joins_ms
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(ms);
                    }
                    if log.is_none() {
                        log = meter.log(&publisher, kind);
                    }
                    let Some(sent_us) = log
                        .as_ref()
                        .and_then(|l| l.sent_at(p.header.sequence_number))
                    else {
                        continue;
                    };
                    if !meter.in_window(sent_us / 1000) {
                        continue;
                    }
                    meter.received.fetch_add(1, Ordering::Relaxed);
                    let now_us =
                        u64::try_from(meter.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
                    let lat = u32::try_from(now_us.saturating_sub(sent_us)).unwrap_or(u32::MAX);
                    meter
                        .latencies_us
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(lat);
                    if kind == MediaKind::Audio {
                        meter
                            .audio_latencies_us
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(lat);
                    }
                }
            });
        }
    });
}

async fn pc(tracks: Option<mpsc::Sender<Arc<dyn TrackRemote>>>) -> anyhow::Result<Conn> {
    Ok(Conn::new(&PeerFactory::new(vec!["127.0.0.1:0".into()]), tracks).await?)
}

/// One load participant; dropped when the run ends.
pub(crate) struct LoadPeer {
    _pcs: Vec<Arc<dyn PeerConnection>>,
    _task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for LoadPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadPeer").finish_non_exhaustive()
    }
}

/// Joins with `token` at `addr`; publishes if `publish`; counts received media into `meter`.
pub(crate) async fn join(
    addr: SocketAddr,
    host: &str,
    tls: Arc<rustls::ClientConfig>,
    token: String,
    publish: bool,
    meter: Arc<Meter>,
    tap: Option<Tap>,
) -> anyhow::Result<LoadPeer> {
    let joined = Instant::now();
    let mut ws = SignalingClient::connect(addr, host, tls).await?;
    ws.send(&ClientMessage::Join {
        v: 1,
        token,
        resume: false,
    })
    .await?;
    let me = match ws.recv(T).await? {
        ServerMessage::Welcome { you, .. } => you.id,
        other => anyhow::bail!("join refused: {other:?}"),
    };
    let mut pcs = Vec::new();
    let mut tracks = Vec::new();
    if publish {
        let mut p = pc(None).await?;
        for kind in [MediaKind::Audio, MediaKind::Video] {
            let t = local_track(&me, kind);
            p.pc.add_track(t.clone() as Arc<dyn TrackLocal>).await?;
            tracks.push((t, kind));
        }
        let offer = p.pc.create_offer(None).await?;
        let sdp = p.local_with_candidates(offer).await?;
        ws.send(&ClientMessage::PublishOffer {
            sdp,
            screen: Vec::new(),
        })
        .await?;
        let answer = loop {
            if let ServerMessage::PublishAnswer { sdp } = ws.recv(T).await? {
                break sdp;
            }
        };
        p.pc.set_remote_description(RTCSessionDescription::answer(answer)?)
            .await?;
        pcs.push(p.pc.clone());
    }
    for (track, kind) in tracks {
        let log = meter.new_log(&me, kind);
        tokio::spawn(pump(track, kind, meter.clone(), log));
    }
    let (tracks_tx, tracks_rx) = mpsc::channel(8);
    count(tracks_rx, meter.clone(), joined, tap);
    let mut sub = pc(Some(tracks_tx)).await?;
    pcs.push(sub.pc.clone());
    let stop = meter.clone();
    let task = tokio::spawn(async move {
        while !stop.stop.load(Ordering::Relaxed) {
            match ws.recv(Duration::from_secs(1)).await {
                Ok(ServerMessage::SubscribeOffer { sdp, .. }) => {
                    let Ok(offer) = RTCSessionDescription::offer(sdp) else {
                        break;
                    };
                    if sub.pc.set_remote_description(offer).await.is_err() {
                        break;
                    }
                    let Ok(answer) = sub.pc.create_answer(None).await else {
                        break;
                    };
                    let Ok(sdp) = sub.local_with_candidates(answer).await else {
                        break;
                    };
                    if ws
                        .send(&ClientMessage::SubscribeAnswer { sdp })
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                Ok(_) => {}
                Err(gavel_signaling::client::ClientError::Timeout) => {
                    let _ = ws.send(&ClientMessage::Ping { id: 0 }).await;
                }
                Err(_) => break,
            }
        }
        ws.close().await;
    });
    Ok(LoadPeer {
        _pcs: pcs,
        _task: task,
    })
}

/// Watches a publisher over WHEP at `url` (a receive-only offer, with the platform's `key`);
/// counts what arrives into `meter`.
pub(crate) async fn watch(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    meter: Arc<Meter>,
) -> anyhow::Result<LoadPeer> {
    use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
    use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
    let joined = Instant::now();
    let (tracks_tx, tracks_rx) = mpsc::channel(8);
    count(tracks_rx, meter.clone(), joined, None);
    let mut conn = pc(Some(tracks_tx)).await?;
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Recvonly,
            streams: vec![],
            send_encodings: vec![],
        };
        conn.pc.add_transceiver_from_kind(kind, Some(init)).await?;
    }
    let offer = conn.pc.create_offer(None).await?;
    let offer = conn.local_with_candidates(offer).await?;
    let res = client
        .post(url)
        .bearer_auth(key)
        .header("content-type", "application/sdp")
        .body(offer)
        .send()
        .await?;
    let status = res.status();
    let answer = res.text().await?;
    anyhow::ensure!(status.as_u16() == 201, "WHEP {url}: {status} {answer}");
    if answer.contains("a=ice-lite") {
        meter.plane_viewers.fetch_add(1, Ordering::Relaxed);
    }
    conn.pc
        .set_remote_description(RTCSessionDescription::answer(answer)?)
        .await?;
    Ok(LoadPeer {
        _pcs: vec![conn.pc.clone()],
        _task: tokio::spawn(async {}),
    })
}

/// Sends the clip's `kind` in real time, looping, until the run stops.
async fn pump(
    track: Arc<TrackLocalStaticRTP>,
    kind: MediaKind,
    meter: Arc<Meter>,
    log: Arc<SendLog>,
) {
    use webrtc::media_stream::Track;
    let Some(ssrc) = track
        .codings()
        .await
        .first()
        .and_then(|c| c.rtp_coding_parameters.ssrc)
    else {
        return;
    };
    // Frames (video, 30 a second) or packets (audio, 50 a second), each as RTP payloads.
    let (units, period_us, pt, step): (Vec<&[bytes::Bytes]>, u64, u8, u32) = match kind {
        MediaKind::Audio => (
            meter.clip.audio.iter().map(std::slice::from_ref).collect(),
            20_000,
            111,
            960,
        ),
        MediaKind::Video => (
            meter.clip.video.iter().map(Vec::as_slice).collect(),
            33_333,
            96,
            3000,
        ),
    };
    let mut tick = tokio::time::interval(Duration::from_micros(period_us));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut seq: u16 = 0;
    let mut ts: u32 = 0;
    for unit in units.iter().cycle() {
        if meter.stop.load(Ordering::Relaxed) {
            break;
        }
        tick.tick().await;
        for (i, payload) in unit.iter().enumerate() {
            let sent_us = u64::try_from(meter.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
            log.note(seq, sent_us);
            if meter.in_window(sent_us / 1000) {
                meter.sent.fetch_add(1, Ordering::Relaxed);
                meter
                    .sent_bytes
                    .fetch_add(payload.len() as u64, Ordering::Relaxed);
            }
            let packet = rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    payload_type: pt,
                    sequence_number: seq,
                    timestamp: ts,
                    ssrc,
                    marker: kind == MediaKind::Video && i + 1 == unit.len(),
                    ..Default::default()
                },
                payload: payload.clone(),
            };
            if track.write_rtp(packet).await.is_err() {
                return;
            }
            seq = seq.wrapping_add(1);
        }
        ts = ts.wrapping_add(step);
    }
}

fn local_track(id: &str, kind: MediaKind) -> Arc<TrackLocalStaticRTP> {
    gavel::sfu::track::local_track(
        id.to_owned(),
        format!("{id}-{kind:?}"),
        kind,
        gavel::sfu::track::default_codec(kind),
        u32::from_be_bytes(gavel::auth::random_bytes::<4>()),
    )
}

/// Loads the media plane directly (`gavel bench sfu --plane`): `publishers` load peers publish
/// the clip, each received by `subscribers` peers, with the same media, counting and latency
/// as the peers that join through signaling.
pub(crate) async fn on_plane(
    plane: &gavel::sfu::plane::Plane,
    publishers: usize,
    subscribers: usize,
    meter: &Arc<Meter>,
) -> anyhow::Result<Vec<Arc<dyn PeerConnection>>> {
    let mut peers = Vec::new();
    for n in 0..publishers {
        let name = format!("publisher-{n}");
        let mut p = pc(None).await?;
        let mut tracks = Vec::new();
        for kind in [MediaKind::Audio, MediaKind::Video] {
            let t = local_track(&name, kind);
            p.pc.add_track(t.clone() as Arc<dyn TrackLocal>).await?;
            tracks.push((t, kind));
        }
        let offer = p.pc.create_offer(None).await?;
        let sdp = p.local_with_candidates(offer).await?;
        let (id, answer) = plane.publish(sdp).await?;
        p.pc.set_remote_description(RTCSessionDescription::answer(answer)?)
            .await?;
        for (track, kind) in tracks {
            let log = meter.new_log(&name, kind);
            tokio::spawn(pump(track, kind, meter.clone(), log));
        }
        peers.push(p.pc);
        for _ in 0..subscribers {
            let joined = Instant::now();
            let (tx, rx) = mpsc::channel(8);
            count(rx, meter.clone(), joined, None);
            let mut s = Conn::new(
                &PeerFactory::new(vec!["127.0.0.1:0".into()]).sending(),
                Some(tx),
            )
            .await?;
            let (sid, offer) = plane.subscribe(id, name.clone()).await?;
            s.pc.set_remote_description(RTCSessionDescription::offer(offer)?)
                .await?;
            let answer = s.pc.create_answer(None).await?;
            let sdp = s.local_with_candidates(answer).await?;
            plane.answer(sid, sdp).await?;
            peers.push(s.pc);
        }
    }
    Ok(peers)
}
