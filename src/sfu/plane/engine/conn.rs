//! One connection of the plane: its `rtc` core, ICE credentials, and what it forwards where.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use gavel_signaling::MediaKind;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCDtlsRole, RTCIceCandidate,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpReceiverId as ReceiverId, RTCRtpSenderId};

use super::kind_index;
use crate::sfu::codec::MediaCodec;
use crate::sfu::plane::{PlaneError, PlaneEvent};

/// The codecs the plane carries (what browsers send by default).
pub(crate) const CODECS: &[MediaCodec] = &[MediaCodec::Opus, MediaCodec::Vp8];

/// Where one of a publisher's kinds goes: a subscriber's sender, with its SSRC and payload
/// type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    pub(crate) conn: usize,
    pub(crate) sender: RTCRtpSenderId,
    pub(crate) ssrc: u32,
    pub(crate) payload_type: u8,
}

/// One peer connection on the plane.
pub(crate) struct Conn {
    pub(crate) pc: RTCPeerConnection,
    pub(crate) ufrag: String,
    /// ICE and DTLS are up: packets written before would be refused.
    pub(crate) connected: bool,
    /// Queued for writing and a new deadline.
    pub(crate) dirty: bool,
    /// When the core next wants [`RTCPeerConnection::handle_timeout`].
    pub(crate) deadline: Option<Instant>,
    /// A publisher's connection (the client offered media to the plane).
    pub(crate) publishes: bool,
    /// The kinds a publisher offered, in its order.
    pub(crate) kinds: Vec<RtpCodecKind>,
    /// A publisher's subscribers, per kind (audio, video).
    pub(crate) routes: [Vec<Route>; 2],
    /// A publisher's tracks by id, once open.
    tracks: HashMap<String, usize>,
    /// A publisher's audio SSRCs (its speech goes ahead of video).
    pub(crate) audio_ssrcs: Vec<u32>,
    /// A publisher's video receiver and SSRC, for key-frame requests.
    pub(crate) video_receiver: Option<(ReceiverId, u32)>,
    /// When a publisher was last asked for a key frame (requests are paced).
    pub(crate) last_keyframe_request: Option<Instant>,
    /// A key-frame request asked inside the interval, to send when it ends.
    pub(crate) keyframe_due: Option<Instant>,
    /// A key frame was asked for before the publisher's video arrived: asked when it does (a
    /// subscriber that connected first would otherwise wait for the publisher's own next one).
    pub(crate) keyframe_on_open: bool,
    /// A subscriber's publisher.
    pub(crate) publisher: Option<usize>,
    /// Unique among the plane's connections ever (a table slot is reused).
    pub(crate) token: u64,
    /// Whoever opened a connection fed from outside, told what happens on it.
    pub(crate) events: Option<tokio::sync::mpsc::Sender<PlaneEvent>>,
    /// A fed connection's senders' SSRCs, by transceiver (0: none now). A packet fed for a
    /// track taken off is refused even when a new track reuses its transceiver.
    sender_ssrcs: Vec<u32>,
    /// A publisher's connection whose media leaves the plane: its tracks' channels.
    pub(crate) uplink: Option<super::uplink::UplinkState>,
}

impl Conn {
    /// A connection whose only candidate is the shared socket at `local`; `sending` ones are a
    /// subscriber's (the receiver estimates its downlink, as `PeerFactory::sending` says).
    pub(crate) fn new(now: Instant, local: SocketAddr, sending: bool) -> Result<Self, PlaneError> {
        Self::with_codecs(now, local, sending, CODECS)
    }

    /// The same, registering `codecs`.
    pub(crate) fn with_codecs(
        now: Instant,
        local: SocketAddr,
        sending: bool,
        codecs: &[MediaCodec],
    ) -> Result<Self, PlaneError> {
        let (m, registry) = crate::sfu::media_setup(codecs, sending)?;
        let ufrag = hex(&crate::auth::random_bytes::<8>());
        let settings = SettingEngineBuilder::new()
            .with_lite(true)
            .with_ice_credentials(ufrag.clone(), hex(&crate::auth::random_bytes::<16>()))
            .with_answering_dtls_role(RTCDtlsRole::Server)
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .build();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(m)
            .with_interceptor_registry(registry)
            .with_setting_engine(settings)
            .build(now)?;
        let host = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: local.ip().to_string(),
                port: local.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()?;
        pc.add_local_candidate(RTCIceCandidate::from(&host).to_json()?)?;
        Ok(Self {
            pc,
            ufrag,
            connected: false,
            dirty: false,
            deadline: None,
            publishes: !sending,
            kinds: Vec::new(),
            routes: [Vec::new(), Vec::new()],
            tracks: HashMap::new(),
            audio_ssrcs: Vec::new(),
            video_receiver: None,
            last_keyframe_request: None,
            keyframe_due: None,
            keyframe_on_open: false,
            publisher: None,
            token: 0,
            events: None,
            sender_ssrcs: Vec::new(),
            uplink: None,
        })
    }

    /// A fed track's sender now sends as `ssrc` (0: it was taken off).
    pub(crate) fn note_sender(&mut self, sender: RTCRtpSenderId, ssrc: u32) {
        let i = usize::from(sender);
        if self.sender_ssrcs.len() <= i {
            self.sender_ssrcs.resize(i + 1, 0);
        }
        self.sender_ssrcs[i] = ssrc;
    }

    /// Whether `sender` sends as `ssrc` now (what a fed packet was meant for is still there).
    pub(crate) fn sends_as(&self, sender: RTCRtpSenderId, ssrc: u32) -> bool {
        self.sender_ssrcs.get(usize::from(sender)) == Some(&ssrc)
    }

    /// The SSRC of every fed track, with its transceiver.
    pub(crate) fn fed_ssrcs(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.sender_ssrcs
            .iter()
            .copied()
            .enumerate()
            .filter(|&(_, s)| s != 0)
    }

    /// Tells whoever opened the connection (if it was fed from outside) what happened; a
    /// full channel loses the event rather than hold up the plane.
    pub(crate) fn tell(&self, event: PlaneEvent) {
        if let Some(tx) = &self.events {
            // overflow: drop (the session task is behind; a later event says as much)
            let _ = tx.try_send(event);
        }
    }

    /// The local description, with its candidate.
    pub(crate) fn local_sdp(&self) -> Result<String, PlaneError> {
        self.pc
            .local_description()
            .map(|d| d.sdp)
            .ok_or(PlaneError::NoSuchConnection)
    }

    /// A publisher's track opened: note its kind (and the video's receiver, for key frames).
    pub(crate) fn track_opened(&mut self, track: String, receiver: ReceiverId, ssrc: u32) {
        let kind = self
            .pc
            .rtp_receiver(receiver)
            .map(|r| r.track().kind())
            .unwrap_or(RtpCodecKind::Unspecified);
        match kind {
            RtpCodecKind::Video => self.video_receiver = Some((receiver, ssrc)),
            RtpCodecKind::Audio if !self.audio_ssrcs.contains(&ssrc) => self.audio_ssrcs.push(ssrc),
            _ => {}
        }
        if kind != RtpCodecKind::Unspecified {
            self.tracks.insert(track, kind_index(kind));
        }
    }

    /// The route index of a publisher's track.
    pub(crate) fn kind_of(&self, track: &str) -> Option<usize> {
        self.tracks.get(track).copied()
    }
}

/// A track the plane sends: `codec`'s packets as `ssrc`, in stream `stream_id`.
pub(crate) fn sending_track(
    stream_id: String,
    track_id: String,
    codec: MediaCodec,
    ssrc: u32,
) -> MediaStreamTrack {
    let kind = match codec.kind() {
        MediaKind::Audio => RtpCodecKind::Audio,
        MediaKind::Video => RtpCodecKind::Video,
    };
    MediaStreamTrack::new(
        stream_id,
        track_id.clone(),
        track_id,
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: codec.rtc(),
            ..Default::default()
        }],
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
