//! Load peers for `gavel bench sfu`: real `webrtc` peer connections that join through the real
//! signaling, publish Opus-sized and VP8-sized RTP at the rates of a 720p call, and count what
//! they receive. Each payload carries its send time (one process, one monotonic clock), so the
//! receivers measure end-to-end forwarding latency without clock sync.

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

/// The load per publisher (the same as the published Janus comparison): Opus at 50 packets/s
/// and 720p VP8 at 1.2 Mbit/s in 141 packets/s.
pub(crate) const AUDIO_PPS: u64 = 50;
/// Audio payload bytes.
pub(crate) const AUDIO_BYTES: usize = 100;
/// Video packets per second.
pub(crate) const VIDEO_PPS: u64 = 141;
/// Video payload bytes (1.2 Mbit/s / 141).
pub(crate) const VIDEO_BYTES: usize = 1064;

const T: Duration = Duration::from_secs(30);

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
    /// Time from opening the WebSocket to the first media packet, per subscriber, ms.
    pub(crate) joins_ms: Mutex<Vec<f64>>,
    /// Set when the run is over.
    pub(crate) stop: AtomicBool,
}

impl Meter {
    /// A meter whose window is not yet open.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            window_start_ms: AtomicU64::new(u64::MAX),
            window_end_ms: AtomicU64::new(u64::MAX),
            sent: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            received: AtomicU64::new(0),
            latencies_us: Mutex::new(Vec::new()),
            joins_ms: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        })
    }

    fn in_window(&self, ms: u64) -> bool {
        ms >= self.window_start_ms.load(Ordering::Relaxed)
            && ms < self.window_end_ms.load(Ordering::Relaxed)
    }
}

/// Counts the media of every track arriving on `tracks` into `meter`; the first packet on any
/// track completes the participant's join.
fn count(mut tracks: mpsc::Receiver<Arc<dyn TrackRemote>>, meter: Arc<Meter>, joined: Instant) {
    let first_packet = Arc::new(AtomicBool::new(false));
    tokio::spawn(async move {
        while let Some(track) = tracks.recv().await {
            let (meter, first_packet) = (meter.clone(), first_packet.clone());
            tokio::spawn(async move {
                while let Some(ev) = track.poll().await {
                    let TrackRemoteEvent::OnRtpPacket(p) = ev else {
                        continue;
                    };
                    if !first_packet.swap(true, Ordering::Relaxed) {
                        let ms = joined.elapsed().as_secs_f64() * 1000.0;
                        meter
                            .joins_ms
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(ms);
                    }
                    let Some(sent_us) = p
                        .payload
                        .get(..8)
                        .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
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
) -> anyhow::Result<LoadPeer> {
    let joined = Instant::now();
    let mut ws = SignalingClient::connect(addr, host, tls).await?;
    ws.send(&ClientMessage::Join { v: 1, token }).await?;
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
        tokio::spawn(pump(track, kind, meter.clone()));
    }
    let (tracks_tx, tracks_rx) = mpsc::channel(8);
    count(tracks_rx, meter.clone(), joined);
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

async fn pump(track: Arc<TrackLocalStaticRTP>, kind: MediaKind, meter: Arc<Meter>) {
    use webrtc::media_stream::Track;
    let Some(ssrc) = track
        .codings()
        .await
        .first()
        .and_then(|c| c.rtp_coding_parameters.ssrc)
    else {
        return;
    };
    let (pps, bytes, pt, step) = match kind {
        MediaKind::Audio => (AUDIO_PPS, AUDIO_BYTES, 111u8, 960u32),
        MediaKind::Video => (VIDEO_PPS, VIDEO_BYTES, 96, 90_000 / 30),
    };
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / pps));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut seq: u16 = 0;
    let mut ts: u32 = 0;
    let filler = vec![0x5Au8; bytes];
    while !meter.stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let sent_us = u64::try_from(meter.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut payload = filler.clone();
        payload[..8].copy_from_slice(&sent_us.to_be_bytes());
        if meter.in_window(sent_us / 1000) {
            meter.sent.fetch_add(1, Ordering::Relaxed);
            meter.sent_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        }
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                ssrc,
                marker: kind == MediaKind::Video && seq % 5 == 4,
                ..Default::default()
            },
            payload: payload.into(),
        };
        if track.write_rtp(packet).await.is_err() {
            break;
        }
        seq = seq.wrapping_add(1);
        if kind == MediaKind::Audio || seq.is_multiple_of(5) {
            ts = ts.wrapping_add(step);
        }
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
