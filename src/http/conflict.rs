//! The requests the record refuses because of its current state (409), each with a stable
//! slug (the problem document's `type`) that clients decide on and translate; the message is
//! for people reading the API's answers.

/// Why a request conflicts with the record as it is now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Conflict {
    /// A unique thing already exists (a docket's case number, say).
    #[error("{0} already exists")]
    Exists(&'static str),
    /// The hearing is closed: nobody is added to it.
    #[error("the hearing is closed")]
    HearingClosed,
    /// The hearing goes on: what asked for is done once it has ended.
    #[error("the hearing has not ended yet")]
    HearingNotEnded,
    /// The hearing goes on: its transcript is finalised once it has ended.
    #[error("the hearing has not ended: its record is finalised once it has")]
    NotOverToFinalise,
    /// No track of the hearing was recorded.
    #[error("nothing of this hearing was recorded")]
    NothingRecorded,
    /// A composite of the hearing is being rendered.
    #[error("a composite is being rendered already")]
    CompositeRunning,
    /// The recording is not sealed yet.
    #[error("the recording is still being closed")]
    RecordingClosing,
    /// The transcript changed since the caller read it.
    #[error("the transcript is at revision {current}, not {asked}: review it again")]
    StaleRevision {
        /// The revision now current.
        current: u64,
        /// The revision the caller named.
        asked: u64,
    },
    /// The revision is finalised and signed by everyone.
    #[error("revision {0} is finalised and signed; correct the transcript to finalise again")]
    RevisionSigned(u64),
    /// The revision is finalised already and waits for its signers.
    #[error("revision {0} is already finalised and awaits its signers")]
    RevisionFinalised(u64),
    /// A later revision has been finalised since the signer opened this one.
    #[error("a later revision of the transcript has been finalised: sign that one")]
    LaterRevisionFinalised,
    /// Every signer has decided on the record.
    #[error("everyone has already decided on this record")]
    RecordComplete,
    /// The caller has decided on the record.
    #[error("you have already decided on this record")]
    AlreadyDecided,
    /// The hearing has as many devices as one may have.
    #[error("a hearing has at most {0} devices; remove one first")]
    TooManyDevices(i64),
    /// A courtroom device takes part only while its hearing is open.
    #[error("the hearing is not open: a courtroom device takes part once it is")]
    HearingNotOpen,
    /// A WHIP device publishes by itself: the server has nothing to pull or check.
    #[error("a WHIP device publishes by itself: there is no stream to check")]
    NotPulled,
    /// Only a mediation has an agreement.
    #[error("this hearing is not a mediation: only a mediation has an agreement")]
    NotAMediation,
    /// No side has taken part: nobody could sign an agreement.
    #[error("no party or counsel has taken part in this mediation: nobody could sign")]
    NoSides,
    /// An agreement was signed by every side; it stands.
    #[error("version {0} of the agreement was signed by every side; it stands")]
    AgreementSigned(u64),
    /// A later draft of the agreement supersedes the one the caller opened.
    #[error("a later draft of the agreement supersedes this one: decide on that one")]
    LaterDraft,
}

impl Conflict {
    /// The stable name of the conflict, for clients to decide on.
    pub fn slug(&self) -> &'static str {
        match self {
            Self::Exists(_) => "already-exists",
            Self::HearingClosed => "hearing-closed",
            Self::HearingNotEnded | Self::NotOverToFinalise => "hearing-not-ended",
            Self::NothingRecorded => "nothing-recorded",
            Self::CompositeRunning => "composite-running",
            Self::RecordingClosing => "recording-closing",
            Self::StaleRevision { .. } => "stale-revision",
            Self::RevisionSigned(_) => "revision-signed",
            Self::RevisionFinalised(_) => "revision-finalised",
            Self::LaterRevisionFinalised => "later-revision-finalised",
            Self::RecordComplete => "record-complete",
            Self::AlreadyDecided => "already-decided",
            Self::TooManyDevices(_) => "too-many-devices",
            Self::HearingNotOpen => "hearing-not-open",
            Self::NotPulled => "not-pulled",
            Self::NotAMediation => "not-a-mediation",
            Self::NoSides => "no-sides",
            Self::AgreementSigned(_) => "agreement-signed",
            Self::LaterDraft => "later-draft",
        }
    }
}

/// Whether `e` is a uniqueness violation (a second insert of something unique).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
