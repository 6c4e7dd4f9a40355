//! What the room engine is told ([`Input`]) and what it asks its driver to do ([`Output`]),
//! with the small types both carry. Plain data: the engine's behaviour lives beside it.

use std::time::{Duration, Instant};

use gavel_signaling::{ClientMessage, EndReason, MediaKind, ServerMessage, Source};

use crate::domain::audit::AuditAction;
use crate::domain::{ParticipantId, Role};

/// One WebSocket connection, numbered by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// A verified participant arriving (the driver checked the token and the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// Participant id.
    pub id: ParticipantId,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
}

/// How the room behaves; from the hearing kind and configuration.
#[derive(Debug, Clone, Copy)]
pub struct RoomPolicy {
    /// Whether non-moderators wait in a lobby until admitted.
    pub lobby: bool,
    /// How long a dropped connection keeps its place.
    pub grace: Duration,
    /// Heartbeat interval advertised to clients, milliseconds.
    pub heartbeat_ms: u32,
    /// Recording is on from the start (the court records this kind of hearing by default).
    pub record: bool,
}

/// Something that happened to the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A verified participant opened a session.
    Join {
        /// The new session.
        session: SessionId,
        /// Who.
        who: Arrival,
        /// The media of the previous session was kept (told to the client in `welcome`).
        media_resumed: bool,
    },
    /// A validated message on a joined session.
    Message {
        /// From which session.
        session: SessionId,
        /// The message.
        msg: ClientMessage,
    },
    /// The session's connection ended without `leave`.
    Disconnected {
        /// Which session.
        session: SessionId,
        /// Why.
        why: Disconnect,
    },
    /// Loudest recent audio level per publishing participant (RFC 6464: 0 loudest, 127 silence).
    AudioLevels(Vec<(ParticipantId, u8)>),
    /// The platform closed the hearing (case API): everyone's session ends.
    HearingClosed,
    /// The hearing's state changed in the record: everyone is told.
    HearingStateChanged(gavel_signaling::HearingPhase),
    /// The platform revoked a participant (case API): they leave the room at once.
    Revoked {
        /// Participant id.
        participant: ParticipantId,
    },
    /// An utterance was transcribed: its caption goes to those who heard it.
    Caption {
        /// Who spoke.
        participant: ParticipantId,
        /// The words.
        text: String,
        /// Start on the hearing clock (ms).
        start_ms: i64,
        /// End on the hearing clock (ms).
        end_ms: i64,
        /// When it was spoken, on this room's clock: only those in the hearing since then
        /// read it.
        spoken_at: Instant,
    },
    /// Speech of `participant` (`ms` long) was not transcribed: the record keepers are told.
    CaptionGap {
        /// Who spoke.
        participant: ParticipantId,
        /// How much speech.
        ms: i64,
    },
    /// No usable transcription model: the hearing runs on without captions.
    CaptionsUnavailable,
    /// A courtroom device's stream was lost (`up: false`; the device keeps its place and the
    /// server pulls it again) or is back: those who run the hearing are told.
    DeviceLink {
        /// The device (its participant id in the room).
        participant: ParticipantId,
        /// The stream is back.
        up: bool,
    },
    /// A track's recording failed (the fault is already recorded): those who control the
    /// recording are told.
    RecordingFault {
        /// Whose track.
        participant: ParticipantId,
        /// Which track.
        track: Source,
        /// The recorder was started again.
        restarted: bool,
    },
}

/// Why a connection ended without `leave` (recorded: a lost connection is part of the record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnect {
    /// The socket closed or failed, or fell silent.
    Dropped,
    /// The server cut it off: the client did not read its messages fast enough.
    TooSlow,
}

/// Presence changes reported to the court platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Entered the hearing's room (first join).
    Joined,
    /// Left, was removed, or did not come back within the grace period.
    Left,
}

/// One flag for each of a participant's media: their microphone (audio) and camera (video).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudioVideo {
    /// About the microphone.
    pub audio: bool,
    /// About the camera.
    pub video: bool,
}

impl AudioVideo {
    /// The flag of `kind`.
    pub fn get(self, kind: MediaKind) -> bool {
        match kind {
            MediaKind::Audio => self.audio,
            MediaKind::Video => self.video,
        }
    }

    /// Sets the flag of `kind`.
    pub fn set(&mut self, kind: MediaKind, on: bool) {
        match kind {
            MediaKind::Audio => self.audio = on,
            MediaKind::Video => self.video = on,
        }
    }

    /// Neither flag is set.
    pub fn none(self) -> bool {
        !self.audio && !self.video
    }
}

/// One publisher a subscriber may receive, and which of their media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// The publishing participant.
    pub publisher: ParticipantId,
    /// Which of their media may be received.
    pub media: AudioVideo,
}

/// Whose media one subscriber may receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The receiving participant.
    pub subscriber: ParticipantId,
    /// Each publisher they may receive.
    pub from: Vec<Allowed>,
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a message on a session.
    Send {
        /// To which session.
        session: SessionId,
        /// The message.
        msg: ServerMessage,
    },
    /// Tell the session why it ends, then close it.
    End {
        /// Which session.
        session: SessionId,
        /// Why.
        reason: EndReason,
    },
    /// Write an audit entry (and report presence to the platform, if set).
    Audit {
        /// The acting participant, or `None` for the server itself.
        actor: Option<ParticipantId>,
        /// What is audited.
        action: AuditAction,
        /// The participant acted upon.
        subject: ParticipantId,
        /// Specifics.
        details: serde_json::Value,
        /// A presence event for webhooks, if this was one.
        presence: Option<Presence>,
    },
    /// The complete media routing table, replacing the previous one.
    Routes(Vec<Route>),
    /// What a viewer outside the room (WHEP) may receive, replacing the previous list: the
    /// people in the hearing itself (never the lobby, a caucus or a sequestered witness), and
    /// of their media what no moderator muted.
    Viewable(Vec<Allowed>),
    /// Whose media is recorded, replacing the previous list (empty: nobody, recording off).
    Recorded(Vec<ParticipantId>),
    /// A moderator ended the hearing: close it in the record (every session was ended).
    HearingEnded {
        /// Who ended it.
        actor: ParticipantId,
    },
    /// A judge asked to move the hearing to `to` (begin, recess, resume): apply it to the
    /// record, answer `req` on `session`, then report it back with
    /// [`Input::HearingStateChanged`].
    HearingTransition {
        /// The asking session.
        session: SessionId,
        /// Its request number.
        req: Option<u32>,
        /// Who.
        actor: ParticipantId,
        /// The state asked for.
        to: gavel_signaling::HearingPhase,
    },
}
