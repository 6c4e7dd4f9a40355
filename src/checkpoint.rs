//! Signed checkpoints of the audit chain's head, kept where the database cannot rewrite them.
//!
//! Every `audit.checkpoint_secs` (when the log has grown) and whenever a hearing closes, the
//! server signs (entries, head hash, time) with its Ed25519 key, appends the checkpoint to
//! `audit-checkpoints.jsonl` in the data directory (beside the keys; synced before it counts)
//! and sends it to the platform as the `audit.checkpoint` webhook. `gavel audit verify` holds
//! the log to every checkpoint: fewer entries than one signed is truncation; another hash at a
//! signed count is a rewrite (entries edited and the chain re-hashed after them).
//!
//! The message and the checks are pure; `write` and `run` do the I/O.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::auth::keyring::{KeyRing, KeyStore};
use crate::db::{Db, DbError};
use crate::webhook::{self, EventType};

/// The checkpoints' file name in the data directory.
pub const FILE: &str = "audit-checkpoints.jsonl";

/// Domain tag of the signed message, so a checkpoint signature is never valid for anything else.
const DOMAIN: &[u8] = b"gavel-audit-checkpoint-v1";

/// Longest checkpoint file read by `gavel audit verify` (a line every 5 minutes for decades
/// fits).
pub const MAX_FILE: u64 = 256 * 1024 * 1024;

/// Asks the running checkpointers for a checkpoint now (a hearing closed). A wake-up signal
/// only: each checkpointer writes its own server's head.
static REQUESTS: Notify = Notify::const_new();

/// Asks for a checkpoint soon (called when a hearing closes).
pub fn request() {
    REQUESTS.notify_waiters();
}

/// One signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Entries in the log (the head's sequence number).
    pub entries: i64,
    /// The head entry's hash, hex.
    pub head: String,
    /// When it was signed, Unix milliseconds.
    pub at_ms: i64,
    /// The signing key's id.
    pub kid: String,
    /// Ed25519 signature over [`message`], hex.
    pub signature: String,
}

/// The bytes a checkpoint's signature covers.
pub fn message(entries: i64, head: &str, at_ms: i64) -> Vec<u8> {
    gavel_recordings::encode_fields(&[
        DOMAIN,
        &entries.to_be_bytes(),
        head.as_bytes(),
        &at_ms.to_be_bytes(),
    ])
}

impl Checkpoint {
    /// Signs `entries` and `head` at `at_ms` with the ring's current key.
    pub fn sign(entries: i64, head: String, at_ms: i64, ring: &KeyRing) -> Self {
        let key = ring.current();
        let signature = hex::encode(key.sign(&message(entries, &head, at_ms)));
        Self {
            entries,
            head,
            at_ms,
            kid: key.kid.clone(),
            signature,
        }
    }

    /// Whether the signature is the server's (by `public_key` of a key id).
    pub fn signed_by(&self, public_key: impl Fn(&str) -> Option<Vec<u8>>) -> bool {
        let (Some(pk), Ok(sig)) = (public_key(&self.kid), hex::decode(&self.signature)) else {
            return false;
        };
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, pk)
            .verify(&message(self.entries, &self.head, self.at_ms), &sig)
            .is_ok()
    }
}

/// What holding the log to its checkpoints found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The log has fewer entries than a checkpoint signed: its end was cut.
    Truncated {
        /// The checkpoint's time.
        at_ms: i64,
        /// Entries it signed.
        signed: i64,
        /// Entries in the log.
        present: i64,
    },
    /// The entry at a signed count has another hash: it or an earlier one was changed and the
    /// chain re-hashed.
    Rewritten {
        /// The checkpoint's time.
        at_ms: i64,
        /// The entry whose hash differs.
        entry: i64,
    },
    /// A line of the file is not a checkpoint, or its signature is not the server's.
    Forged {
        /// The line, from 1.
        line: usize,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let when = |ms: i64| crate::clock::rfc3339(ms);
        match self {
            Self::Truncated {
                at_ms,
                signed,
                present,
            } => write!(
                f,
                "TRUNCATED: the checkpoint of {} signed {signed} entries but the log holds {present} \
                 (entries {} to {signed} were removed)",
                when(*at_ms),
                present + 1
            ),
            Self::Rewritten { at_ms, entry } => write!(
                f,
                "REWRITTEN: entry {entry} is not the one the checkpoint of {} signed (it or an \
                 earlier entry was changed and the chain hashed again)",
                when(*at_ms)
            ),
            Self::Forged { line } => write!(
                f,
                "checkpoint line {line} is not a checkpoint signed by this server's keys"
            ),
        }
    }
}

/// Holds a log whose entries have the stored `hashes` (entry `n` at `n - 1`; an intact
/// chain) to the checkpoint file's `text`; returns the checkpoints that were read and what
/// failed, each checkpoint judged on its own.
pub fn check(
    text: &str,
    hashes: &[String],
    public_key: impl Fn(&str) -> Option<Vec<u8>>,
) -> (Vec<Checkpoint>, Vec<Finding>) {
    let present = i64::try_from(hashes.len()).unwrap_or(i64::MAX);
    let (mut read, mut findings) = (Vec::new(), Vec::new());
    // A last line without its newline was torn by a crash while being written: it never
    // counted (a checkpoint counts once whole and synced), so it is no forgery.
    let whole = text.rfind('\n').map_or("", |i| &text[..=i]);
    for (i, line) in whole
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let cp = serde_json::from_str::<Checkpoint>(line)
            .ok()
            .filter(|c| c.signed_by(&public_key));
        let Some(cp) = cp else {
            findings.push(Finding::Forged { line: i + 1 });
            continue;
        };
        let at = usize::try_from(cp.entries)
            .ok()
            .and_then(|n| n.checked_sub(1));
        if cp.entries > present {
            findings.push(Finding::Truncated {
                at_ms: cp.at_ms,
                signed: cp.entries,
                present,
            });
        } else if at.and_then(|i| hashes.get(i)) != Some(&cp.head) {
            findings.push(Finding::Rewritten {
                at_ms: cp.at_ms,
                entry: cp.entries,
            });
        }
        read.push(cp);
    }
    (read, findings)
}

/// Why a checkpoint could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Reading the head or queueing the webhook failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The file could not be written.
    #[error("the checkpoint file: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for CheckpointError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e.into())
    }
}

/// The last checkpoint in `path`, if any (the line after the last newline is never one: a
/// line counts only once whole and synced).
fn last_written(path: &Path) -> Option<Checkpoint> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
}

/// Signs and keeps a checkpoint of the log's head, unless `last` already covers it; returns
/// the new one.
pub async fn write(
    db: &Db,
    ring: &KeyRing,
    data_dir: &Path,
    outbox: &Notify,
    last: Option<&Checkpoint>,
) -> Result<Option<Checkpoint>, CheckpointError> {
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(db.pool())
            .await?;
    let Some((entries, head)) = head else {
        return Ok(None);
    };
    if last.is_some_and(|l| l.entries == entries && l.head == head) {
        return Ok(None);
    }
    let cp = Checkpoint::sign(entries, head, crate::clock::now_ms(), ring);
    let mut line = serde_json::to_string(&cp).expect("a checkpoint serialises");
    line.push('\n');
    let path = data_dir.join(FILE);
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        // A line a crash tore is cut first, so the new one starts on a line of its own.
        if let Ok(text) = std::fs::read(&path)
            && !text.is_empty()
            && !text.ends_with(b"\n")
        {
            let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_len(keep as u64)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        f.write_all(line.as_bytes())?;
        f.sync_data()
    })
    .await
    .map_err(|_| std::io::Error::other("the runtime is shutting down"))??;
    let mut w = db.begin_write().await?;
    let queued = webhook::enqueue(
        &mut w.tx,
        cp.at_ms,
        EventType::AuditCheckpoint,
        serde_json::to_value(&cp).expect("a checkpoint serialises"),
    )
    .await?;
    w.commit().await?;
    if queued > 0 {
        outbox.notify_one();
    }
    Ok(Some(cp))
}

/// Writes checkpoints every `every` and when asked ([`request`]), until the task is dropped.
pub async fn run(
    db: Db,
    keys: std::sync::Arc<KeyStore>,
    data_dir: std::path::PathBuf,
    outbox: std::sync::Arc<Notify>,
    every: Duration,
) {
    let path = data_dir.join(FILE);
    let mut last = tokio::task::spawn_blocking(move || last_written(&path))
        .await
        .ok()
        .flatten();
    // The next request is listened for before each write, so one made while a checkpoint is
    // being written (two hearings closing together) is not lost until the next tick.
    let mut asked = std::pin::pin!(REQUESTS.notified());
    asked.as_mut().enable();
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = asked.as_mut() => {}
        }
        asked.set(REQUESTS.notified());
        asked.as_mut().enable();
        match write(&db, &keys.ring(), &data_dir, &outbox, last.as_ref()).await {
            Ok(Some(cp)) => {
                tracing::info!(entries = cp.entries, "audit checkpoint signed");
                last = Some(cp);
            }
            Ok(None) => {}
            Err(e) => {
                let detail = format!("the audit log's checkpoint was not written: {e}");
                crate::fault::report(&db, None, crate::fault::Component::Audit, &detail).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> (tempfile::TempDir, KeyRing) {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(dir.path(), 0).unwrap();
        (dir, ring)
    }

    fn file(cps: &[Checkpoint]) -> String {
        cps.iter()
            .map(|c| serde_json::to_string(c).unwrap() + "\n")
            .collect()
    }

    #[test]
    fn a_log_that_still_holds_what_was_signed_passes_and_a_cut_or_rewritten_one_is_named() {
        let (_d, ring) = ring();
        let key = |kid: &str| ring.find(kid).map(|k| k.public_key().to_vec());
        let hashes: Vec<String> = (1..=5).map(|n| format!("{n:064x}")).collect();
        let text = file(&[
            Checkpoint::sign(3, hashes[2].clone(), 1000, &ring),
            Checkpoint::sign(5, hashes[4].clone(), 2000, &ring),
        ]);
        let (read, findings) = check(&text, &hashes, key);
        assert_eq!((read.len(), findings), (2, vec![]));

        // Two entries cut off the end: the later checkpoint says so.
        let (_, findings) = check(&text, &hashes[..3], key);
        assert_eq!(
            findings,
            [Finding::Truncated {
                at_ms: 2000,
                signed: 5,
                present: 3
            }]
        );
        // Entry 2 edited and every later hash recomputed: both checkpoints fail.
        let mut rehashed = hashes.clone();
        for h in &mut rehashed[1..] {
            *h = h.replace('0', "a");
        }
        let (_, findings) = check(&text, &rehashed, key);
        assert_eq!(
            findings,
            [
                Finding::Rewritten {
                    at_ms: 1000,
                    entry: 3
                },
                Finding::Rewritten {
                    at_ms: 2000,
                    entry: 5
                }
            ]
        );
    }

    #[test]
    fn a_checkpoint_changed_or_signed_by_another_key_is_forged() {
        let (_d, ring) = ring();
        let (_d2, other) = ring_other();
        let key = |kid: &str| ring.find(kid).map(|k| k.public_key().to_vec());
        let hashes: Vec<String> = (1..=3).map(|n| format!("{n:064x}")).collect();
        let mut moved = Checkpoint::sign(3, hashes[2].clone(), 1000, &ring);
        moved.entries = 2;
        moved.head = hashes[1].clone();
        let text =
            file(&[moved, Checkpoint::sign(3, hashes[2].clone(), 1000, &other)]) + "not json\n";
        let (read, findings) = check(&text, &hashes, key);
        assert!(read.is_empty());
        assert_eq!(
            findings,
            [
                Finding::Forged { line: 1 },
                Finding::Forged { line: 2 },
                Finding::Forged { line: 3 }
            ]
        );
    }

    #[test]
    fn a_line_torn_by_a_crash_is_no_forgery() {
        let (_d, ring) = ring();
        let key = |kid: &str| ring.find(kid).map(|k| k.public_key().to_vec());
        let hashes: Vec<String> = (1..=3).map(|n| format!("{n:064x}")).collect();
        let text =
            file(&[Checkpoint::sign(3, hashes[2].clone(), 1000, &ring)]) + "{\"entries\":4,\"he";
        let (read, findings) = check(&text, &hashes, key);
        assert_eq!((read.len(), findings), (1, vec![]));
    }

    fn ring_other() -> (tempfile::TempDir, KeyRing) {
        ring()
    }
}
