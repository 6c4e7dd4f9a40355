//! Wire messages. Every message is one JSON object with a `"type"`; unknown types and unknown
//! fields are errors. Commands that change something may carry a `req` number, echoed in the
//! `ok` or `error` answer so a client can match answers to requests.

use serde::{Deserialize, Serialize};

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// Microphone.
    Audio,
    /// Camera.
    Video,
}

/// Where a participant is: the hearing itself, or the waiting area (lobby, or sequestration for
/// witnesses). Participants in the waiting area receive nothing of the hearing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// Waiting to be admitted or called.
    Waiting,
    /// In the hearing.
    Main,
    /// In a mediator's private session (caucus) with one side; never recorded.
    Private,
}

/// Where a hearing stands (the case API's hearing states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HearingPhase {
    /// Created, not yet open.
    Scheduled,
    /// Open: people may join; the session has not begun.
    Open,
    /// In session.
    InSession,
    /// In recess: everyone stays connected; the record pauses.
    Recess,
    /// Over.
    Closed,
}

/// Which of a participant's two peer connections a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// The one the client offers and sends on.
    Publish,
    /// The one the server offers and sends on.
    Subscribe,
}

/// What a track carries, as subscribers are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A microphone.
    Microphone,
    /// A camera.
    Camera,
    /// A shared screen (evidence presented).
    Screen,
}

impl Source {
    /// The wire name (as serialised), also used in recordings' file names and manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Microphone => "microphone",
            Self::Camera => "camera",
            Self::Screen => "screen",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One track on a participant's subscribe connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackInfo {
    /// The track id in the subscribe description.
    pub id: String,
    /// Who publishes it.
    pub participant: String,
    /// What it carries.
    pub source: Source,
}

/// A message from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// First message on every connection: the join token minted by the platform.
    Join {
        /// Protocol version the client speaks.
        v: u16,
        /// The join token (never put in the URL).
        token: String,
        /// After a dropped socket: the client still holds the peer connections of its previous
        /// session and asks to keep them (see `media_resumed` in `welcome`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        resume: bool,
    },
    /// Keep-alive; answered with `pong`.
    Ping {
        /// Echoed back.
        id: u64,
    },
    /// The client's own microphone or camera state.
    SetMuted {
        /// Which.
        kind: MediaKind,
        /// Muted or not.
        muted: bool,
    },
    /// Moderator: let someone in from the waiting area.
    Admit {
        /// Request number echoed in the answer.
        #[serde(default)]
        req: Option<u32>,
        /// Who.
        participant: String,
    },
    /// Moderator: call a witness in to testify.
    CallWitness {
        /// Request number echoed in the answer.
        #[serde(default)]
        req: Option<u32>,
        /// Who.
        participant: String,
    },
    /// Moderator: send a witness back out to the waiting area; for an expert, sequester them
    /// (from then on they are called in like a witness).
    DismissWitness {
        /// Request number echoed in the answer.
        #[serde(default)]
        req: Option<u32>,
        /// Who.
        participant: String,
    },
    /// Moderator: mute someone's microphone or stop their camera.
    Mute {
        /// Request number echoed in the answer.
        #[serde(default)]
        req: Option<u32>,
        /// Who.
        participant: String,
        /// Which.
        kind: MediaKind,
        /// `false` lifts an earlier moderator mute (default `true`). A participant cannot lift
        /// a moderator's mute themselves.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        muted: Option<bool>,
    },
    /// Moderator: remove someone from the hearing.
    Remove {
        /// Request number echoed in the answer.
        #[serde(default)]
        req: Option<u32>,
        /// Who.
        participant: String,
    },
    /// Mediator: hold a private session (caucus) with these participants; the rest of the
    /// hearing neither sees nor hears it.
    CaucusStart {
        /// Request number echoed in the answer.
        #[serde(default)]
        req: Option<u32>,
        /// Who joins the mediator (at most 16).
        participants: Vec<String>,
    },
    /// Mediator: end the caucus; everyone in it returns to the joint session.
    CaucusEnd {
        /// Request number echoed in the answer.
        #[serde(default)]
        req: Option<u32>,
    },
    /// Start or stop the recording (roles with `control_recording`), with a reason for the
    /// record.
    SetRecording {
        /// Request number echoed in the answer.
        #[serde(default)]
        req: Option<u32>,
        /// On or off.
        on: bool,
        /// Why (kept in the audit log).
        reason: String,
    },
    /// Judge: begin the session, call a recess, or resume after one.
    SetHearingState {
        /// Request number echoed in the answer.
        #[serde(default)]
        req: Option<u32>,
        /// `in_session` or `recess`.
        state: HearingPhase,
    },
    /// Judge or mediator: end the hearing for everyone.
    EndHearing {
        /// Request number echoed in the answer.
        #[serde(default)]
        req: Option<u32>,
    },
    /// Leave the hearing on purpose (no grace period for reconnection).
    Leave,
    /// Offer for the client's publish connection (its microphone and camera), with all ICE
    /// candidates included.
    PublishOffer {
        /// The SDP offer.
        sdp: String,
        /// The ids (`a=msid` track ids) of the video tracks that are a screen share: evidence
        /// presented, which needs `publish_screen`. Every other video track is a camera.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        screen: Vec<String>,
    },
    /// Answer to the server's `subscribe_offer`, with all ICE candidates included.
    SubscribeAnswer {
        /// The SDP answer.
        sdp: String,
    },
    /// One of the client's ICE candidates (trickle ICE), after the description it belongs to;
    /// an empty `candidate` says there are no more.
    IceCandidate {
        /// The connection it is for.
        pc: Connection,
        /// The candidate attribute (`candidate:...`), as the browser gives it.
        candidate: String,
        /// The media section it belongs to.
        #[serde(default)]
        sdp_mid: Option<String>,
        /// The index of that media section.
        #[serde(default)]
        sdp_mline_index: Option<u16>,
    },
    /// How tall the client shows a received video track, so the server sends a simulcast layer
    /// no bigger than needed (0: not shown; nothing of it is sent).
    VideoSize {
        /// The track's id in the subscribe description.
        track: String,
        /// Pixels.
        height: u32,
    },
}

/// One person as another participant sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantView {
    /// Participant id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role (`judge`, `clerk`, `party`, ...).
    pub role: String,
    /// Where they are.
    pub place: Place,
    /// Microphone muted.
    pub audio_muted: bool,
    /// Camera off.
    pub video_muted: bool,
    /// The court (a moderator) muted the microphone: only a moderator can lift it, so the
    /// participant's client offers no unmute and moderators see "Allow mic".
    #[serde(default)]
    pub audio_held: bool,
    /// The court stopped the camera, likewise.
    #[serde(default)]
    pub video_held: bool,
}

/// Why a participant was moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveReason {
    /// Admitted from the lobby.
    Admitted,
    /// Called in to testify.
    Called,
    /// Sent back out after testifying.
    Dismissed,
    /// Taken into a private session (caucus) by the mediator.
    CaucusStarted,
    /// Back in the joint session after a caucus.
    CaucusEnded,
}

/// Why the server ended a session (sent just before closing the socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// A moderator removed the participant.
    Removed,
    /// The same participant joined from another connection.
    Replaced,
    /// The hearing ended.
    HearingEnded,
    /// Too many invalid messages.
    ProtocolViolation,
}

/// Machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not valid JSON, unknown type or field, or a bad value.
    BadMessage,
    /// Larger than the frame limit.
    TooLarge,
    /// The join token was refused.
    Unauthorized,
    /// The role may not do this.
    Forbidden,
    /// No such participant in this hearing.
    NotFound,
    /// Not possible in the current state (e.g. admitting someone already in).
    Conflict,
    /// A message other than `join` before joining, or `join` twice.
    NotJoined,
    /// Client speaks another protocol version.
    Version,
}

/// A message from the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerMessage {
    /// Answer to `join`: who you are and where you are.
    Welcome {
        /// Protocol version the server speaks.
        v: u16,
        /// You.
        you: ParticipantView,
        /// The hearing id.
        hearing: String,
        /// The capabilities of your role (controls a client should offer).
        capabilities: Vec<String>,
        /// Send `ping` at least this often, milliseconds.
        heartbeat_ms: u32,
        /// The peer connections of your previous session were kept (you asked with `resume`
        /// and they were still there): carry on with them. Otherwise start new ones.
        #[serde(default)]
        media_resumed: bool,
    },
    /// Everyone you may see, replacing any earlier roster.
    Roster {
        /// The participants.
        participants: Vec<ParticipantView>,
    },
    /// You were moved between the waiting area and the hearing.
    Moved {
        /// Where you are now.
        place: Place,
        /// Why.
        reason: MoveReason,
    },
    /// A moderator muted your microphone or stopped your camera.
    Muted {
        /// Which.
        kind: MediaKind,
    },
    /// A request succeeded.
    Ok {
        /// The request number.
        req: u32,
    },
    /// A request or message was refused.
    Error {
        /// The request number, when the refused message had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<u32>,
        /// What kind of error.
        code: ErrorCode,
        /// For people.
        message: String,
    },
    /// Something participants should know (recording started, a service degraded).
    Notice {
        /// `info` or `warning`.
        level: String,
        /// Machine-readable notice code.
        code: String,
        /// For people.
        text: String,
        /// Whom it is about (a participant id), when it is about someone: a client names them
        /// from its roster, in its own language.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant: Option<String>,
    },
    /// Answer to `ping`.
    Pong {
        /// The ping's id.
        id: u64,
    },
    /// The hearing's state changed (session begun, recess, resumed); sent to everyone.
    HearingState {
        /// The new state.
        state: HearingPhase,
    },
    /// A line of the live transcript (captions panel); `final` lines no longer change.
    /// Captions are unofficial: the record is the transcript the clerk reviews and the
    /// participants sign.
    Caption {
        /// Who spoke.
        participant: String,
        /// What was said.
        text: String,
        /// Settled (false: a draft that the next caption of this speaker replaces).
        #[serde(rename = "final")]
        is_final: bool,
        /// When the utterance started, on the hearing clock (Unix ms).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start_ms: Option<i64>,
        /// When it ended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end_ms: Option<i64>,
        /// Always true from this server: a caption is not the official record.
        #[serde(default)]
        unofficial: bool,
    },
    /// The participant now speaking (highlight their tile); sent on change.
    ActiveSpeaker {
        /// Participant id.
        participant: String,
    },
    /// Answer to `publish_offer`.
    PublishAnswer {
        /// The SDP answer.
        sdp: String,
    },
    /// Offer for your subscribe connection: the media you may receive. Each track's stream id
    /// (msid) is the publishing participant's id. Sent again whenever that set changes.
    SubscribeOffer {
        /// The SDP offer.
        sdp: String,
        /// Every track on the connection once this offer is applied, and what it carries.
        #[serde(default)]
        tracks: Vec<TrackInfo>,
    },
    /// Your session is over; the socket closes next.
    Ended {
        /// Why.
        reason: EndReason,
    },
}

impl ServerMessage {
    /// The JSON text of this message.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialise")
    }

    /// An error answer.
    pub fn error(req: Option<u32>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            req,
            code,
            message: message.into(),
        }
    }
}

/// WebSocket close codes the server uses (4000-4999 are application codes).
pub mod close {
    /// A frame or message over the hard limit (1 MiB): RFC 6455's "message too big".
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// Too many invalid messages.
    pub const PROTOCOL_VIOLATION: u16 = 4400;
    /// The join token was refused.
    pub const UNAUTHORIZED: u16 = 4401;
    /// Removed by a moderator.
    pub const REMOVED: u16 = 4403;
    /// No `join` in time.
    pub const JOIN_TIMEOUT: u16 = 4408;
    /// Replaced by a newer connection of the same participant.
    pub const REPLACED: u16 = 4409;
    /// The hearing ended.
    pub const HEARING_ENDED: u16 = 4410;

    /// The close code for an end reason.
    pub fn for_reason(r: super::EndReason) -> u16 {
        match r {
            super::EndReason::Removed => REMOVED,
            super::EndReason::Replaced => REPLACED,
            super::EndReason::HearingEnded => HEARING_ENDED,
            super::EndReason::ProtocolViolation => PROTOCOL_VIOLATION,
        }
    }
}
