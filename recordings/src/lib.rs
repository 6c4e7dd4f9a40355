//! Recording integrity for Gavel: the hash chain that makes records tamper-evident, the seal
//! on a recording and the signatures on the written record.
//!
//! Owns the pure chain arithmetic used by every append-only record Gavel keeps (the audit log
//! today; the recording manifest later). Never does I/O and never reads the clock: callers
//! hand it the bytes they stored and it says whether they still hang together.

pub mod chain;
pub mod manifest;
pub mod seal;
pub mod written;

pub use chain::{ChainError, Digest, GENESIS, encode_fields, link_hash, verify_chain};
