//! The case API's request and response bodies (the contract with the court platform).
//!
//! Requests deny unknown fields so a misspelt field is an error, not silently ignored.
//! Times are RFC 3339 strings; ids are UUIDs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::device::{DeviceKind, MediaPath, Transport};
use crate::domain::{Capability, HearingKind, HearingState, Role};
use crate::webhook::EventType;

/// A new docket (case file).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocket {
    /// The court's case number, unique, e.g. `(2026) Jing 0105 Min Chu 123`. At most 64 characters.
    pub case_number: String,
    /// Case title. At most 200 characters.
    pub title: String,
    /// The court hearing the case. At most 120 characters.
    pub court: String,
    /// Case type, e.g. `civil`, `commercial`, `administrative`. At most 60 characters.
    pub case_type: String,
}

/// A docket.
#[derive(Debug, Serialize, ToSchema)]
pub struct Docket {
    /// Docket id.
    pub id: String,
    /// The court's case number.
    pub case_number: String,
    /// Case title.
    pub title: String,
    /// The court.
    pub court: String,
    /// Case type.
    pub case_type: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// A new hearing on a docket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHearing {
    /// Trial, pre-trial or mediation.
    pub kind: HearingKind,
    /// Scheduled start (RFC 3339 with offset).
    pub scheduled_start: String,
    /// Optional title, e.g. `Second hearing`. At most 200 characters.
    #[serde(default)]
    pub title: Option<String>,
    /// The language the hearing is held in, when not the court's own (`[transcription]
    /// language`): an ISO 639-1 code Whisper knows, e.g. `zh` for Mandarin (captioned in
    /// simplified characters) or `en`.
    #[serde(default)]
    pub language: Option<String>,
}

pub use crate::hearing::Hearing;

/// A requested state change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTransition {
    /// The state to move to.
    pub to: HearingState,
    /// Why (kept in the audit log). At most 500 characters.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A participant to register for a hearing (a verified identity, Art. 14-15).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewParticipant {
    /// Name shown to others in the hearing. At most 100 characters.
    pub display_name: String,
    /// Role in this hearing.
    pub role: Role,
    /// The platform's reference to the verified identity (not the ID number itself). At most 128 characters.
    pub identity_ref: String,
    /// How to reach them (for the platform's use; never logged). At most 200 characters.
    #[serde(default)]
    pub contact: Option<String>,
}

/// A participant.
#[derive(Debug, Serialize, ToSchema)]
pub struct Participant {
    /// Participant id.
    pub id: String,
    /// The hearing.
    pub hearing_id: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// The platform's identity reference.
    pub identity_ref: String,
    /// Contact, if given.
    pub contact: Option<String>,
    /// What this role may do in the hearing.
    pub capabilities: Vec<Capability>,
    /// Registered (RFC 3339).
    pub created_at: String,
}

/// Options for a join link.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewJoinLink {
    /// Lifetime in seconds; default `tokens.default_ttl_secs`, at most `tokens.max_ttl_secs`.
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
}

/// A join link for one participant.
#[derive(Debug, Serialize, ToSchema)]
pub struct JoinLink {
    /// The link to send to the participant.
    pub url: String,
    /// The bare token (an EdDSA-signed JWT), for clients that join without the web page.
    pub token: String,
    /// When the token expires (RFC 3339).
    pub expires_at: String,
    /// The participant.
    pub participant_id: String,
    /// The hearing.
    pub hearing_id: String,
    /// The role the token carries.
    pub role: Role,
}

/// What a participant's join token opens: shown on the join page before anything else.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// The case.
    pub docket: Docket,
    /// The hearing.
    pub hearing: Hearing,
    /// Participant id.
    pub participant_id: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// What the role may do.
    pub capabilities: Vec<Capability>,
    /// What the participant's connection must reach (shown by the pre-join check).
    pub requirements: crate::config::ClientConfig,
}

/// A webhook to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where to POST events: `https://` (or `http://` when `webhooks.allow_http`). At most 2048 characters.
    pub url: String,
    /// The events to send.
    pub events: Vec<EventType>,
}

/// A registered webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    /// Webhook id.
    pub id: String,
    /// Target URL.
    pub url: String,
    /// Subscribed events.
    pub events: Vec<EventType>,
    /// Registered (RFC 3339).
    pub created_at: String,
}

/// A newly registered webhook, with the signing secret (shown only once).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The webhook.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// HMAC-SHA256 key for the `Gavel-Signature` header.
    pub secret: String,
}

/// Paging for list endpoints.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// At most this many items (1-200, default 50).
    pub limit: Option<i64>,
    /// Skip this many items (default 0).
    pub offset: Option<i64>,
}

impl Page {
    /// `(limit, offset)` after validation.
    pub fn bounds(&self) -> Result<(i64, i64), crate::domain::validate::FieldError> {
        use crate::domain::validate::in_range;
        let limit = in_range(
            "limit",
            self.limit.unwrap_or(50),
            1,
            200,
            "must be between 1 and 200",
        )?;
        let offset = in_range(
            "offset",
            self.offset.unwrap_or(0),
            0,
            i64::MAX,
            "must not be negative",
        )?;
        Ok((limit, offset))
    }
}

/// A hearing's recording.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingView {
    /// Hearing id.
    pub hearing_id: String,
    /// When the manifest was sealed (the hearing closed), RFC 3339; absent while recording.
    pub sealed_at: Option<String>,
    /// The manifest's chain head, hex.
    pub head: Option<String>,
    /// Every segment, the composite included (track `composite`).
    pub segments: Vec<crate::recording::index::SegmentRow>,
    /// The composite job.
    pub composite: CompositeJob,
}

/// Where the composite job stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompositeJob {
    /// `none`, `running`, `done` or `failed`.
    pub state: String,
    /// Share done, 0 to 1.
    pub progress: f64,
    /// Why it failed.
    pub error: Option<String>,
}

/// An e-courtroom device to register for a hearing: a camera or codec Gavel pulls over RTSP,
/// or an encoder that publishes by itself over WHIP.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// The name on its tile, e.g. "Courtroom 3 — bench camera". At most 100 characters.
    pub name: String,
    /// `rtsp` (pulled from its URL; the default) or `whip` (publishes with the key the
    /// response holds; no URL, credentials, transport or pin).
    #[serde(default)]
    pub kind: DeviceKind,
    /// `rtsp://` or `rtsps://` URL of its stream, without credentials. At most 2048
    /// characters. Required for an `rtsp` device.
    #[serde(default)]
    pub url: Option<String>,
    /// RTSP user, if the device asks for one. At most 128 characters.
    #[serde(default)]
    pub username: Option<String>,
    /// RTSP password (never returned by the API, never logged). At most 256 characters.
    #[serde(default)]
    pub password: Option<String>,
    /// `tcp` (interleaved, the default) or `udp`.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// For `rtsps://`: the SHA-256 of the certificate the device must present (64 hex digits).
    #[serde(default)]
    pub tls_pin: Option<String>,
    /// For `rtsps://`, instead of a pin: the authority (a PEM certificate, at most 16 KiB) that
    /// must have signed the device's certificate, for the device's address.
    #[serde(default)]
    pub tls_ca: Option<String>,
}

/// A registered e-courtroom device (its password is never shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct Device {
    /// Device id.
    pub id: String,
    /// The hearing.
    pub hearing_id: String,
    /// The name on its tile.
    pub name: String,
    /// `rtsp` or `whip`.
    pub kind: DeviceKind,
    /// Its stream's URL (without credentials); for a WHIP device, the path of the endpoint it
    /// publishes to.
    pub url: String,
    /// RTSP user, if any.
    pub username: Option<String>,
    /// Whether a password is stored (the password itself is never returned).
    pub has_password: bool,
    /// How RTP travels.
    pub transport: Transport,
    /// The pinned certificate's SHA-256, if any.
    pub tls_pin: Option<String>,
    /// The authority (PEM) its certificate must be signed by, if any.
    pub tls_ca: Option<String>,
    /// What the last check found: `unchecked`, `ok`, `unauthorized` (the device refused the
    /// credentials), `untrusted` (an RTSPS certificate other than the pinned one),
    /// `unreachable` or `no-media`.
    pub status: String,
    /// When it was last checked (RFC 3339).
    pub checked_at: Option<String>,
    /// What it sends, as the last successful check saw it.
    pub stream: Option<DeviceStream>,
    /// Registered (RFC 3339).
    pub created_at: String,
    /// A WHIP device's key, to publish with as `Authorization: Bearer`: in the response that
    /// registered it only (the server keeps its hash; it cannot be shown again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// What a device sends, read from the stream itself, and how each part reaches the hearing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceStream {
    /// Its video, if any.
    pub video: Option<DeviceVideo>,
    /// Its audio, if any.
    pub audio: Option<DeviceAudio>,
}

/// A device's video.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceVideo {
    /// RTP encoding name, e.g. `H264`.
    pub encoding: String,
    /// H.264 profile, e.g. `constrained-baseline`.
    pub profile: Option<String>,
    /// Frames arrive out of presentation order (browsers do not take B-frames).
    pub b_frames: bool,
    /// Passed through, or transcoded once.
    pub path: MediaPath,
}

/// A device's audio.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceAudio {
    /// RTP encoding name, e.g. `MPEG4-GENERIC` (AAC), `PCMU`, `OPUS`.
    pub encoding: String,
    /// Passed through (Opus) or transcoded to Opus.
    pub path: MediaPath,
}
