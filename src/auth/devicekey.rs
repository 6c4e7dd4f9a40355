//! Device keys: what a WHIP device (a courtroom's hardware encoder) publishes with, as
//! `Authorization: Bearer gvd_…` (`gvd_` and 43 base64url characters, 256 random bits).
//!
//! A join token would not do: it expires within hours and names a person, while an encoder is
//! set up once for a hearing and is the courtroom's. As with API keys, only the SHA-256 of a
//! key is stored, and it is shown once, to the platform that registered the device.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{random_bytes, sha256_hex};

const PREFIX: &str = "gvd_";

/// A new key and the hash to store for it.
pub fn generate() -> (String, String) {
    let key = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()));
    let hash = sha256_hex(key.as_bytes());
    (key, hash)
}

/// Whether a bearer value has the shape of a device key (vs. a join token or an API key).
pub fn looks_like_device_key(s: &str) -> bool {
    s.len() == PREFIX.len() + 43 && s.starts_with(PREFIX)
}

/// The hash a presented key is looked up by.
pub fn hash(presented: &str) -> String {
    sha256_hex(presented.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_has_its_shape_and_hashes_to_what_is_stored() {
        let (key, stored) = generate();
        assert!(looks_like_device_key(&key), "{key}");
        assert_eq!(hash(&key), stored);
        assert_ne!(generate().0, key);
        assert!(!looks_like_device_key("gvl_abc"));
        assert!(!looks_like_device_key(&key[..key.len() - 1]));
    }
}
