//! WHIP ingest (RFC 9725): an encoder (OBS, a hardware encoder, GStreamer's `whipsink`)
//! publishes into a hearing with one HTTP request, as the participant its join token names.
//!
//! The encoder's offer is checked against the participant's role like a browser's, answered with
//! every candidate of ours (the encoder may trickle its own with `PATCH`), and the participant
//! takes its place in the room without a socket: an ordinary participant for the room's rules
//! (a party waits in the lobby; the judge may mute them; they are recorded and captioned), who
//! receives nothing. The session ends with `DELETE`, when the encoder's connection is lost for
//! [`LOST_AFTER`], or when the hearing ends.
//!
//! WHEP playback (`playback`) shares the sessions, their trickle and their end.

mod frag;
mod playback;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gavel_signaling::ClientMessage;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCSessionDescription};

use crate::domain::{HearingKind, ParticipantId};
use crate::engine::{Arrival, Input};
use crate::rooms::{Rooms, Seat};
use crate::sfu::conn::Conn;
use crate::sfu::plane::{ConnId, Plane, PlaneError};
use crate::sfu::sdp_policy::{self, OfferRefusal};
use crate::sfu::{PeerFactory, SfuError, incoming};

/// An encoder whose connection is down this long has gone (it did not say `DELETE`).
pub const LOST_AFTER: Duration = Duration::from_secs(15);

/// WHIP and WHEP sessions this server runs at once.
const MAX_SESSIONS: usize = 64;

/// Candidates an encoder may trickle into one session.
const MAX_CANDIDATES: usize = 32;

/// Why a WHIP request was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WhipError {
    /// No such session (ended, or never there), or not the caller's.
    #[error("no such WHIP session")]
    NotFound,
    /// The offer sends what the participant's role may not (or nothing readable).
    #[error("{0}")]
    Refused(#[from] OfferRefusal),
    /// The description or fragment could not be used.
    #[error("session description: {0}")]
    BadDescription(String),
    /// `If-Match` names another version of the session.
    #[error("the session has changed (If-Match does not match its ETag)")]
    PreconditionFailed,
    /// The fragment asks for an ICE restart, which this server does not do.
    #[error("ICE restarts are not supported: end this session and start a new one")]
    IceRestart,
    /// Too many sessions, or too many candidates.
    #[error("{0}")]
    Busy(&'static str),
    /// The hearing is over.
    #[error("the hearing is over")]
    HearingOver,
    /// The media stack failed.
    #[error(transparent)]
    Sfu(#[from] SfuError),
    /// The media plane failed (stopped).
    #[error(transparent)]
    Plane(PlaneError),
}

impl From<PlaneError> for WhipError {
    fn from(e: PlaneError) -> Self {
        match e {
            PlaneError::Rtc(_) | PlaneError::TooLarge | PlaneError::Codec(_) => {
                Self::BadDescription(e.to_string())
            }
            e => Self::Plane(e),
        }
    }
}

/// The connection a session runs on: its own (the per-connection transport), or one on the
/// media plane.
enum Link {
    Peer(Arc<dyn PeerConnection>),
    /// A connection of the media plane, with its token.
    Plane(Plane, ConnId, u64),
}

impl Link {
    /// Adds a candidate the client trickled. The plane is ICE-lite: it learns the client's
    /// address from the client's own checks, so a candidate tells it nothing.
    async fn add_ice_candidate(&self, init: RTCIceCandidateInit) -> Result<(), WhipError> {
        match self {
            Self::Peer(pc) => pc
                .add_ice_candidate(init)
                .await
                .map_err(|e| WhipError::BadDescription(e.to_string())),
            Self::Plane(..) => Ok(()),
        }
    }

    async fn close(&self) {
        match self {
            Self::Peer(pc) => {
                let _ = pc.close().await;
            }
            Self::Plane(plane, conn, token) => plane.close_playing(*conn, *token).await,
        }
    }
}

/// What a session does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// WHIP: an encoder publishes.
    Publish,
    /// WHEP: a viewer plays.
    Play,
}

/// A session just started: what `201 Created` says.
#[derive(Debug)]
pub struct Created {
    /// The session's id (its resource URL ends with it).
    pub id: String,
    /// Its entity tag.
    pub etag: String,
    /// Our answer, with all our candidates.
    pub answer: String,
}

struct Session {
    kind: Kind,
    hearing: String,
    /// Who may trickle and end it: the publishing participant; for playback, the viewing
    /// participant or `platform`.
    participant: ParticipantId,
    etag: String,
    /// The encoder's ICE username fragment (another one is an ICE restart).
    ufrag: Option<String>,
    link: Link,
    candidates: AtomicUsize,
    cancel: CancellationToken,
}

type Sessions = Arc<Mutex<HashMap<String, Arc<Session>>>>;

/// The WHIP sessions of this server.
pub struct Whip {
    rooms: Arc<Rooms>,
    factory: PeerFactory,
    /// Where WHEP viewers of VP8 media are carried, if the server runs a media plane.
    plane: Option<Plane>,
    sessions: Sessions,
}

impl std::fmt::Debug for Whip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Whip").finish_non_exhaustive()
    }
}

impl Whip {
    /// No sessions yet; WHEP viewers go on `plane` when there is one.
    pub fn new(rooms: Arc<Rooms>, factory: PeerFactory, plane: Option<Plane>) -> Self {
        Self {
            rooms,
            factory,
            plane,
            sessions: Arc::default(),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts publishing `offer` into `hearing` as `who` (an earlier WHIP session of theirs
    /// ends: one encoder per participant).
    pub async fn publish(
        &self,
        hearing: &str,
        kind: HearingKind,
        who: Arrival,
        offer: String,
    ) -> Result<Created, WhipError> {
        sdp_policy::check(who.role, &offer, &[])?;
        if self.rooms.is_over(hearing) {
            return Err(WhipError::HearingOver);
        }
        let earlier: Vec<String> = self
            .sessions()
            .iter()
            .filter(|(_, s)| s.kind == Kind::Publish && s.participant == who.id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in earlier {
            if let Some(s) = self.sessions().remove(&id) {
                s.cancel.cancel();
            }
        }
        self.make_room()?;
        let level_ext = sdp_policy::extmap_id(&offer, crate::sfu::AUDIO_LEVEL_URI);
        let ufrag = frag::ufrag(&offer);
        let (track_tx, track_rx) = mpsc::channel(8);
        let mut conn = Conn::new(&self.factory, Some(track_tx)).await?;
        let desc = RTCSessionDescription::offer(offer)
            .map_err(|e| WhipError::BadDescription(e.to_string()))?;
        conn.pc
            .set_remote_description(desc)
            .await
            .map_err(|e| WhipError::BadDescription(e.to_string()))?;
        let answer = conn.pc.create_answer(None).await.map_err(SfuError::from)?;
        let answer = conn.local_with_candidates(answer).await?;
        let (id, etag, session) = self.register(
            Kind::Publish,
            hearing,
            who.id.clone(),
            ufrag,
            Link::Peer(conn.pc.clone()),
        );
        let seat = self.rooms.seat(hearing, kind, who).await;
        let run = Run {
            id: id.clone(),
            session,
            conn,
            seat,
            level_ext,
            sessions: self.sessions.clone(),
        };
        let span = tracing::info_span!("whip", hearing = %hearing, session = %id);
        tokio::spawn(tracing::Instrument::instrument(run.run(track_rx), span));
        Ok(Created { id, etag, answer })
    }

    /// Records a new session of `participant` on `pc`: its id (its URL ends with it;
    /// unguessable), its entity tag, and the session.
    fn register(
        &self,
        kind: Kind,
        hearing: &str,
        participant: ParticipantId,
        ufrag: Option<String>,
        link: Link,
    ) -> (String, String, Arc<Session>) {
        let id = hex::encode(crate::auth::random_bytes::<16>());
        let etag = format!("\"{}\"", hex::encode(crate::auth::random_bytes::<8>()));
        let session = Arc::new(Session {
            kind,
            hearing: hearing.to_owned(),
            participant,
            etag: etag.clone(),
            ufrag,
            link,
            candidates: AtomicUsize::new(0),
            cancel: CancellationToken::new(),
        });
        self.sessions().insert(id.clone(), session.clone());
        (id, etag, session)
    }

    /// Refuses a new session when the server runs as many as it takes.
    fn make_room(&self) -> Result<(), WhipError> {
        if self.sessions().len() >= MAX_SESSIONS {
            return Err(WhipError::Busy(
                "too many WHIP and WHEP sessions on this server",
            ));
        }
        Ok(())
    }

    /// The session `id` of `participant` in `hearing`.
    fn session(
        &self,
        hearing: &str,
        id: &str,
        participant: &str,
    ) -> Result<Arc<Session>, WhipError> {
        self.sessions()
            .get(id)
            .filter(|s| s.hearing == hearing && s.participant.as_str() == participant)
            .cloned()
            .ok_or(WhipError::NotFound)
    }

    /// Adds the encoder's trickled candidates (`application/trickle-ice-sdpfrag`).
    pub async fn trickle(
        &self,
        hearing: &str,
        id: &str,
        participant: &str,
        if_match: Option<&str>,
        fragment: &str,
    ) -> Result<(), WhipError> {
        let s = self.session(hearing, id, participant)?;
        if if_match.is_some_and(|m| m.trim() != "*" && m.trim() != s.etag) {
            return Err(WhipError::PreconditionFailed);
        }
        let parsed = frag::parse(fragment).map_err(WhipError::BadDescription)?;
        if parsed.ufrag.is_some() && parsed.ufrag != s.ufrag {
            return Err(WhipError::IceRestart);
        }
        for c in parsed.candidates {
            if s.candidates.fetch_add(1, Ordering::Relaxed) >= MAX_CANDIDATES {
                return Err(WhipError::Busy("too many ICE candidates for one session"));
            }
            if !sdp_policy::candidate_allowed(&c.candidate, self.factory.binds_loopback()) {
                continue; // unusable here, as a browser ignores one it cannot reach
            }
            tracing::debug!(candidate = %c.candidate, "trickled candidate");
            let init = RTCIceCandidateInit {
                candidate: c.candidate,
                sdp_mid: c.mid,
                ..Default::default()
            };
            s.link.add_ice_candidate(init).await?;
        }
        Ok(())
    }

    /// Ends session `id` of `participant`: they leave the room.
    pub fn end(&self, hearing: &str, id: &str, participant: &str) -> Result<(), WhipError> {
        let s = self.session(hearing, id, participant)?;
        self.sessions().remove(id);
        s.cancel.cancel();
        Ok(())
    }

    /// Ends every session of `participant` in `hearing` (the platform revoked them).
    pub fn end_all_of(&self, hearing: &str, participant: &str) {
        let gone: Vec<Arc<Session>> = {
            let mut sessions = self.sessions();
            let ids: Vec<String> = sessions
                .iter()
                .filter(|(_, s)| s.hearing == hearing && s.participant.as_str() == participant)
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| sessions.remove(id)).collect()
        };
        for s in gone {
            s.cancel.cancel();
        }
    }

    /// Sessions running now.
    pub fn running(&self) -> usize {
        self.sessions().len()
    }
}

/// One session's task: its tracks into the room until it ends.
struct Run {
    id: String,
    session: Arc<Session>,
    conn: Conn,
    seat: Seat,
    level_ext: Option<u8>,
    sessions: Sessions,
}

impl Run {
    async fn run(mut self, mut tracks: mpsc::Receiver<Arc<dyn TrackRemote>>) {
        tracing::info!("WHIP session started");
        let participant = self.session.participant.clone();
        let mut liveness = Liveness::new();
        loop {
            tokio::select! {
                () = self.session.cancel.cancelled() => break,
                () = self.seat.retired() => break,
                () = self.seat.ended() => {
                    tracing::info!("the participant's place was taken or ended; session ended");
                    break;
                }
                Some(remote) = tracks.recv() => {
                    let accepted =
                        incoming::accept(participant.clone(), remote, self.level_ext, &[]).await;
                    if let Some((_, track)) = accepted {
                        incoming::run(self.seat.link.clone(), track).await;
                    }
                }
                changed = self.conn.connected.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    liveness.saw(*self.conn.connected.borrow_and_update());
                }
                () = until(liveness.lost_at) => {
                    tracing::warn!("the encoder's connection is lost; session ended");
                    break;
                }
            }
        }
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
        // Closing the connection ends its tracks (each reported gone), then the participant
        // leaves, as with `leave` on a socket.
        self.session.link.close().await;
        self.seat
            .tell(Input::Message {
                session: self.seat.session,
                msg: ClientMessage::Leave,
            })
            .await;
        tracing::info!("WHIP session ended");
    }
}

/// How long a new session may take to connect at all.
const CONNECT_WITHIN: Duration = Duration::from_secs(30);

/// Whether a session's connection has gone: never up within [`CONNECT_WITHIN`], or down for
/// [`LOST_AFTER`] after having been up.
#[derive(Debug)]
struct Liveness {
    was_up: bool,
    /// When it counts as lost, unless it is up.
    lost_at: Option<tokio::time::Instant>,
}

impl Liveness {
    fn new() -> Self {
        Self {
            was_up: false,
            lost_at: Some(tokio::time::Instant::now() + CONNECT_WITHIN),
        }
    }

    fn saw(&mut self, up: bool) {
        if up {
            self.was_up = true;
            self.lost_at = None;
        } else if self.was_up && self.lost_at.is_none() {
            self.lost_at = Some(tokio::time::Instant::now() + LOST_AFTER);
        }
    }
}

async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
