//! Who is calling: platform API keys, participants' join tokens, and the signing keys behind
//! those tokens.
//!
//! Invariants: secrets (API keys, private keys, tokens) are never logged or stored in clear;
//! API keys are stored as SHA-256 hashes; every token check is done by the server.

pub mod apikey;
pub mod jwt;
pub mod keyring;

use std::fmt;

use crate::domain::ParticipantId;

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

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, data))
}

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut b = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .expect("the OS random source is available");
    b
}
