//! The mediation agreement through the API (Art. 16). At the end of a mediation the mediator
//! drafts the terms; each side that took part (a party or counsel) reads exactly that text and
//! signs it or refuses with a reason, each decision signed by the server's Ed25519 key for the
//! participant it authenticated, and the server seals the agreement once every side has
//! decided; then `mediation.agreement_signed` goes to the platform. A new draft supersedes one
//! not yet complete, and follows one that was refused; one signed by every side stands. The
//! signed file verifies offline (`gavel verify agreement`).
//!
//! Who may read it: the platform, the mediator, the court's record keepers, and its signers.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gavel_recordings::written::agreement::{AGREEMENT_FILE_FORMAT, AGREEMENT_FORMAT, Agreement};
use gavel_recordings::written::{Completion, Decision, HearingInfo, Person, Signature, SignedFile};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

mod decide;
pub(super) use decide::*;

use super::recordings::{Caller, audit, caller};
use super::written::ledger::{self, AGREEMENTS};
use crate::audit::AuditAction;
use crate::clock::{now_ms, rfc3339};
use crate::db::DbError;
use crate::domain::role::capabilities;
use crate::domain::{Capability, HearingKind, Role};
use crate::http::AppState;
use crate::http::error::{ApiError, Conflict, Problem};
use crate::http::extract::{ApiJson, ApiPath};

/// Longest agreement, in characters (a CJK text of this length fits the default body limit).
const MAX_TEXT_CHARS: usize = 10_000;

/// Who reads every agreement of a hearing besides the platform and its signers.
const AGREEMENT_READERS: &[Capability] = &[
    Capability::DraftAgreement,
    Capability::EditTranscript,
    Capability::AccessRecording,
];

/// A drafted agreement and where its signing stands.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AgreementView {
    /// Agreement id.
    id: String,
    /// Hearing id.
    hearing_id: String,
    /// 1, 2, ... in the order drafted.
    version: u64,
    /// SHA-256 of `document`, hex.
    sha256: String,
    /// `awaiting_signatures`, `complete` (every side decided) or `superseded` (a later
    /// draft came before everyone decided).
    state: String,
    /// Whether every side signed (absent until complete).
    #[serde(skip_serializing_if = "Option::is_none")]
    all_signed: Option<bool>,
    /// When it was drafted.
    drafted_at: String,
    /// The mediator who drafted it.
    drafted_by: String,
    /// The terms.
    text: String,
    /// The sides, each with their decision once made.
    signers: Vec<ledger::SignerView>,
    /// The canonical document (JSON), exactly the bytes hashed and signed.
    document: String,
}

/// A stored agreement with its decisions.
struct Stored {
    id: String,
    hearing_id: String,
    text: String,
    sha256: String,
    doc: Agreement,
    completion: Option<Completion>,
    superseded: bool,
    signatures: Vec<Signature>,
}

impl Stored {
    fn view(&self) -> AgreementView {
        AgreementView {
            id: self.id.clone(),
            hearing_id: self.hearing_id.clone(),
            version: self.doc.version,
            sha256: self.sha256.clone(),
            state: if self.completion.is_some() {
                "complete"
            } else if self.superseded {
                "superseded"
            } else {
                "awaiting_signatures"
            }
            .into(),
            all_signed: self.completion.as_ref().map(|_| {
                self.signatures
                    .iter()
                    .all(|s| s.decision == Decision::Signed)
            }),
            drafted_at: rfc3339(self.doc.drafted_at_ms),
            drafted_by: self.doc.drafted_by.name.clone(),
            text: self.doc.text.clone(),
            signers: ledger::signer_views(&self.doc.signers, &self.signatures),
            document: self.text.clone(),
        }
    }

    fn file(&self) -> SignedFile {
        SignedFile {
            format: AGREEMENT_FILE_FORMAT.into(),
            document: self.text.clone(),
            sha256: self.sha256.clone(),
            signatures: self.signatures.clone(),
            completion: self.completion.clone(),
        }
    }
}

async fn load(st: &AppState, hearing: &str, id: &str) -> Result<Stored, ApiError> {
    let pool = st.db.pool();
    let r = sqlx::query(
        "SELECT document, sha256, version, completed_at, completion_kid, completion_signature \
         FROM agreement_documents WHERE id = $1 AND hearing_id = $2",
    )
    .bind(id)
    .bind(hearing)
    .fetch_optional(pool)
    .await
    .map_err(DbError::from)?
    .ok_or(ApiError::NotFound("agreement"))?;
    let text: String = r.try_get("document").map_err(DbError::from)?;
    let doc: Agreement = serde_json::from_str(&text)
        .map_err(|_| ApiError::Internal("a stored agreement is unreadable".into()))?;
    let version: i64 = r.try_get("version").map_err(DbError::from)?;
    let completion = ledger::completion(&r).map_err(DbError::from)?;
    Ok(Stored {
        id: id.to_owned(),
        hearing_id: hearing.to_owned(),
        sha256: r.try_get("sha256").map_err(DbError::from)?,
        superseded: completion.is_none() && later_exists(pool, hearing, version).await?,
        signatures: AGREEMENTS.signatures_of(pool, id).await?,
        completion,
        text,
        doc,
    })
}

/// Whether the hearing has an agreement drafted after the `version`th.
async fn later_exists<'e, E>(ex: E, hearing: &str, version: i64) -> Result<bool, ApiError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(
        sqlx::query(
            "SELECT 1 AS x FROM agreement_documents WHERE hearing_id = $1 AND version > $2",
        )
        .bind(hearing)
        .bind(version)
        .fetch_optional(ex)
        .await?
        .is_some(),
    )
}

/// The caller reads every agreement of the hearing (the platform, the mediator, the court's
/// record keepers), or one as its signer (`signers`).
fn may_read(c: &Caller, signers: &[Person]) -> Result<(), ApiError> {
    ledger::may_read(
        c,
        AGREEMENT_READERS,
        signers,
        "the agreement is for the mediator, the court and the sides who sign it",
    )
}

async fn open(
    st: &AppState,
    hearing: &str,
    agreement: &str,
    headers: &axum::http::HeaderMap,
) -> Result<(Caller, Stored), ApiError> {
    let hearing = crate::docket::path_id(hearing, "hearing")?;
    let agreement = crate::docket::path_id(agreement, "agreement")?;
    let c = caller(st, headers, &hearing).await?;
    Ok((c, load(st, &hearing, &agreement).await?))
}

/// What the mediator drafts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Draft {
    /// The agreed terms (paragraphs separated by newlines; at most 10,000 characters).
    text: String,
}

/// Drafts the agreement (the mediator, once a side has taken part): the canonical document
/// with its SHA-256, to be signed or refused by each side that took part. A new
/// draft supersedes the last one unless that one is complete; after one signed by every side
/// there is nothing more to draft.
#[utoipa::path(post, path = "/hearings/{hearing_id}/agreements", tag = "mediation",
    security(("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    request_body = Draft,
    responses((status = 201, body = AgreementView), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub(in crate::docket) async fn draft(
    State(st): State<AppState>,
    ApiPath(hearing_id): ApiPath<String>,
    headers: axum::http::HeaderMap,
    // Read after the caller is authenticated: no body is judged for an unknown caller.
    body: Result<ApiJson<Draft>, ApiError>,
) -> Result<(StatusCode, Json<AgreementView>), ApiError> {
    let hearing_id = crate::docket::path_id(&hearing_id, "hearing")?;
    let c = caller(&st, &headers, &hearing_id).await?;
    let ApiJson(body) = body?;
    let mediator_id = ledger::holder_of(
        &c,
        Capability::DraftAgreement,
        "only the mediator drafts the agreement",
    )?;
    let text = crate::domain::validate::paragraphs("text", &body.text, MAX_TEXT_CHARS)?;
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    let hearing = crate::docket::rows::load_hearing(&mut *w.tx, &hearing_id).await?;
    if hearing.kind != HearingKind::Mediation {
        return Err(Conflict::NotAMediation.into());
    }
    let latest: Option<(i64, Option<i64>, String)> = sqlx::query_as(
        "SELECT version, completed_at, id FROM agreement_documents WHERE hearing_id = $1 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(&hearing_id)
    .fetch_optional(&mut *w.tx)
    .await
    .map_err(DbError::from)?;
    if let Some((version, Some(_), id)) = &latest {
        let decisions = AGREEMENTS.signatures_of(&mut *w.tx, id).await?;
        if decisions.iter().all(|s| s.decision == Decision::Signed) {
            return Err(Conflict::AgreementSigned(u64::try_from(*version).unwrap_or(0)).into());
        }
    }
    let version = latest.as_ref().map_or(1, |(v, ..)| v + 1);
    let signers = crate::written::took_part(&mut w.tx, &hearing_id, |r: Role| {
        capabilities(r).allows(Capability::SignAgreement)
    })
    .await?;
    if signers.is_empty() {
        return Err(Conflict::NoSides.into());
    }
    let docket = crate::docket::rows::load_docket(&mut *w.tx, &hearing.docket_id).await?;
    let mediator: (String, String) =
        sqlx::query_as("SELECT display_name, role FROM participants WHERE id = $1")
            .bind(&mediator_id)
            .fetch_one(&mut *w.tx)
            .await
            .map_err(DbError::from)?;
    let doc = Agreement {
        format: AGREEMENT_FORMAT.into(),
        hearing: HearingInfo {
            id: hearing_id.clone(),
            kind: hearing.kind.as_str().into(),
            title: hearing.title.clone().unwrap_or_default(),
            case_number: docket.case_number.clone(),
            court: docket.court.clone(),
        },
        version: u64::try_from(version).unwrap_or(0),
        drafted_at_ms: now,
        drafted_by: Person {
            participant_id: mediator_id,
            name: mediator.0,
            role: mediator.1,
        },
        text,
        signers,
    };
    let canonical = String::from_utf8(doc.canonical())
        .map_err(|_| ApiError::Internal("a document is always UTF-8".into()))?;
    let sha256 = gavel_recordings::written::sha256_hex(canonical.as_bytes());
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO agreement_documents (id, hearing_id, version, document, sha256, \
         drafted_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&hearing_id)
    .bind(version)
    .bind(&canonical)
    .bind(&sha256)
    .bind(c.actor.to_string())
    .bind(now)
    .execute(&mut *w.tx)
    .await
    .map_err(DbError::from)?;
    crate::audit::append(
        &mut w.tx,
        now,
        &c.actor,
        AuditAction::AgreementDraft,
        &format!("hearing:{hearing_id}"),
        serde_json::json!({"agreement": id, "version": version, "sha256": sha256}),
    )
    .await?;
    w.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(load(&st, &hearing_id, &id).await?.view()),
    ))
}

/// The hearing's agreements that the caller may read, newest first: every one for the
/// platform, the mediator and the court's record keepers; a side sees those it is asked to
/// sign. Each read is audited.
#[utoipa::path(get, path = "/hearings/{hearing_id}/agreements", tag = "mediation",
    security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 200, body = [AgreementView]), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(in crate::docket) async fn list(
    State(st): State<AppState>,
    ApiPath(hearing_id): ApiPath<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Vec<AgreementView>>, ApiError> {
    let hearing_id = crate::docket::path_id(&hearing_id, "hearing")?;
    let c = caller(&st, &headers, &hearing_id).await?;
    crate::docket::rows::load_hearing(st.db.pool(), &hearing_id).await?;
    let ids: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM agreement_documents WHERE hearing_id = $1 ORDER BY version DESC",
    )
    .bind(&hearing_id)
    .fetch_all(st.db.pool())
    .await
    .map_err(DbError::from)?;
    if let Some((_, role)) = &c.participant
        && !capabilities(*role).allows(Capability::SignAgreement)
    {
        // Neither a reader nor a side: nothing here is theirs to see.
        may_read(&c, &[])?;
    }
    let mut list = Vec::new();
    for (id,) in ids {
        let a = load(&st, &hearing_id, &id).await?;
        if may_read(&c, &a.doc.signers).is_ok() {
            list.push(a);
        }
    }
    let shown: Vec<&str> = list.iter().map(|a| a.id.as_str()).collect();
    audit(
        &st,
        &c.actor,
        AuditAction::AgreementView,
        &hearing_id,
        Some(&shown.join(",")),
    )
    .await?;
    Ok(Json(list.iter().map(Stored::view).collect()))
}

/// One agreement and its decisions so far.
#[utoipa::path(get, path = "/hearings/{hearing_id}/agreements/{agreement_id}", tag = "mediation",
    security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("agreement_id" = String, Path, description = "Agreement id")),
    responses((status = 200, body = AgreementView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(in crate::docket) async fn get(
    State(st): State<AppState>,
    ApiPath((hearing_id, agreement_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Json<AgreementView>, ApiError> {
    let (c, a) = open(&st, &hearing_id, &agreement_id, &headers).await?;
    may_read(&c, &a.doc.signers)?;
    audit(
        &st,
        &c.actor,
        AuditAction::AgreementView,
        &a.hearing_id,
        Some(&a.id),
    )
    .await?;
    Ok(Json(a.view()))
}

/// The signed file (the agreement verbatim, its hash and every decision), which
/// `gavel verify agreement` checks offline.
#[utoipa::path(get, path = "/hearings/{hearing_id}/agreements/{agreement_id}/signed",
    tag = "mediation", security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("agreement_id" = String, Path, description = "Agreement id")),
    responses((status = 200, description = "The signed agreement file (JSON)"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub(in crate::docket) async fn signed(
    State(st): State<AppState>,
    ApiPath((hearing_id, agreement_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let (c, a) = open(&st, &hearing_id, &agreement_id, &headers).await?;
    may_read(&c, &a.doc.signers)?;
    audit(
        &st,
        &c.actor,
        AuditAction::AgreementDownload,
        &a.hearing_id,
        Some(&a.id),
    )
    .await?;
    let body =
        serde_json::to_string_pretty(&a.file()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"agreement-{}.json\"", a.id))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
