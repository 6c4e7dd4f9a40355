//! Moving a hearing to another state in the record: the state change, its audit entry and its
//! webhook event in one write transaction, or a typed refusal and nothing written.
//!
//! Shared by the case API (the platform opens and closes hearings) and the room (a judge
//! calls a recess or ends the hearing).

use tokio::sync::Notify;

use super::{Hearing, StoreError, load};
use crate::audit;
use crate::audit::AuditAction;
use crate::auth::Actor;
use crate::clock::now_ms;
use crate::db::Db;
use crate::domain::HearingState;
use crate::domain::hearing::IllegalTransition;
use crate::webhook::{self, EventType};

/// Why a hearing did not move.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionError {
    /// No hearing has that id.
    #[error("hearing not found")]
    NotFound,
    /// The state machine does not allow the move (e.g. a closed hearing reopened).
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    /// The record could not be read or written; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::db::DbError> for TransitionError {
    fn from(e: crate::db::DbError) -> Self {
        Self::Store(StoreError::Db(e))
    }
}

impl From<sqlx::Error> for TransitionError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Moves hearing `id` to `to` with its audit entry and webhook event, and returns it as it is
/// now. A closed hearing's audit log is checkpointed at once.
pub async fn apply(
    db: &Db,
    outbox: &Notify,
    id: &str,
    to: HearingState,
    actor: &Actor,
    reason: Option<String>,
) -> Result<Hearing, TransitionError> {
    let now = now_ms();
    let mut w = db.begin_write().await?;
    let current = load(&mut *w.tx, id)
        .await?
        .ok_or(TransitionError::NotFound)?;
    let next = current.state.transition(to)?;
    sqlx::query("UPDATE hearings SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(next.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut *w.tx)
        .await?;
    audit::append(
        &mut w.tx,
        now,
        actor,
        AuditAction::HearingTransition,
        &format!("hearing:{id}"),
        serde_json::json!({ "from": current.state.as_str(), "to": next.as_str(), "reason": reason }),
    )
    .await?;
    let queued = webhook::enqueue(
        &mut w.tx,
        now,
        EventType::HearingStateChanged,
        serde_json::json!({
            "hearing_id": id, "docket_id": current.docket_id,
            "from": current.state.as_str(), "to": next.as_str(),
        }),
    )
    .await?;
    let hearing = load(&mut *w.tx, id)
        .await?
        .ok_or(TransitionError::NotFound)?;
    w.commit().await?;
    if next == HearingState::Closed {
        // A closed hearing's record is anchored outside the database at once.
        crate::checkpoint::request();
    }
    if queued > 0 {
        outbox.notify_one();
    }
    Ok(hearing)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh SQLite database with the schema and one scheduled hearing, `h1`.
    async fn fresh_record() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect(&url.into(), 1).await.expect("sqlite opens");
        sqlx::query(
            "INSERT INTO dockets (id, case_number, title, court, case_type, created_at)
             VALUES ('d1', 'C-1', 't', 'c', 'civil', 0)",
        )
        .execute(db.pool())
        .await
        .expect("docket");
        sqlx::query(
            "INSERT INTO hearings (id, docket_id, kind, title, scheduled_start, state, created_at, updated_at)
             VALUES ('h1', 'd1', 'trial', NULL, 0, 'scheduled', 0, 0)",
        )
        .execute(db.pool())
        .await
        .expect("hearing");
        (dir, db)
    }

    /// Moves hearing `id` to `to` as the command line would.
    async fn move_to(db: &Db, id: &str, to: HearingState) -> Result<Hearing, TransitionError> {
        apply(db, &Notify::new(), id, to, &Actor::Cli, None).await
    }

    async fn audit_entries(db: &Db) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
            .fetch_one(db.pool())
            .await
            .expect("count")
    }

    #[tokio::test]
    async fn a_legal_move_is_made_with_its_audit_entry() {
        let (_dir, db) = fresh_record().await;
        let h = move_to(&db, "h1", HearingState::Open)
            .await
            .expect("scheduled → open is legal");
        assert_eq!(h.state, HearingState::Open);
        assert_eq!(audit_entries(&db).await, 1);
    }

    #[tokio::test]
    async fn an_illegal_move_is_refused_as_illegal_and_writes_nothing() {
        let (_dir, db) = fresh_record().await;
        let e = move_to(&db, "h1", HearingState::Recess)
            .await
            .expect_err("scheduled → recess is illegal");
        assert!(
            matches!(
                e,
                TransitionError::Illegal(IllegalTransition {
                    from: HearingState::Scheduled,
                    to: HearingState::Recess
                })
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "a hearing cannot go from scheduled to recess"
        );
        assert_eq!(audit_entries(&db).await, 0);
    }

    #[tokio::test]
    async fn an_unknown_hearing_is_not_found() {
        let (_dir, db) = fresh_record().await;
        let e = move_to(&db, "nope", HearingState::Open)
            .await
            .expect_err("no such hearing");
        assert!(matches!(e, TransitionError::NotFound), "{e:?}");
    }

    #[tokio::test]
    async fn a_closed_database_is_a_store_failure_not_a_refusal() {
        let (_dir, db) = fresh_record().await;
        db.close().await;
        let e = move_to(&db, "h1", HearingState::Open)
            .await
            .expect_err("the pool is closed");
        assert!(
            matches!(e, TransitionError::Store(StoreError::Db(_))),
            "{e:?}"
        );
    }
}
