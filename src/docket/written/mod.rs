//! The signed written record through the API (Art. 25). Once the hearing has ended the clerk
//! finalises the revision they reviewed into a canonical document with its SHA-256; each
//! required signer then signs that exact document or refuses with a reason, each decision
//! signed by the server's Ed25519 key for the participant it authenticated; when all have
//! decided, the `transcript.signed` event goes to the platform. The signed file verifies
//! offline (`gavel verify transcript`). The unmasked record is for the platform, the clerk,
//! the judge or mediator and the signers; anyone in the hearing may have the public copy,
//! with sensitive personal information shielded (Art. 36).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gavel_recordings::written::{
    self as record, Completion, Document, HearingInfo, Person, Signature, SignedFile,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

mod decide;
mod export;
mod finalise;
pub(super) mod ledger;
pub(super) use decide::*;
pub(super) use export::*;
pub(super) use finalise::*;

use super::recordings::{Caller, audit, caller};
use super::transcript::TRANSCRIPT_READERS;
use crate::audit::AuditAction;
use crate::clock::{now_ms, rfc3339};
use crate::db::DbError;
use crate::domain::{Capability, HearingState};
use crate::http::AppState;
use crate::http::error::{ApiError, Conflict, Problem};
use crate::http::extract::{ApiJson, ApiPath};

/// A finalised transcript and where its signing stands.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DocumentView {
    /// Document id.
    id: String,
    /// Hearing id.
    hearing_id: String,
    /// The transcript revision finalised.
    revision: u64,
    /// SHA-256 of `document`, hex.
    sha256: String,
    /// `awaiting_signatures`, `complete` (everyone decided) or `superseded` (a later
    /// revision was finalised before this one was complete).
    state: String,
    /// When it was finalised.
    finalised_at: String,
    /// The signers, each with their decision once made.
    signers: Vec<ledger::SignerView>,
    /// The canonical document (JSON), exactly the bytes hashed and signed.
    document: String,
}

/// A stored document with its decisions.
struct Stored {
    id: String,
    hearing_id: String,
    text: String,
    sha256: String,
    doc: Document,
    /// Its place among the hearing's documents (1, 2, ...).
    number: i64,
    created_at: i64,
    completion: Option<Completion>,
    superseded: bool,
    signatures: Vec<Signature>,
}

impl Stored {
    fn view(&self) -> DocumentView {
        DocumentView {
            id: self.id.clone(),
            hearing_id: self.hearing_id.clone(),
            revision: self.doc.revision,
            sha256: self.sha256.clone(),
            state: if self.completion.is_some() {
                "complete"
            } else if self.superseded {
                "superseded"
            } else {
                "awaiting_signatures"
            }
            .into(),
            finalised_at: rfc3339(self.created_at),
            signers: ledger::signer_views(&self.doc.signers, &self.signatures),
            document: self.text.clone(),
        }
    }
}

async fn load(st: &AppState, hearing: &str, id: &str) -> Result<Stored, ApiError> {
    let pool = st.db.pool();
    let r = sqlx::query(
        "SELECT document, sha256, created_at, number, completed_at, completion_kid, \
         completion_signature FROM transcript_documents WHERE id = $1 AND hearing_id = $2",
    )
    .bind(id)
    .bind(hearing)
    .fetch_optional(pool)
    .await
    .map_err(DbError::from)?
    .ok_or(ApiError::NotFound("transcript document"))?;
    let text: String = r.try_get("document").map_err(DbError::from)?;
    let doc: Document = serde_json::from_str(&text)
        .map_err(|_| ApiError::Internal("a stored transcript document is unreadable".into()))?;
    let number: i64 = r.try_get("number").map_err(DbError::from)?;
    let newer = newer_exists(pool, hearing, number).await?;
    let signatures = ledger::TRANSCRIPTS.signatures_of(pool, id).await?;
    let completion = ledger::completion(&r)?;
    Ok(Stored {
        id: id.to_owned(),
        hearing_id: hearing.to_owned(),
        sha256: r.try_get("sha256").map_err(DbError::from)?,
        created_at: r.try_get("created_at").map_err(DbError::from)?,
        text,
        doc,
        number,
        superseded: newer && completion.is_none(),
        completion,
        signatures,
    })
}

/// Whether the hearing has a document finalised after the `number`th.
async fn newer_exists<'e, E>(ex: E, hearing: &str, number: i64) -> Result<bool, ApiError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(
        sqlx::query(
            "SELECT 1 AS x FROM transcript_documents WHERE hearing_id = $1 AND number > $2",
        )
        .bind(hearing)
        .bind(number)
        .fetch_optional(ex)
        .await?
        .is_some(),
    )
}

/// The caller may read the unmasked record: the platform, a reader of the transcript, or one
/// of this document's signers.
fn may_read(c: &Caller, d: &Stored) -> Result<(), ApiError> {
    ledger::may_read(
        c,
        TRANSCRIPT_READERS,
        &d.doc.signers,
        "the unmasked record is for the court and its signers; ask for the public copy",
    )
}

async fn open(
    st: &AppState,
    hearing: &str,
    document: &str,
    headers: &axum::http::HeaderMap,
) -> Result<(Caller, Stored), ApiError> {
    let hearing = crate::docket::path_id(hearing, "hearing")?;
    let document = crate::docket::path_id(document, "transcript document")?;
    let c = caller(st, headers, &hearing).await?;
    Ok((c, load(st, &hearing, &document).await?))
}

fn file(d: &Stored) -> SignedFile {
    SignedFile {
        format: record::FILE_FORMAT.into(),
        document: d.text.clone(),
        sha256: d.sha256.clone(),
        signatures: d.signatures.clone(),
        completion: d.completion.clone(),
    }
}
