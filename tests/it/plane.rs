//! The sans-IO media plane with real `webrtc` peers on loopback: a publisher's audio and video
//! reach every subscriber through one shared socket, key-frame requests reach the publisher,
//! and a subscriber leaving or a stranger's datagrams disturb no one else; a viewer whose media
//! is handed in from outside the plane gets it, and its key-frame requests and its end come back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gavel::sfu::PeerFactory;
use gavel::sfu::codec::MediaCodec;
use gavel::sfu::conn::Conn;
use gavel::sfu::plane::{ConnId, Plane, PlaneBatch, PlaneEvent, PlaneSender, PlayTrack};
use gavel::sfu::track::{default_codec, local_track};
use gavel_signaling::MediaKind;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::mpsc;
use webrtc::media_stream::Track;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::RTCSessionDescription;

pub(crate) const T: Duration = Duration::from_secs(20);

pub(crate) fn factory() -> PeerFactory {
    PeerFactory::new(vec!["127.0.0.1:0".into()])
}

/// A publisher sending audio and video, each packet's payload naming its kind and number.
struct Publisher {
    id: ConnId,
    _conn: Conn,
    keyframe_requests: Arc<AtomicU64>,
}

async fn publish(plane: &Plane) -> Publisher {
    let mut p = Conn::new(&factory(), None).await.unwrap();
    let mut tracks = Vec::new();
    for kind in [MediaKind::Audio, MediaKind::Video] {
        let t = local_track(
            "judge".into(),
            format!("judge-{kind:?}"),
            kind,
            default_codec(kind),
            u32::from_be_bytes(gavel::auth::random_bytes::<4>()),
        );
        p.pc.add_track(t.clone() as Arc<dyn TrackLocal>)
            .await
            .unwrap();
        tracks.push((kind, t));
    }
    let offer = p.pc.create_offer(None).await.unwrap();
    let sdp = p.local_with_candidates(offer).await.unwrap();
    let (id, answer) = plane.publish(sdp).await.unwrap();
    p.pc.set_remote_description(RTCSessionDescription::answer(answer).unwrap())
        .await
        .unwrap();
    let keyframe_requests = Arc::new(AtomicU64::new(0));
    for (kind, track) in tracks.clone() {
        if kind == MediaKind::Video {
            let (t, n) = (track.clone(), keyframe_requests.clone());
            tokio::spawn(async move {
                while let Some(ev) = t.poll().await {
                    if let TrackLocalEvent::OnRtcpPacket(_) = ev {
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        tokio::spawn(async move {
            let ssrc = track.codings().await[0].rtp_coding_parameters.ssrc.unwrap();
            let (pt, tag) = match kind {
                MediaKind::Audio => (111, b'a'),
                MediaKind::Video => (96, b'v'),
            };
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for seq in 0u16.. {
                tick.tick().await;
                let packet = rtc::rtp::Packet {
                    header: rtc::rtp::header::Header {
                        version: 2,
                        payload_type: pt,
                        sequence_number: seq,
                        timestamp: u32::from(seq) * 960,
                        ssrc,
                        marker: true,
                        ..Default::default()
                    },
                    payload: bytes::Bytes::from(format!("{}{seq}", tag as char)),
                };
                if track.write_rtp(packet).await.is_err() {
                    return;
                }
            }
        });
    }
    Publisher {
        id,
        _conn: p,
        keyframe_requests,
    }
}

/// A subscriber: its connection, and the tracks that arrived on it.
pub(crate) struct Subscriber {
    pub(crate) id: ConnId,
    pub(crate) _conn: Conn,
    pub(crate) tracks: mpsc::Receiver<Arc<dyn TrackRemote>>,
}

async fn subscribe(plane: &Plane, publisher: ConnId) -> Subscriber {
    let (tx, tracks) = mpsc::channel(8);
    let mut s = Conn::new(&factory().sending(), Some(tx)).await.unwrap();
    let (id, offer) = plane.subscribe(publisher, "judge".into()).await.unwrap();
    s.pc.set_remote_description(RTCSessionDescription::offer(offer).unwrap())
        .await
        .unwrap();
    let answer = s.pc.create_answer(None).await.unwrap();
    let sdp = s.local_with_candidates(answer).await.unwrap();
    plane.answer(id, sdp).await.unwrap();
    Subscriber {
        id,
        _conn: s,
        tracks,
    }
}

/// Waits for both tracks and `n` packets on each; returns the tracks (audio, video).
pub(crate) async fn receive(s: &mut Subscriber, n: usize) -> Vec<Arc<dyn TrackRemote>> {
    let mut got = Vec::new();
    for _ in 0..2 {
        let track = tokio::time::timeout(T, s.tracks.recv())
            .await
            .expect("a track in time")
            .expect("a track");
        let stream = track.stream_id().await;
        assert_eq!(stream, "judge", "the plane names the publisher's stream");
        got.push(track);
    }
    for track in &got {
        let mut seen = 0;
        let mut last = None;
        while seen < n {
            let ev = tokio::time::timeout(T, track.poll())
                .await
                .expect("media in time")
                .expect("the track stays open");
            let TrackRemoteEvent::OnRtpPacket(p) = ev else {
                continue;
            };
            let text = String::from_utf8(p.payload.to_vec()).unwrap();
            let (tag, num) = text.split_at(1);
            let num: u16 = num.parse().unwrap();
            let kind = if p.header.payload_type == 111 {
                "a"
            } else {
                "v"
            };
            assert_eq!(tag, kind, "audio and video stay apart");
            if let Some(l) = last {
                assert!(num > l, "in order: {num} after {l}");
            }
            last = Some(num);
            seen += 1;
        }
    }
    got
}

#[tokio::test]
async fn a_publisher_reaches_every_subscriber_through_one_socket_and_a_leaver_disturbs_no_one() {
    gavel::app::install_crypto_provider();
    let plane = Plane::start("127.0.0.1:0".parse().unwrap(), None).unwrap();
    let publisher = publish(&plane).await;
    let mut subs = Vec::new();
    for _ in 0..3 {
        subs.push(subscribe(&plane, publisher.id).await);
    }
    let mut held = Vec::new();
    for s in &mut subs {
        held.push(receive(s, 25).await);
    }

    // A new subscriber's connection asks for a key frame on its own; a subscriber's own
    // request (a decoder that lost a frame) reaches the publisher too, paced.
    let first = tokio::time::timeout(T, async {
        while publisher.keyframe_requests.load(Ordering::Relaxed) == 0 {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        first.is_ok(),
        "a joining subscriber gets a key frame asked for"
    );
    let before = publisher.keyframe_requests.load(Ordering::Relaxed);
    let video = held[0][1].clone();
    let ssrc = video.ssrcs().await[0];
    tokio::time::timeout(T, async {
        while publisher.keyframe_requests.load(Ordering::Relaxed) == before {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            };
            let _ = video.write_rtcp(vec![Box::new(pli)]).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the subscriber's PLI reaches the publisher");

    // Strangers' datagrams are counted and dropped.
    let stranger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..50 {
        stranger.send_to(&[0x80; 100], plane.addr()).unwrap();
    }
    // A subscriber leaves: the others go on receiving.
    let gone = subs.remove(0);
    plane.close(gone.id).await;
    drop(gone);
    let (h1, h2) = (held.remove(1), held.remove(1));
    for tracks in [h1, h2] {
        for track in tracks {
            let mut more = 0;
            while more < 10 {
                let ev = tokio::time::timeout(T, track.poll())
                    .await
                    .expect("media goes on")
                    .expect("open");
                if matches!(ev, TrackRemoteEvent::OnRtpPacket(_)) {
                    more += 1;
                }
            }
        }
    }
    let stats = tokio::time::timeout(T, async {
        loop {
            let stats = plane.stats().await.unwrap();
            if stats.unrouted >= 50 {
                return stats;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the stranger's datagrams are read, and counted as nobody's");
    assert_eq!(stats.connections, 3, "the publisher and two subscribers");
    assert!(stats.forwarded >= 6 * 25, "{stats:?}");
    assert!(
        stats.send_calls < stats.sent,
        "copies leave in batches: {stats:?}"
    );
    assert!(stats.cpu_us > 0);
}

#[tokio::test]
async fn a_broken_offer_is_refused_and_the_plane_goes_on() {
    gavel::app::install_crypto_provider();
    let plane = Plane::start("127.0.0.1:0".parse().unwrap(), None).unwrap();
    assert!(plane.publish("v=0\r\nnonsense".into()).await.is_err());
    assert!(plane.publish(String::new()).await.is_err());
    assert!(matches!(
        plane.publish("v=0\r\n".repeat(20_000)).await,
        Err(gavel::sfu::plane::PlaneError::TooLarge)
    ));
    assert!(
        plane.subscribe(42, "x".into()).await.is_err(),
        "no such publisher"
    );
    let publisher = publish(&plane).await;
    let mut s = subscribe(&plane, publisher.id).await;
    receive(&mut s, 5).await;
    assert!(
        plane.subscribe(s.id, "x".into()).await.is_err(),
        "a subscriber is not a publisher"
    );
}

/// Hands numbered packets (`a<n>`, `v<n>`) to `senders` (audio, video) every 20 ms until
/// `stop` is set.
pub(crate) fn feed(senders: Vec<PlaneSender>, stop: Arc<std::sync::atomic::AtomicBool>) {
    let codecs = [MediaCodec::Opus, MediaCodec::Vp8];
    feed_as(senders.into_iter().zip(codecs).collect(), stop);
}

/// Hands each sender numbered packets of its codec (`a<n>` for audio, `v<n>` for video)
/// every 20 ms until `stop` is set.
pub(crate) fn feed_as(
    senders: Vec<(PlaneSender, MediaCodec)>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for seq in 0u16.. {
            tick.tick().await;
            if stop.load(Ordering::Relaxed) {
                return;
            }
            for (sender, codec) in &senders {
                let (tag, step) = if *codec == MediaCodec::Opus {
                    ('a', 960)
                } else {
                    ('v', 3000)
                };
                sender.send(rtc::rtp::Packet {
                    header: rtc::rtp::header::Header {
                        version: 2,
                        payload_type: codec.payload_type(),
                        sequence_number: seq,
                        timestamp: u32::from(seq) * step,
                        ssrc: sender.ssrc,
                        marker: true,
                        ..Default::default()
                    },
                    payload: bytes::Bytes::from(format!("{tag}{seq}")),
                });
            }
        }
    });
}

/// Waits for `want` among the plane's events.
pub(crate) async fn event(events: &mut mpsc::Receiver<PlaneEvent>, want: PlaneEvent) {
    tokio::time::timeout(T, async {
        while let Some(e) = events.recv().await {
            if e == want {
                return;
            }
        }
        panic!("the plane stopped telling before {want:?}");
    })
    .await
    .unwrap_or_else(|_| panic!("{want:?} in time"));
}

/// A WHEP-style viewer: its connection, the tracks that arrive on it, and its receive-only
/// offer for audio and video.
async fn viewer() -> (Conn, mpsc::Receiver<Arc<dyn TrackRemote>>, String) {
    let (tx, tracks) = mpsc::channel(8);
    let mut viewer = Conn::new(&factory(), Some(tx)).await.unwrap();
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Recvonly,
            streams: vec![],
            send_encodings: vec![],
        };
        viewer
            .pc
            .add_transceiver_from_kind(kind, Some(init))
            .await
            .unwrap();
    }
    let offer = viewer.pc.create_offer(None).await.unwrap();
    let offer = viewer.local_with_candidates(offer).await.unwrap();
    (viewer, tracks, offer)
}

/// Answers `offer` with the judge's audio and video fed from outside; the plane's events.
async fn play_both(
    plane: &Plane,
    offer: String,
) -> (gavel::sfu::plane::Playing, mpsc::Receiver<PlaneEvent>) {
    let (tx, events) = mpsc::channel(64);
    let tracks = vec![play(MediaCodec::Opus), play(MediaCodec::Vp8)];
    (plane.play(offer, tracks, tx).await.unwrap(), events)
}

pub(crate) fn play(codec: MediaCodec) -> PlayTrack {
    PlayTrack {
        codec,
        stream_id: "judge".into(),
        track_id: format!("judge-{}", codec.mime()),
    }
}

#[tokio::test]
async fn a_plane_on_a_wildcard_address_names_the_announced_one_and_viewers_connect_to_it() {
    gavel::app::install_crypto_provider();
    let announced = std::net::IpAddr::from([127, 0, 0, 1]);
    let plane =
        Plane::start_announcing("0.0.0.0:0".parse().unwrap(), Some(announced), None).unwrap();
    assert_eq!(plane.addr().ip(), announced);
    let (viewer, _tracks, offer) = viewer().await;
    let (playing, mut events) = play_both(&plane, offer).await;
    assert!(
        playing
            .answer
            .contains(&format!("127.0.0.1 {}", plane.addr().port())),
        "the one candidate is the announced address: {}",
        playing.answer
    );
    viewer
        .pc
        .set_remote_description(RTCSessionDescription::answer(playing.answer).unwrap())
        .await
        .unwrap();
    event(&mut events, PlaneEvent::Connected).await;
    // Closing with a token the slot no longer holds leaves the connection alone.
    plane.close_playing(playing.conn, playing.token + 1).await;
    // (Commands are taken in order: the stats come after that close.)
    assert_eq!(plane.stats().await.unwrap().connections, 1);
    plane.close_playing(playing.conn, playing.token).await;
    event(&mut events, PlaneEvent::Closed).await;
}

#[tokio::test]
async fn a_viewer_fed_from_outside_gets_what_is_handed_in_and_its_requests_and_end_come_back() {
    gavel::app::install_crypto_provider();
    let plane = Plane::start("127.0.0.1:0".parse().unwrap(), None).unwrap();
    let (viewer, tracks, offer) = viewer().await;
    assert!(
        matches!(
            plane
                .play(
                    offer.clone(),
                    vec![play(MediaCodec::H264)],
                    mpsc::channel(1).0
                )
                .await,
            Err(gavel::sfu::plane::PlaneError::Codec(_))
        ),
        "a codec the plane does not carry is refused"
    );
    let (playing, mut events) = play_both(&plane, offer).await;
    viewer
        .pc
        .set_remote_description(RTCSessionDescription::answer(playing.answer).unwrap())
        .await
        .unwrap();
    event(&mut events, PlaneEvent::Connected).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    feed(playing.senders.clone(), stop.clone());
    let mut s = Subscriber {
        id: playing.conn,
        _conn: viewer,
        tracks,
    };
    let held = receive(&mut s, 25).await;

    // The viewer's decoder asks for a key frame: whoever feeds the track is told.
    let video = held[1].clone();
    let ssrc = video.ssrcs().await[0];
    let pli = PictureLossIndication {
        sender_ssrc: 0,
        media_ssrc: ssrc,
    };
    video.write_rtcp(vec![Box::new(pli)]).await.unwrap();
    event(&mut events, PlaneEvent::KeyframeWanted { ssrc }).await;

    // The connection closes: its opener is told, and what is still handed in for it is
    // refused, even once a new connection has taken its place in the plane's table.
    stop.store(true, Ordering::Relaxed);
    plane.close(s.id).await;
    event(&mut events, PlaneEvent::Closed).await;
    let (tx, _tracks) = mpsc::channel(8);
    let mut other = Conn::new(&factory(), Some(tx)).await.unwrap();
    other
        .pc
        .add_transceiver_from_kind(RtpCodecKind::Audio, None)
        .await
        .unwrap();
    let offer = other.pc.create_offer(None).await.unwrap();
    let offer = other.local_with_candidates(offer).await.unwrap();
    let next = plane
        .play(offer, vec![play(MediaCodec::Opus)], mpsc::channel(8).0)
        .await
        .unwrap();
    assert_eq!(next.conn, s.id, "the table slot is reused");
    let before = plane.stats().await.unwrap();
    assert!(before.fed >= 50, "{before:?}");
    // Handed in as one packet for both tracks (how a published track feeds its viewers).
    for n in 0..10u16 {
        let mut batch = PlaneBatch::default();
        for sender in &playing.senders {
            let header = rtc::rtp::header::Header {
                version: 2,
                payload_type: 111,
                sequence_number: 60_000 + n,
                ssrc: sender.ssrc,
                ..Default::default()
            };
            assert!(batch.add(sender, &header), "one plane");
        }
        assert_eq!(batch.len(), 2);
        let packet = rtc::rtp::Packet {
            payload: bytes::Bytes::from_static(b"stale"),
            ..Default::default()
        };
        assert_eq!(batch.send(packet), 2, "queued");
    }
    let after = tokio::time::timeout(T, async {
        loop {
            let stats = plane.stats().await.unwrap();
            if stats.refused >= before.refused + 20 {
                return stats;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the stale packets are taken and refused");
    assert_eq!(after.fed, before.fed, "none reached the new connection");
}
