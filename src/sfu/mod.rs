//! The selective forwarding unit: WebRTC peer connections (the `webrtc` crate) per participant,
//! and the forwarding of each published track to the subscribers the room allows.
//!
//! Each participant has two peer connections, as LiveKit does: a *publish* connection the client
//! offers (its microphone and camera) and a *subscribe* connection the server offers (everyone
//! it may receive), renegotiated by the server when that set changes. So there is never offer
//! glare. The room engine decides *who* may receive *whom* (`crate::engine`); this module only
//! moves packets, never decodes them, and never waits on the room.

pub mod codec;
pub mod conn;
pub mod incoming;
pub mod keyframe;
pub mod keyframe_detect;
pub mod layers;
pub mod link;
pub mod local;
pub mod offer_codecs;
pub mod outlet;
pub mod peer;
pub mod plane;
pub mod probe;
pub mod sdp_policy;
pub mod simulcast;
pub mod track;

use std::sync::Arc;

use codec::MediaCodec;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodecParameters, RtpCodecKind};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, Registry, SettingEngineBuilder, Slot, register_default_interceptors,
};

/// A media failure (peer connection set-up or negotiation).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SfuError {
    /// The WebRTC stack refused an operation.
    #[error("webrtc: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    /// The client's SDP was not usable.
    #[error("session description: {0}")]
    Sdp(String),
    /// The client did not answer in time.
    #[error("no answer from the client in time")]
    Timeout,
    /// The media plane refused or has stopped.
    #[error("media plane: {0}")]
    Plane(#[from] plane::PlaneError),
}

/// RFC 6464 client-to-mixer audio level, which drives active-speaker detection.
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

fn media_engine(codecs: &[MediaCodec]) -> Result<MediaEngine, webrtc::error::Error> {
    let mut m = MediaEngine::default();
    m.register_header_extension(
        rtc::rtp_transceiver::rtp_sender::RTCRtpHeaderExtensionCapability {
            uri: AUDIO_LEVEL_URI.to_owned(),
        },
        RtpCodecKind::Audio,
        None,
    )?;
    for &c in codecs {
        let kind = match c.kind() {
            gavel_signaling::MediaKind::Audio => RtpCodecKind::Audio,
            gavel_signaling::MediaKind::Video => RtpCodecKind::Video,
        };
        m.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: c.rtc(),
                payload_type: c.payload_type(),
            },
            kind,
        )?;
    }
    Ok(m)
}

/// The media engine and interceptors of a connection with `codecs`. One that sends media to a
/// client (`sending`) negotiates REMB and NACK and keeps what a sender needs: the NACK
/// responder (retransmissions) and sender reports (the client's lip sync); the NACK generator
/// and receiver reports would only pass each of its packets along (every interceptor is a
/// queue the packet is moved through; at 150 subscribers this is the plane's largest cost).
/// One that receives takes the defaults (NACK, reports, TWCC). Both pass key-frame requests to
/// the application. Shared by the per-connection transport and the media plane, so a client
/// sees one server.
pub(crate) fn media_setup(
    codecs: &[MediaCodec],
    sending: bool,
) -> Result<(MediaEngine, Registry), webrtc::error::Error> {
    use rtc::interceptor::{NackResponderBuilder, SenderReportBuilder};
    use rtc::rtp_transceiver::rtp_sender::{
        RTCPFeedback, TYPE_RTCP_FB_GOOG_REMB, TYPE_RTCP_FB_NACK,
    };
    let mut m = media_engine(codecs)?;
    let registry = if sending {
        for (typ, parameter) in [
            (TYPE_RTCP_FB_GOOG_REMB, ""),
            (TYPE_RTCP_FB_NACK, ""),
            (TYPE_RTCP_FB_NACK, "pli"),
        ] {
            m.register_feedback(
                RTCPFeedback {
                    typ: typ.to_owned(),
                    parameter: parameter.to_owned(),
                },
                RtpCodecKind::Video,
            );
        }
        Registry::new()
            .with(Slot::NackResponder, NackResponderBuilder::new().build())
            .with(Slot::SenderReport, SenderReportBuilder::new().build())
    } else {
        register_default_interceptors(Registry::new(), &mut m)?
    }
    .with(Slot::from(14_000), keyframe::KeyframeRequests::default());
    Ok((m, registry))
}

/// Builds peer connections with Gavel's codecs, interceptors (NACK, RTCP reports, TWCC) and
/// socket addresses.
#[derive(Debug, Clone)]
pub struct PeerFactory {
    udp_addrs: Vec<String>,
    /// Connections the server sends on: ask the receiver for REMB bandwidth estimates.
    remb: bool,
    /// Ports to bind, and the next one to try (shared by every clone).
    ports: Option<(
        std::ops::RangeInclusive<u16>,
        Arc<std::sync::atomic::AtomicU16>,
    )>,
    /// The address to announce in candidates instead of the bound one.
    announce: Option<std::net::IpAddr>,
    /// The codecs its connections register (all Gavel's, unless told fewer).
    codecs: Arc<[MediaCodec]>,
    /// Where participants' connections go, when the server runs a media plane.
    plane: Option<plane::Plane>,
}

impl PeerFactory {
    /// Peer connections will bind `udp_addrs` (e.g. `127.0.0.1:0`, or the public address).
    pub fn new(udp_addrs: Vec<String>) -> Self {
        Self {
            udp_addrs,
            remb: false,
            ports: None,
            announce: None,
            codecs: MediaCodec::ALL.into(),
            plane: None,
        }
    }

    /// Participants' connections go on `plane` (none: each on its own connection).
    pub fn with_plane(mut self, plane: Option<plane::Plane>) -> Self {
        self.plane = plane;
        self
    }

    /// The codecs its connections register.
    pub fn codecs(&self) -> &[MediaCodec] {
        &self.codecs
    }

    /// The media plane participants' connections go on, if any.
    pub fn plane(&self) -> Option<&plane::Plane> {
        self.plane.as_ref()
    }

    /// Connections register only `codecs`: a client that decodes fewer (an older phone, a
    /// hardware decoder of constrained baseline only), as tests and load peers play it.
    pub fn with_codecs(mut self, codecs: &[MediaCodec]) -> Self {
        self.codecs = codecs.into();
        self
    }

    /// Binds ports from `range` only (the configured `media.port_range`).
    pub fn with_port_range(mut self, range: Option<std::ops::RangeInclusive<u16>>) -> Self {
        self.ports = range.map(|r| {
            let first = *r.start();
            (r, Arc::new(std::sync::atomic::AtomicU16::new(first)))
        });
        self
    }

    /// Announces `ip` in candidates instead of the bound address (`media.announce_ip`).
    pub fn with_announced_ip(mut self, ip: Option<std::net::IpAddr>) -> Self {
        self.announce = ip;
        self
    }

    /// Whether connections bind a loopback address (tests, a browser on this machine).
    pub fn binds_loopback(&self) -> bool {
        self.udp_addrs.iter().any(|a| {
            a.parse::<std::net::SocketAddr>()
                .is_ok_and(|a| a.ip().is_loopback())
        })
    }

    /// The address announced instead of the bound one, if any.
    pub fn announced_ip(&self) -> Option<std::net::IpAddr> {
        self.announce
    }

    /// The addresses the next connection binds: as configured, or with the next port of the
    /// range.
    fn next_addrs(&self) -> Vec<String> {
        let Some((range, cursor)) = &self.ports else {
            return self.udp_addrs.clone();
        };
        let (first, last) = (*range.start(), *range.end());
        let port = cursor
            .fetch_update(
                std::sync::atomic::Ordering::Relaxed,
                std::sync::atomic::Ordering::Relaxed,
                |p| Some(if p >= last { first } else { p + 1 }),
            )
            .unwrap_or(first);
        self.udp_addrs
            .iter()
            .filter_map(|a| a.parse::<std::net::SocketAddr>().ok())
            .map(|mut a| {
                a.set_port(port);
                a.to_string()
            })
            .collect()
    }

    /// The same, for connections that send media to a client (the subscribe side). They
    /// negotiate `goog-remb` instead of transport-wide congestion control, so the client's
    /// receiver estimates its downlink and reports it (REMB), which chooses the simulcast layers
    /// it gets; no pacer sits on the forwarding path.
    pub fn sending(&self) -> Self {
        Self {
            remb: true,
            ..self.clone()
        }
    }

    /// A new peer connection reporting to `handler`; with a port range, the next free port.
    pub async fn build(
        &self,
        handler: Arc<dyn PeerConnectionEventHandler>,
    ) -> Result<Arc<dyn PeerConnection>, SfuError> {
        let tries = self
            .ports
            .as_ref()
            .map_or(1, |(r, _)| usize::from(r.end() - r.start()) + 1);
        let mut last = None;
        for _ in 0..tries {
            match self.build_on(self.next_addrs(), handler.clone()).await {
                Ok(pc) => return Ok(pc),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(SfuError::Sdp("no port to bind".into())))
    }

    async fn build_on(
        &self,
        addrs: Vec<String>,
        handler: Arc<dyn PeerConnectionEventHandler>,
    ) -> Result<Arc<dyn PeerConnection>, SfuError> {
        let (m, registry) = media_setup(&self.codecs, self.remb)?;
        // The server has host candidates only, so the pair to use is whichever of the client's
        // works first; waiting (1 s for peer-reflexive pairs by default, which is what a
        // browser hiding its address behind mDNS yields) only delays everyone's media.
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_srflx_acceptance_min_wait(Some(std::time::Duration::ZERO))
            .with_prflx_acceptance_min_wait(Some(std::time::Duration::ZERO))
            .build();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(m)
            .with_interceptor_registry(registry)
            .with_setting_engine(settings)
            .with_handler(handler)
            .with_udp_addrs(addrs)
            .build()
            .await?;
        Ok(Arc::new(pc))
    }
}
