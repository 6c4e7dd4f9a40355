//! Ed25519 keys that sign join tokens, kept as PKCS#8 files under `<data_dir>/keys/`.
//!
//! Generated on first start; `gavel keys rotate` adds a newer key, which signs from the next
//! server start on, while older keys keep verifying the links already sent out. Files are
//! created with mode 0600 and written whole (temp file + rename), so a crash never leaves a
//! half-written key. The private key never leaves this module.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

use super::sha256_hex;

/// A key file could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Filesystem failure, with the path.
    #[error("signing key {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A key file is not a valid Ed25519 PKCS#8 document.
    #[error("signing key {path} is not a valid Ed25519 PKCS#8 key")]
    Invalid {
        /// The file.
        path: PathBuf,
    },
}

/// One signing key.
#[derive(Debug)]
pub struct SigningKey {
    /// Key id carried in token headers: the first 16 hex digits of SHA-256(public key).
    pub kid: String,
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// Signs `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.pair.sign(msg).as_ref().to_vec()
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    fn from_pkcs8(path: &Path, der: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|_| KeyError::Invalid {
            path: path.to_owned(),
        })?;
        let kid = sha256_hex(pair.public_key().as_ref())[..16].to_owned();
        Ok(Self { kid, pair })
    }
}

/// All join-token keys, oldest first; the newest signs.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

impl KeyRing {
    /// Loads the keys in `dir`, generating the first one if there is none.
    pub fn load_or_create(dir: &Path, now_ms: i64) -> Result<Self, KeyError> {
        if Self::key_files(dir)?.is_empty() {
            Self::generate(dir, now_ms)?;
        }
        let mut keys = Vec::new();
        for path in Self::key_files(dir)? {
            let der = fs::read(&path).map_err(io(&path))?;
            keys.push(SigningKey::from_pkcs8(&path, &der)?);
        }
        Ok(Self { keys })
    }

    /// The public keys in `dir` by key id, creating nothing (for offline verification).
    pub fn public_keys(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, KeyError> {
        let mut out = Vec::new();
        for path in Self::key_files(dir)? {
            let der = fs::read(&path).map_err(io(&path))?;
            let k = SigningKey::from_pkcs8(&path, &der)?;
            out.push((k.kid.clone(), k.public_key().to_vec()));
        }
        Ok(out)
    }

    /// Adds a new key that will sign from now on; returns its id.
    pub fn rotate(dir: &Path, now_ms: i64) -> Result<String, KeyError> {
        Self::generate(dir, now_ms)
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> &SigningKey {
        self.keys
            .last()
            .expect("load_or_create guarantees at least one key")
    }

    /// The key with id `kid`, if it is still on the ring.
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Key files sorted by creation time (their names start with it).
    fn key_files(dir: &Path) -> Result<Vec<PathBuf>, KeyError> {
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("join-") && n.ends_with(".pk8"))
            })
            .collect();
        files.sort();
        Ok(files)
    }

    fn generate(dir: &Path, now_ms: i64) -> Result<String, KeyError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .expect("the OS random source is available");
        let key = SigningKey::from_pkcs8(dir, doc.as_ref())?;
        let tmp = dir.join(format!(".join-{}.tmp", key.kid));
        let path = dir.join(format!("join-{now_ms:015}-{}.pk8", key.kid));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(doc.as_ref()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(key.kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_load_creates_a_private_key_file_and_rotation_adds_a_newer_signer() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let ring = KeyRing::load_or_create(&keys, 1000).unwrap();
        let first = ring.current().kid.clone();
        let file = fs::read_dir(&keys).unwrap().next().unwrap().unwrap().path();
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );

        let again = KeyRing::load_or_create(&keys, 2000).unwrap();
        assert_eq!(again.current().kid, first, "reloading must not generate");

        let second = KeyRing::rotate(&keys, 3000).unwrap();
        let ring = KeyRing::load_or_create(&keys, 4000).unwrap();
        assert_eq!(ring.current().kid, second);
        assert!(ring.find(&first).is_some(), "old key still verifies");
    }
}

/// The server's live view of the key directory. Tokens signed by a key it has not loaded yet
/// (after `gavel keys rotate`, or links printed by `gavel demo`) trigger a re-read, at most
/// once a second, so a rotation never locks people out; signing switches to the newest key
/// at the next start.
#[derive(Debug)]
pub struct KeyStore {
    dir: PathBuf,
    ring: std::sync::RwLock<std::sync::Arc<KeyRing>>,
    last_reload_ms: std::sync::atomic::AtomicI64,
}

impl KeyStore {
    /// Wraps an already-loaded ring read from `dir`.
    pub fn new(dir: PathBuf, ring: KeyRing) -> Self {
        Self {
            dir,
            ring: std::sync::RwLock::new(std::sync::Arc::new(ring)),
            last_reload_ms: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// The keys as loaded now.
    pub fn ring(&self) -> std::sync::Arc<KeyRing> {
        match self.ring.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the directory unless that was done less than a second ago; true if it did.
    /// The signing key stays the one loaded at start.
    pub fn reload(&self, now_ms: i64) -> bool {
        use std::sync::atomic::Ordering;
        let last = self.last_reload_ms.load(Ordering::Relaxed);
        if now_ms - last < 1000
            || self
                .last_reload_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        let current = self.ring();
        match KeyRing::load_or_create(&self.dir, now_ms) {
            Ok(mut fresh) => {
                // Keep signing with the key loaded at start; only add verifiers.
                let signer = current.current().kid.clone();
                if let Some(pos) = fresh.keys.iter().position(|k| k.kid == signer) {
                    let k = fresh.keys.remove(pos);
                    fresh.keys.push(k);
                }
                match self.ring.write() {
                    Ok(mut g) => *g = std::sync::Arc::new(fresh),
                    Err(poisoned) => *poisoned.into_inner() = std::sync::Arc::new(fresh),
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "re-reading join-link keys failed");
                false
            }
        }
    }
}
