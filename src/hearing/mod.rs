//! The hearing rules that both the case API and the hearing room apply: moving a hearing
//! through its states ([`transition`]) and admitting a join token ([`admit`]).
//!
//! Nothing here knows HTTP or the signaling protocol: refusals are typed
//! ([`TransitionError`], [`JoinRefusal`]) and each caller renders them its own way (a problem
//! document with a stable slug, an `error` message in the room). So the API and the room can
//! never disagree on a rule, and neither takes the other's error apart.

pub mod admit;
pub mod transition;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};
use utoipa::ToSchema;

use crate::clock::rfc3339;
use crate::db::DbError;
use crate::domain::{HearingKind, HearingState};

pub use admit::{AdmitError, Admitted, JoinRefusal};
pub use transition::TransitionError;

/// A hearing as the record holds it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hearing {
    /// Hearing id.
    pub id: String,
    /// The docket it belongs to.
    pub docket_id: String,
    /// Trial, pre-trial or mediation.
    pub kind: HearingKind,
    /// Optional title.
    pub title: Option<String>,
    /// Scheduled start (RFC 3339).
    pub scheduled_start: String,
    /// The language it is held in (ISO 639-1), when not the court's own: its captions and
    /// transcript are made in it.
    pub language: Option<String>,
    /// Current state.
    pub state: HearingState,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last state change (RFC 3339).
    pub updated_at: String,
}

/// Why the record could not be read or written (never a refusal: the caller could not be
/// answered on the rules).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed or is unavailable.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A stored value is not one this server knows (a newer schema, a hand edit).
    #[error("stored {0} is not one the server knows")]
    Corrupt(&'static str),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(DbError::Sqlx(e))
    }
}

/// The columns [`from_row`] reads.
pub const HEARING_COLS: &str =
    "id, docket_id, kind, title, scheduled_start, language, state, created_at, updated_at";

/// Reads a `hearings` row selected with [`HEARING_COLS`].
pub fn from_row(r: &AnyRow) -> Result<Hearing, StoreError> {
    let kind: String = r.try_get("kind")?;
    let state: String = r.try_get("state")?;
    Ok(Hearing {
        id: r.try_get("id")?,
        docket_id: r.try_get("docket_id")?,
        kind: HearingKind::parse(&kind).ok_or(StoreError::Corrupt("hearing kind"))?,
        title: r.try_get("title")?,
        scheduled_start: rfc3339(r.try_get("scheduled_start")?),
        language: r.try_get("language")?,
        state: HearingState::parse(&state).ok_or(StoreError::Corrupt("hearing state"))?,
        created_at: rfc3339(r.try_get("created_at")?),
        updated_at: rfc3339(r.try_get("updated_at")?),
    })
}

/// Loads hearing `id`, if there is one.
pub async fn load<'e, E>(ex: E, id: &str) -> Result<Option<Hearing>, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    let sql = sqlx::AssertSqlSafe(format!("SELECT {HEARING_COLS} FROM hearings WHERE id = $1"));
    let row = sqlx::query(sql).bind(id).fetch_optional(ex).await?;
    row.as_ref().map(from_row).transpose()
}
