//! The UDP probe of the pre-join check: a data-channel-only peer connection that answers the
//! client's offer, so the client sees whether UDP media reaches this server. It carries no
//! media and is not in any room.

use std::time::Duration;

use webrtc::peer_connection::RTCSessionDescription;

use super::conn::Conn;
use super::{PeerFactory, SfuError};

/// A probe connection, answered; it closes when its lifetime ends.
#[derive(Debug)]
pub struct Probe {
    conn: Conn,
}

impl Probe {
    /// Answers the client's `offer` (an SDP) with a connection and returns the answer, its
    /// candidates included.
    pub async fn answer(factory: &PeerFactory, offer: String) -> Result<(Self, String), SfuError> {
        let offer =
            RTCSessionDescription::offer(offer).map_err(|e| SfuError::Sdp(e.to_string()))?;
        let mut conn = Conn::new(factory, None).await?;
        let answered = async {
            conn.pc.set_remote_description(offer).await?;
            let answer = conn.pc.create_answer(None).await?;
            conn.local_with_candidates(answer).await
        }
        .await;
        match answered {
            Ok(sdp) => Ok((Self { conn }, sdp)),
            Err(e) => {
                // A connection that is not closed keeps its socket and driver task.
                let _ = conn.pc.close().await;
                Err(e)
            }
        }
    }

    /// Keeps the connection open for `lifetime`, then closes it.
    pub async fn hold(self, lifetime: Duration) {
        tokio::time::sleep(lifetime).await;
        let _ = self.conn.pc.close().await;
    }
}
