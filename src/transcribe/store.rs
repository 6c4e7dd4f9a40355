//! Storing the live transcript: each caption (or gap) as the worker produced it, with the
//! speaker's role as registered. Content, not a state change: it is not audited line by line;
//! the revisions and signatures built on it are.

use super::live::CaptionEvent;
use crate::db::{Db, DbError};

/// Stores `event` for `hearing`.
pub async fn store(db: &Db, hearing: &str, event: &CaptionEvent, now: i64) -> Result<(), DbError> {
    let (participant, start_ms, end_ms, text, confidence, gap) = match event {
        CaptionEvent::Caption {
            participant,
            start_ms,
            end_ms,
            text,
            confidence,
            ..
        } => (
            participant,
            *start_ms,
            *end_ms,
            text.as_str(),
            (*confidence * 1000.0).round() as i64,
            None,
        ),
        CaptionEvent::Gap {
            participant,
            start_ms,
            end_ms,
            why,
        } => (
            participant,
            *start_ms,
            *end_ms,
            "",
            0,
            Some(why.to_string()),
        ),
    };
    let stored = sqlx::query(
        "INSERT INTO transcript_segments (id, hearing_id, participant_id, role, start_ms, end_ms, \
         text, confidence, gap, created_at) \
         SELECT $1, $2, $3, role, $4, $5, $6, $7, $8, $9 FROM participants \
         WHERE id = $3 AND hearing_id = $2 \
         UNION ALL SELECT $1, $2, $3, 'courtroom', $4, $5, $6, $7, $8, $9 FROM devices \
         WHERE id = $3 AND hearing_id = $2",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(hearing)
    .bind(participant.as_str())
    .bind(start_ms)
    .bind(end_ms)
    .bind(text)
    .bind(confidence)
    .bind(gap)
    .bind(now)
    .execute(db.pool())
    .await?;
    // The speaker's role comes from their registration (a courtroom device's is `courtroom`); a
    // line from someone the hearing does not know is not stored, and the caller records that
    // as a fault.
    if stored.rows_affected() == 0 {
        return Err(DbError::Missing("participant registered for this hearing"));
    }
    Ok(())
}
