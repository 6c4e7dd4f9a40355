//! A peer connection set up for non-trickle negotiation: it reports when ICE gathering is
//! complete, so a description can be sent with all its candidates, and hands incoming tracks to a
//! channel. Shared by the SFU's media actors, the load generator and the test peers.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
    RTCSessionDescription,
};

use super::peer::NEGOTIATION_TIMEOUT;
use super::{PeerFactory, SfuError};

struct Events {
    gathered: mpsc::Sender<()>,
    tracks: Option<mpsc::Sender<Arc<dyn TrackRemote>>>,
    connected: watch::Sender<bool>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Events {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            // overflow: drop (one pending "gathered" is enough)
            let _ = self.gathered.try_send(());
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.connected
            .send_replace(state == RTCPeerConnectionState::Connected);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if let Some(tx) = &self.tracks {
            // overflow: drop (a client offering more tracks than this is misbehaving)
            let _ = tx.try_send(track);
        }
    }
}

/// A peer connection with its ICE-gathering signal.
pub struct Conn {
    /// The connection.
    pub pc: Arc<dyn PeerConnection>,
    gathered: mpsc::Receiver<()>,
    /// Whether ICE and DTLS are up (media written before then is lost).
    pub connected: watch::Receiver<bool>,
    /// The public address to announce in our descriptions (1:1 NAT).
    announce: Option<std::net::IpAddr>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").finish_non_exhaustive()
    }
}

impl Conn {
    /// Builds a connection; each incoming track is sent on `tracks` (if given).
    pub async fn new(
        factory: &PeerFactory,
        tracks: Option<mpsc::Sender<Arc<dyn TrackRemote>>>,
    ) -> Result<Self, SfuError> {
        let (tx, rx) = mpsc::channel(1);
        let (connected_tx, connected) = watch::channel(false);
        let pc = factory
            .build(Arc::new(Events {
                gathered: tx,
                tracks,
                connected: connected_tx,
            }))
            .await?;
        Ok(Self {
            pc,
            gathered: rx,
            connected,
            announce: factory.announced_ip(),
        })
    }

    /// Sets `desc` as local description and returns it with its candidates (non-trickle).
    pub async fn local_with_candidates(
        &mut self,
        desc: RTCSessionDescription,
    ) -> Result<String, SfuError> {
        while self.gathered.try_recv().is_ok() {}
        self.pc.set_local_description(desc).await?;
        tokio::time::timeout(NEGOTIATION_TIMEOUT, self.gathered.recv())
            .await
            .map_err(|_| SfuError::Timeout)?;
        let sdp = self
            .pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .ok_or_else(|| SfuError::Sdp("no local description".into()))?;
        Ok(match self.announce {
            Some(ip) => super::sdp_policy::announce(&sdp, ip),
            None => sdp,
        })
    }
}
