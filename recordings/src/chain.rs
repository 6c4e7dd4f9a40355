//! A SHA-256 hash chain over opaque entries.
//!
//! Each entry's hash is `SHA-256(domain tag || previous hash || payload)`, so changing,
//! removing or reordering any entry breaks every hash after it. The first entry links to
//! [`GENESIS`]. Payloads are encoded by the caller; [`encode_fields`] gives an unambiguous
//! length-prefixed encoding so that `("ab","c")` and `("a","bc")` never collide.
//!
//! Invariant: this module is pure (no I/O, no clock) so the same code checks a chain in the
//! server, in `gavel audit verify`, and offline.

use ring::digest::{Context, SHA256};

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// The hash the first entry of every chain links to.
pub const GENESIS: Digest = [0u8; 32];

/// Separates Gavel chain hashes from any other use of SHA-256 over the same bytes.
const DOMAIN_TAG: &[u8] = b"gavel-chain-v1\0";

/// Hash of one entry given the hash of the entry before it.
pub fn link_hash(prev: &Digest, payload: &[u8]) -> Digest {
    let mut ctx = Context::new(&SHA256);
    ctx.update(DOMAIN_TAG);
    ctx.update(prev);
    ctx.update(payload);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Encodes fields as `len (u64 BE) || bytes` each, so field boundaries are part of the hash.
pub fn encode_fields(fields: &[&[u8]]) -> Vec<u8> {
    let len = fields.iter().map(|f| f.len() + 8).sum();
    let mut out = Vec::with_capacity(len);
    for f in fields {
        out.extend_from_slice(&(f.len() as u64).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// Why a chain failed to verify; `index` is the 0-based position of the first bad entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The entry claims a previous hash that is not the previous entry's hash.
    #[error("entry {index} does not link to the entry before it")]
    BrokenLink {
        /// Position of the entry.
        index: usize,
    },
    /// The entry's stored hash does not match its content.
    #[error("entry {index} was altered: its content does not match its hash")]
    ContentMismatch {
        /// Position of the entry.
        index: usize,
    },
}

impl ChainError {
    /// Position of the first entry that failed.
    pub fn index(&self) -> usize {
        match self {
            Self::BrokenLink { index } | Self::ContentMismatch { index } => *index,
        }
    }
}

/// Checks `(prev_hash, hash, payload)` triples in order; returns the head hash on success.
pub fn verify_chain<'a, I>(entries: I) -> Result<Digest, ChainError>
where
    I: IntoIterator<Item = (Digest, Digest, &'a [u8])>,
{
    let mut expected_prev = GENESIS;
    for (index, (prev, hash, payload)) in entries.into_iter().enumerate() {
        if prev != expected_prev {
            return Err(ChainError::BrokenLink { index });
        }
        if link_hash(&prev, payload) != hash {
            return Err(ChainError::ContentMismatch { index });
        }
        expected_prev = hash;
    }
    Ok(expected_prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(payloads: &[&[u8]]) -> Vec<(Digest, Digest, Vec<u8>)> {
        let mut prev = GENESIS;
        payloads
            .iter()
            .map(|p| {
                let h = link_hash(&prev, p);
                let e = (prev, h, p.to_vec());
                prev = h;
                e
            })
            .collect()
    }

    fn check(entries: &[(Digest, Digest, Vec<u8>)]) -> Result<Digest, ChainError> {
        verify_chain(entries.iter().map(|(p, h, d)| (*p, *h, d.as_slice())))
    }

    #[test]
    fn an_untouched_chain_verifies_and_returns_its_head() {
        let c = build(&[b"a", b"b", b"c"]);
        assert_eq!(check(&c), Ok(c[2].1));
        assert_eq!(check(&[]), Ok(GENESIS));
    }

    #[test]
    fn an_altered_payload_is_named_by_position() {
        let mut c = build(&[b"a", b"b", b"c"]);
        c[1].2 = b"B".to_vec();
        assert_eq!(check(&c), Err(ChainError::ContentMismatch { index: 1 }));
    }

    #[test]
    fn a_removed_entry_breaks_the_link_of_the_next() {
        let mut c = build(&[b"a", b"b", b"c"]);
        c.remove(1);
        assert_eq!(check(&c), Err(ChainError::BrokenLink { index: 1 }));
    }

    #[test]
    fn a_rehashed_entry_still_breaks_the_entry_after_it() {
        let mut c = build(&[b"a", b"b", b"c"]);
        c[1].2 = b"B".to_vec();
        c[1].1 = link_hash(&c[1].0, b"B");
        assert_eq!(check(&c), Err(ChainError::BrokenLink { index: 2 }));
    }

    #[test]
    fn field_encoding_keeps_boundaries() {
        assert_ne!(encode_fields(&[b"ab", b"c"]), encode_fields(&[b"a", b"bc"]));
    }
}
