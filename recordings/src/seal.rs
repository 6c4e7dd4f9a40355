//! The seal on a finished recording: the manifest's chain head and entry count for a hearing,
//! signed with the server's Ed25519 key when the hearing closes. A manifest cut short (its last
//! entries removed, which leaves a chain that still holds together) no longer matches its seal.
//!
//! Pure: the caller signs and supplies public keys; this module builds and checks.

use serde::{Deserialize, Serialize};

/// The signed statement, stored next to the manifest as `manifest.seal.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// The hearing.
    pub hearing: String,
    /// The manifest's last entry hash, hex.
    pub head: String,
    /// How many entries the manifest holds.
    pub entries: usize,
    /// Which server key signed (its key id).
    pub kid: String,
    /// Ed25519 signature over [`message`], hex.
    pub signature: String,
}

/// The bytes signed: a domain tag, then the hearing, head and count, length-prefixed.
pub fn message(hearing: &str, head: &str, entries: usize) -> Vec<u8> {
    let mut m = b"gavel-recording-seal-v1\0".to_vec();
    m.extend(crate::chain::encode_fields(&[
        hearing.as_bytes(),
        head.as_bytes(),
        &(entries as u64).to_be_bytes(),
    ]));
    m
}

/// Why a seal does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealFailure {
    /// No seal: the hearing has not closed, or the seal was removed.
    #[error("the recording is not sealed (its hearing has not closed, or the seal was removed)")]
    Missing,
    /// The seal is not readable.
    #[error("the seal is unreadable")]
    Unreadable,
    /// Signed by a key the server does not know.
    #[error("the seal was made with an unknown key ({0})")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("the seal's signature does not verify")]
    BadSignature,
    /// The manifest no longer ends where it ended when sealed.
    #[error("the manifest does not match its seal: sealed with {sealed} entries, now {now}")]
    ManifestChanged {
        /// Entries when sealed.
        sealed: usize,
        /// Entries now.
        now: usize,
    },
}

/// Checks `seal` (its JSON text) against the manifest's current `head` and `entries`, with
/// `public_key` giving the raw Ed25519 key of a key id.
pub fn verify(
    seal: Option<&str>,
    head: &str,
    entries: usize,
    public_key: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<Seal, SealFailure> {
    let seal: Seal = serde_json::from_str(seal.ok_or(SealFailure::Missing)?)
        .map_err(|_| SealFailure::Unreadable)?;
    let key = public_key(&seal.kid).ok_or_else(|| SealFailure::UnknownKey(seal.kid.clone()))?;
    let signature = hex::decode(&seal.signature).map_err(|_| SealFailure::Unreadable)?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
        .verify(
            &message(&seal.hearing, &seal.head, seal.entries),
            &signature,
        )
        .map_err(|_| SealFailure::BadSignature)?;
    if seal.head != head || seal.entries != entries {
        return Err(SealFailure::ManifestChanged {
            sealed: seal.entries,
            now: entries,
        });
    }
    Ok(seal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn key() -> Ed25519KeyPair {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    fn sealed(k: &Ed25519KeyPair, head: &str, n: usize) -> String {
        serde_json::to_string(&Seal {
            hearing: "h1".into(),
            head: head.into(),
            entries: n,
            kid: "k1".into(),
            signature: hex::encode(k.sign(&message("h1", head, n))),
        })
        .unwrap()
    }

    #[test]
    fn a_seal_holds_only_for_the_manifest_it_sealed_and_the_key_that_signed() {
        let k = key();
        let pk = |kid: &str| (kid == "k1").then(|| k.public_key().as_ref().to_vec());
        let s = sealed(&k, "aa", 3);
        assert!(verify(Some(&s), "aa", 3, pk).is_ok());
        assert_eq!(
            verify(Some(&s), "bb", 2, pk),
            Err(SealFailure::ManifestChanged { sealed: 3, now: 2 }),
            "entries cut off the end"
        );
        assert_eq!(verify(None, "aa", 3, pk), Err(SealFailure::Missing));
        let forged = s.replace("\"entries\":3", "\"entries\":2");
        assert_eq!(
            verify(Some(&forged), "aa", 2, pk),
            Err(SealFailure::BadSignature)
        );
        let other = key();
        let pk_other = |_: &str| Some(other.public_key().as_ref().to_vec());
        assert_eq!(
            verify(Some(&s), "aa", 3, pk_other),
            Err(SealFailure::BadSignature)
        );
        assert_eq!(
            verify(Some(&s), "aa", 3, |_| None),
            Err(SealFailure::UnknownKey("k1".into()))
        );
    }
}
