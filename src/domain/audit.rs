//! Audit entries and how they are hashed into the chain.
//!
//! An entry is `(seq, at, actor, action, subject, details)`; its hash covers all of them and the
//! previous entry's hash (see `gavel_recordings::chain`). Storage lives in `crate::audit`; this
//! module only defines what is hashed, so the server and `gavel audit verify` can never disagree.

use std::fmt;

use gavel_recordings::{Digest, GENESIS, encode_fields, link_hash};

use crate::domain::ParticipantId;

/// One audit record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When it happened, Unix milliseconds (UTC).
    pub at_ms: i64,
    /// Who did it: `apikey:<name>`, `participant:<id>`, `cli`, `system`.
    pub actor: String,
    /// What was done, dotted: `hearing.transition`, `participant.create`.
    pub action: String,
    /// What it was done to: `hearing:<id>` and so on.
    pub subject: String,
    /// Canonical JSON with the specifics (sorted keys; no contact details or secrets).
    pub details: String,
}

impl AuditEntry {
    /// The bytes the chain hashes for this entry.
    pub fn payload(&self) -> Vec<u8> {
        encode_fields(&[
            &self.seq.to_be_bytes(),
            &self.at_ms.to_be_bytes(),
            self.actor.as_bytes(),
            self.action.as_bytes(),
            self.subject.as_bytes(),
            self.details.as_bytes(),
        ])
    }

    /// This entry's hash when it follows `prev` (or [`GENESIS`] for the first).
    pub fn hash_after(&self, prev: &Digest) -> Digest {
        link_hash(prev, &self.payload())
    }
}

/// Who performed an audited action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The court platform, through a named API key.
    ApiKey {
        /// The key's name (never the key).
        name: String,
    },
    /// A participant, through their join token.
    Participant {
        /// The participant id.
        id: ParticipantId,
    },
    /// An operator at the command line.
    Cli,
    /// The server itself (retries, recovery).
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::ApiKey { name } => write!(f, "apikey:{name}"),
            Actor::Participant { id } => write!(f, "participant:{id}"),
            Actor::Cli => f.write_str("cli"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// What an audit entry records: every state change the server audits, by its stored dotted
/// name. Writers name one of these (a typo cannot make a new action); readers keep the stored
/// text (`AuditEntry::action`), so a log written by another version still verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditAction {
    /// `apikey.create`
    ApikeyCreate,
    /// `demo.create`
    DemoCreate,
    /// `docket.create`
    DocketCreate,
    /// `fault.recorded`
    FaultRecorded,
    /// `hearing.create`
    HearingCreate,
    /// `hearing.transition`
    HearingTransition,
    /// `join_link.issue`
    JoinLinkIssue,
    /// `participant.create`
    ParticipantCreate,
    /// `device.create`
    DeviceCreate,
    /// `device.remove`
    DeviceRemove,
    /// `device.check`
    DeviceCheck,
    /// `device.lost`: a courtroom device's stream dropped during a hearing
    DeviceLost,
    /// `device.reconnected`: it is back
    DeviceReconnected,
    /// `playback.start`: a viewer outside the room (WHEP) started watching a participant
    PlaybackStart,
    /// `participant.revoke`
    ParticipantRevoke,
    /// `participant.joined`
    ParticipantJoined,
    /// `participant.left`
    ParticipantLeft,
    /// `participant.disconnected`
    ParticipantDisconnected,
    /// `participant.reconnected`
    ParticipantReconnected,
    /// `room.admit`
    RoomAdmit,
    /// `room.sequester`
    RoomSequester,
    /// `room.mute`
    RoomMute,
    /// `room.unmute`
    RoomUnmute,
    /// `room.remove`
    RoomRemove,
    /// `room.call_witness`
    RoomCallWitness,
    /// `room.dismiss_witness`
    RoomDismissWitness,
    /// `room.caucus_start`
    RoomCaucusStart,
    /// `room.caucus_end`
    RoomCaucusEnd,
    /// `recording.start`
    RecordingStart,
    /// `recording.stop`
    RecordingStop,
    /// `recording.sealed`
    RecordingSealed,
    /// `recording.composite`
    RecordingComposite,
    /// `recording.compose`
    RecordingCompose,
    /// `recording.list`
    RecordingList,
    /// `recording.view`
    RecordingView,
    /// `recording.download`
    RecordingDownload,
    /// `transcript.view`
    TranscriptView,
    /// `transcript.view_public`
    TranscriptViewPublic,
    /// `transcript.list`
    TranscriptList,
    /// `transcript.download`
    TranscriptDownload,
    /// `transcript.correct`
    TranscriptCorrect,
    /// `transcript.finalise`
    TranscriptFinalise,
    /// `transcript.sign`
    TranscriptSign,
    /// `transcript.refuse`
    TranscriptRefuse,
    /// `agreement.draft`
    AgreementDraft,
    /// `agreement.view`
    AgreementView,
    /// `agreement.download`
    AgreementDownload,
    /// `agreement.sign`
    AgreementSign,
    /// `agreement.refuse`
    AgreementRefuse,
    /// `webhook.create`
    WebhookCreate,
    /// `webhook.delete`
    WebhookDelete,
    /// `webhook.delivery_failed`
    WebhookDeliveryFailed,
    /// `signing_key.rotate`
    SigningKeyRotate,
    /// `audit.gap`
    AuditGap,
}

impl AuditAction {
    /// Every action, for tables and tests.
    pub const ALL: [Self; 54] = [
        Self::ApikeyCreate,
        Self::DemoCreate,
        Self::DocketCreate,
        Self::FaultRecorded,
        Self::HearingCreate,
        Self::HearingTransition,
        Self::JoinLinkIssue,
        Self::ParticipantCreate,
        Self::DeviceCreate,
        Self::DeviceRemove,
        Self::DeviceCheck,
        Self::DeviceLost,
        Self::DeviceReconnected,
        Self::PlaybackStart,
        Self::ParticipantRevoke,
        Self::ParticipantJoined,
        Self::ParticipantLeft,
        Self::ParticipantDisconnected,
        Self::ParticipantReconnected,
        Self::RoomAdmit,
        Self::RoomSequester,
        Self::RoomMute,
        Self::RoomUnmute,
        Self::RoomRemove,
        Self::RoomCallWitness,
        Self::RoomDismissWitness,
        Self::RoomCaucusStart,
        Self::RoomCaucusEnd,
        Self::RecordingStart,
        Self::RecordingStop,
        Self::RecordingSealed,
        Self::RecordingComposite,
        Self::RecordingCompose,
        Self::RecordingList,
        Self::RecordingView,
        Self::RecordingDownload,
        Self::TranscriptView,
        Self::TranscriptViewPublic,
        Self::TranscriptList,
        Self::TranscriptDownload,
        Self::TranscriptCorrect,
        Self::TranscriptFinalise,
        Self::TranscriptSign,
        Self::TranscriptRefuse,
        Self::AgreementDraft,
        Self::AgreementView,
        Self::AgreementDownload,
        Self::AgreementSign,
        Self::AgreementRefuse,
        Self::WebhookCreate,
        Self::WebhookDelete,
        Self::WebhookDeliveryFailed,
        Self::SigningKeyRotate,
        Self::AuditGap,
    ];

    /// The stored, dotted name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApikeyCreate => "apikey.create",
            Self::DemoCreate => "demo.create",
            Self::DocketCreate => "docket.create",
            Self::FaultRecorded => "fault.recorded",
            Self::HearingCreate => "hearing.create",
            Self::HearingTransition => "hearing.transition",
            Self::JoinLinkIssue => "join_link.issue",
            Self::ParticipantCreate => "participant.create",
            Self::DeviceCreate => "device.create",
            Self::DeviceRemove => "device.remove",
            Self::DeviceCheck => "device.check",
            Self::DeviceLost => "device.lost",
            Self::DeviceReconnected => "device.reconnected",
            Self::PlaybackStart => "playback.start",
            Self::ParticipantRevoke => "participant.revoke",
            Self::ParticipantJoined => "participant.joined",
            Self::ParticipantLeft => "participant.left",
            Self::ParticipantDisconnected => "participant.disconnected",
            Self::ParticipantReconnected => "participant.reconnected",
            Self::RoomAdmit => "room.admit",
            Self::RoomSequester => "room.sequester",
            Self::RoomMute => "room.mute",
            Self::RoomUnmute => "room.unmute",
            Self::RoomRemove => "room.remove",
            Self::RoomCallWitness => "room.call_witness",
            Self::RoomDismissWitness => "room.dismiss_witness",
            Self::RoomCaucusStart => "room.caucus_start",
            Self::RoomCaucusEnd => "room.caucus_end",
            Self::RecordingStart => "recording.start",
            Self::RecordingStop => "recording.stop",
            Self::RecordingSealed => "recording.sealed",
            Self::RecordingComposite => "recording.composite",
            Self::RecordingCompose => "recording.compose",
            Self::RecordingList => "recording.list",
            Self::RecordingView => "recording.view",
            Self::RecordingDownload => "recording.download",
            Self::TranscriptView => "transcript.view",
            Self::TranscriptViewPublic => "transcript.view_public",
            Self::TranscriptList => "transcript.list",
            Self::TranscriptDownload => "transcript.download",
            Self::TranscriptCorrect => "transcript.correct",
            Self::TranscriptFinalise => "transcript.finalise",
            Self::TranscriptSign => "transcript.sign",
            Self::TranscriptRefuse => "transcript.refuse",
            Self::AgreementDraft => "agreement.draft",
            Self::AgreementView => "agreement.view",
            Self::AgreementDownload => "agreement.download",
            Self::AgreementSign => "agreement.sign",
            Self::AgreementRefuse => "agreement.refuse",
            Self::WebhookCreate => "webhook.create",
            Self::WebhookDelete => "webhook.delete",
            Self::WebhookDeliveryFailed => "webhook.delivery_failed",
            Self::SigningKeyRotate => "signing_key.rotate",
            Self::AuditGap => "audit.gap",
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sequence number and hash the next entry links to, given the current head.
pub fn next_link(head: Option<(i64, Digest)>) -> (i64, Digest) {
    match head {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, details: &str) -> AuditEntry {
        AuditEntry {
            seq,
            at_ms: 1_700_000_000_000,
            actor: "cli".into(),
            action: "docket.create".into(),
            subject: "docket:1".into(),
            details: details.into(),
        }
    }

    #[test]
    fn every_action_has_its_own_dotted_name() {
        let mut names: Vec<_> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert!(names.iter().all(|n| n.split('.').count() == 2), "{names:?}");
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditAction::ALL.len());
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = entry(1, "{}");
        let h = base.hash_after(&GENESIS);
        let mut changed = base.clone();
        changed.actor = "system".into();
        assert_ne!(changed.hash_after(&GENESIS), h);
        changed = base.clone();
        changed.seq = 2;
        assert_ne!(changed.hash_after(&GENESIS), h);
        changed = base.clone();
        changed.details = "{\"a\":1}".into();
        assert_ne!(changed.hash_after(&GENESIS), h);
        assert_ne!(base.hash_after(&[1u8; 32]), h);
    }

    #[test]
    fn the_first_entry_is_one_and_links_to_genesis() {
        assert_eq!(next_link(None), (1, GENESIS));
        assert_eq!(next_link(Some((7, [3u8; 32]))), (8, [3u8; 32]));
    }
}
