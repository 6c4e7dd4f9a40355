//! Audit entries and how they are hashed into the chain.
//!
//! An entry is `(seq, at, actor, action, subject, details)`; its hash covers all of them and the
//! previous entry's hash (see `gavel_recordings::chain`). Storage lives in `crate::audit`; this
//! module only defines what is hashed, so the server and `gavel audit verify` can never disagree.

use gavel_recordings::{Digest, GENESIS, encode_fields, link_hash};

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
