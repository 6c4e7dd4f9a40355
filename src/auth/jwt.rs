//! Join tokens: compact JWTs signed with Ed25519 (`alg: EdDSA`), one per participant.
//!
//! A token binds participant, hearing, role and expiry. Verification accepts only `EdDSA`
//! with a known `kid` (no algorithm negotiation, so no "alg: none" or HMAC-confusion attacks),
//! bounds the token's size before decoding anything, and checks audience, issuer and times.
//! Whether the participant still exists is the caller's job (a database lookup).
//!
//! Hand-written on `ring` (about a hundred lines) rather than the `jsonwebtoken` crate, whose
//! current release needs either aws-lc-rs (a C/cmake build) or the RSA and NIST-curve crates
//! for an Ed25519-only use.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ED25519, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use super::keyring::KeyRing;
use crate::domain::Role;

/// Issuer written into and required from every token.
pub const ISSUER: &str = "gavel";
/// Audience of join tokens (other token kinds will get their own).
pub const JOIN_AUDIENCE: &str = "gavel-join";
/// Tokens longer than this are refused before any decoding.
pub const MAX_TOKEN_LEN: usize = 2048;

/// What a join token asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinClaims {
    /// Always [`ISSUER`].
    pub iss: String,
    /// Always [`JOIN_AUDIENCE`].
    pub aud: String,
    /// The participant id.
    pub sub: String,
    /// The hearing id.
    pub hid: String,
    /// The participant's role when the link was minted.
    pub role: Role,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Unique token id (for audit and later revocation lists).
    pub jti: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    kid: String,
    typ: String,
}

/// Why a token was refused. Shown to the caller as a 401 with this text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not three base64url parts of JSON, too long, or wrong claims.
    #[error("the join token is malformed")]
    Malformed,
    /// Signed by a key this server does not have (rotated out, or another server's).
    #[error("the join token was not issued by this server")]
    UnknownKey,
    /// The signature does not match.
    #[error("the join token's signature is invalid")]
    BadSignature,
    /// Past its expiry.
    #[error("the join token has expired; ask the court for a new link")]
    Expired,
    /// Issued in the future (clock skew beyond the leeway).
    #[error("the join token is not valid yet")]
    NotYetValid,
    /// Not a join token (wrong issuer or audience).
    #[error("the token is not a join token")]
    WrongAudience,
}

/// Signs `claims` with the ring's current key.
pub fn issue(ring: &KeyRing, claims: &JoinClaims) -> String {
    let key = ring.current();
    let header = Header {
        alg: "EdDSA".into(),
        kid: key.kid.clone(),
        typ: "JWT".into(),
    };
    let h = serde_json::to_vec(&header).expect("a header always serialises");
    let c = serde_json::to_vec(claims).expect("claims always serialise");
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(h),
        URL_SAFE_NO_PAD.encode(c)
    );
    let sig = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Checks `token` at `now_s` (Unix seconds), allowing `leeway_s` of clock difference.
pub fn verify(
    ring: &KeyRing,
    token: &str,
    now_s: i64,
    leeway_s: i64,
) -> Result<JoinClaims, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| TokenError::Malformed);
    let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| TokenError::Malformed)?;
    if header.alg != "EdDSA" || header.typ != "JWT" {
        return Err(TokenError::Malformed);
    }
    let key = ring.find(&header.kid).ok_or(TokenError::UnknownKey)?;
    let signing_input_len = h.len() + 1 + c.len();
    UnparsedPublicKey::new(&ED25519, key.public_key())
        .verify(&token.as_bytes()[..signing_input_len], &decode(s)?)
        .map_err(|_| TokenError::BadSignature)?;
    let claims: JoinClaims =
        serde_json::from_slice(&decode(c)?).map_err(|_| TokenError::Malformed)?;
    if claims.iss != ISSUER || claims.aud != JOIN_AUDIENCE {
        return Err(TokenError::WrongAudience);
    }
    if now_s > claims.exp.saturating_add(leeway_s) {
        return Err(TokenError::Expired);
    }
    if claims.iat > now_s.saturating_add(leeway_s) {
        return Err(TokenError::NotYetValid);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> JoinClaims {
        JoinClaims {
            iss: ISSUER.into(),
            aud: JOIN_AUDIENCE.into(),
            sub: "p1".into(),
            hid: "h1".into(),
            role: Role::Party,
            iat: 1000,
            exp,
            jti: "j".into(),
        }
    }

    fn ring() -> (tempfile::TempDir, KeyRing) {
        let d = tempfile::tempdir().unwrap();
        let r = KeyRing::load_or_create(d.path(), 1).unwrap();
        (d, r)
    }

    #[test]
    fn a_fresh_token_verifies_to_its_claims() {
        let (_d, r) = ring();
        let t = issue(&r, &claims(2000));
        assert_eq!(verify(&r, &t, 1500, 0), Ok(claims(2000)));
    }

    #[test]
    fn expiry_and_future_issue_respect_the_leeway() {
        let (_d, r) = ring();
        let t = issue(&r, &claims(2000));
        assert_eq!(verify(&r, &t, 2001, 0), Err(TokenError::Expired));
        assert!(verify(&r, &t, 2001, 5).is_ok());
        assert_eq!(verify(&r, &t, 900, 30), Err(TokenError::NotYetValid));
    }

    #[test]
    fn a_changed_claim_or_a_foreign_key_is_refused() {
        let (_d, r) = ring();
        let t = issue(&r, &claims(2000));
        let parts: Vec<&str> = t.split('.').collect();
        let mut c = claims(2000);
        c.role = Role::Judge;
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap()),
            parts[2]
        );
        assert_eq!(verify(&r, &forged, 1500, 0), Err(TokenError::BadSignature));
        let (_d2, other) = ring();
        assert_eq!(verify(&other, &t, 1500, 0), Err(TokenError::UnknownKey));
    }

    #[test]
    fn garbage_and_algorithm_swaps_are_malformed_not_panics() {
        let (_d, r) = ring();
        for bad in ["", ".", "a.b.c", "a.b.c.d", &"x".repeat(5000)] {
            assert_eq!(
                verify(&r, bad, 0, 0),
                Err(TokenError::Malformed),
                "{bad:.20}"
            );
        }
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"x","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(2000)).unwrap())
        );
        assert_eq!(verify(&r, &none, 1500, 0), Err(TokenError::Malformed));
    }
}
