//! Who is calling: platform API keys, participants' join tokens, and the signing keys behind
//! those tokens.
//!
//! Invariants: secrets (API keys, private keys, tokens) are never logged or stored in clear;
//! API keys are stored as SHA-256 hashes; every token check is done by the server.

pub mod apikey;
pub mod devicekey;
pub mod jwt;
pub mod keyring;

pub use crate::domain::audit::Actor;

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
