//! The audit log: append inside the transaction of the change it records, and verify.
//!
//! Appends happen only inside a [`crate::db::WriteTx`], so a change without its audit entry (or
//! the reverse) can never be committed, and entries are strictly sequential. `details` is
//! canonical JSON (serde_json sorts object keys) and must carry no secrets or contact data.
//!
//! The chain shows any edited, inserted or removed entry; a cut end (a shorter chain is still
//! valid) and a chain re-hashed from an edited entry on (plain SHA-256 needs no key) are found
//! by the signed checkpoints kept outside the database ([`crate::checkpoint`]).

use sqlx::{Any, Row, Transaction};

use crate::db::{Db, DbError};
use crate::domain::audit::Actor;
pub use crate::domain::audit::AuditAction;
use crate::domain::audit::{AuditEntry, next_link};
use gavel_recordings::{ChainError, Digest, verify_chain};

/// Adds one entry to the chain inside `tx`.
pub async fn append(
    tx: &mut Transaction<'static, Any>,
    at_ms: i64,
    actor: &Actor,
    action: AuditAction,
    subject: &str,
    details: serde_json::Value,
) -> Result<(), DbError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let head = match head {
        Some(r) => Some((
            r.try_get::<i64, _>("seq")?,
            parse_digest(&r.try_get::<String, _>("hash")?),
        )),
        None => None,
    };
    let (seq, prev) = next_link(head.map(|(s, h)| (s, h.unwrap_or([0xff; 32]))));
    let entry = AuditEntry {
        seq,
        at_ms,
        actor: actor.to_string(),
        action: action.as_str().to_owned(),
        subject: subject.to_owned(),
        details: details.to_string(),
    };
    let hash = entry.hash_after(&prev);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(entry.seq)
    .bind(entry.at_ms)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.subject)
    .bind(&entry.details)
    .bind(hex::encode(prev))
    .bind(hex::encode(hash))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn parse_digest(s: &str) -> Option<Digest> {
    let v = hex::decode(s).ok()?;
    v.try_into().ok()
}

/// Result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerdict {
    /// Every entry links and matches its hash.
    Intact {
        /// Number of entries.
        entries: usize,
        /// Hash of the last entry (hex), to compare with a copy kept elsewhere.
        head: String,
    },
    /// The first entry that fails, by sequence number.
    Broken {
        /// Its `seq`.
        seq: i64,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads the chain in order and checks every link.
pub async fn verify(db: &Db) -> Result<AuditVerdict, DbError> {
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_log ORDER BY seq",
    )
    .fetch_all(db.pool())
    .await?;
    let mut entries = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let entry = AuditEntry {
            seq: r.try_get("seq")?,
            at_ms: r.try_get("at")?,
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            subject: r.try_get("subject")?,
            details: r.try_get("details")?,
        };
        let expected_seq = i as i64 + 1;
        if entry.seq != expected_seq {
            return Ok(AuditVerdict::Broken {
                seq: entry.seq,
                reason: format!("sequence gap: expected entry {expected_seq}"),
            });
        }
        let prev = parse_digest(&r.try_get::<String, _>("prev_hash")?);
        let hash = parse_digest(&r.try_get::<String, _>("hash")?);
        let (Some(prev), Some(hash)) = (prev, hash) else {
            return Ok(AuditVerdict::Broken {
                seq: entry.seq,
                reason: "stored hash is not 64 hex digits".into(),
            });
        };
        entries.push((prev, hash, entry.payload()));
    }
    let checked = verify_chain(entries.iter().map(|(p, h, d)| (*p, *h, d.as_slice())));
    Ok(match checked {
        Ok(head) => AuditVerdict::Intact {
            entries: entries.len(),
            head: hex::encode(head),
        },
        Err(e) => {
            let seq = e.index() as i64 + 1;
            let reason = match e {
                ChainError::BrokenLink { .. } => {
                    "does not link to the entry before it (an entry was removed or altered)"
                }
                _ => "content does not match its hash (the entry was altered)",
            };
            AuditVerdict::Broken {
                seq,
                reason: reason.into(),
            }
        }
    })
}

/// Every entry's stored hash, in order (entry `n` at index `n - 1`): what the checkpoints are
/// held to, once [`verify`] has found the chain intact (so each stored hash is the computed one).
pub async fn hashes(db: &Db) -> Result<Vec<String>, DbError> {
    let rows: Vec<String> = sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY seq")
        .fetch_all(db.pool())
        .await?;
    Ok(rows)
}
