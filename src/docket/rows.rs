//! Reading case-API rows into response bodies, shared by the handlers.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::model::{Docket, Hearing, Participant};
use crate::clock::rfc3339;
use crate::domain::Role;
use crate::domain::role::capabilities;
use crate::http::error::ApiError;

fn corrupt(what: &str) -> ApiError {
    ApiError::Internal(format!("stored {what} is not one the server knows"))
}

pub(super) const DOCKET_COLS: &str = "id, case_number, title, court, case_type, created_at";
pub(super) use crate::hearing::HEARING_COLS;
pub(super) const PARTICIPANT_COLS: &str =
    "id, hearing_id, display_name, role, identity_ref, contact, created_at";

pub(super) fn docket(r: &AnyRow) -> Result<Docket, ApiError> {
    Ok(Docket {
        id: r.try_get("id")?,
        case_number: r.try_get("case_number")?,
        title: r.try_get("title")?,
        court: r.try_get("court")?,
        case_type: r.try_get("case_type")?,
        created_at: rfc3339(r.try_get("created_at")?),
    })
}

pub(super) fn hearing(r: &AnyRow) -> Result<Hearing, ApiError> {
    Ok(crate::hearing::from_row(r)?)
}

pub(super) fn participant(r: &AnyRow) -> Result<Participant, ApiError> {
    let role: String = r.try_get("role")?;
    let role = Role::parse(&role).ok_or_else(|| corrupt("role"))?;
    Ok(Participant {
        id: r.try_get("id")?,
        hearing_id: r.try_get("hearing_id")?,
        display_name: r.try_get("display_name")?,
        role,
        identity_ref: r.try_get("identity_ref")?,
        contact: r.try_get("contact")?,
        capabilities: capabilities(role).to_vec(),
        created_at: rfc3339(r.try_get("created_at")?),
    })
}

/// Loads a hearing by id (404 when absent).
pub(super) async fn load_hearing<'e, E>(ex: E, id: &str) -> Result<Hearing, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    crate::hearing::load(ex, id)
        .await?
        .ok_or(ApiError::NotFound("hearing"))
}

/// Loads a docket by id (404 when absent).
pub(super) async fn load_docket<'e, E>(ex: E, id: &str) -> Result<Docket, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let sql = sqlx::AssertSqlSafe(format!("SELECT {DOCKET_COLS} FROM dockets WHERE id = $1"));
    let row = sqlx::query(sql)
        .bind(id)
        .fetch_optional(ex)
        .await?
        .ok_or(ApiError::NotFound("docket"))?;
    docket(&row)
}
