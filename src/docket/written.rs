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
    self as record, Decision, Document, HearingInfo, Person, Signature, SignedFile,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use super::recordings::{Caller, audit, caller};
use super::transcript::TRANSCRIPT_READERS;
use crate::app::AppState;
use crate::clock::{now_ms, rfc3339};
use crate::db::DbError;
use crate::domain::role::capabilities;
use crate::domain::{Capability, HearingState};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath};
use crate::webhook::{self, EventType};

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
    signers: Vec<SignerView>,
    /// The canonical document (JSON), exactly the bytes hashed and signed.
    document: String,
}

/// One signer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SignerView {
    /// Participant id.
    participant_id: String,
    /// Name.
    name: String,
    /// Role.
    role: String,
    /// `signed` or `refused`; absent until they decide.
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<String>,
    /// Why they refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// When they decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
}

/// A stored document with its decisions.
struct Stored {
    id: String,
    hearing_id: String,
    text: String,
    sha256: String,
    doc: Document,
    created_at: i64,
    completed: bool,
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
            state: if self.completed {
                "complete"
            } else if self.superseded {
                "superseded"
            } else {
                "awaiting_signatures"
            }
            .into(),
            finalised_at: rfc3339(self.created_at),
            signers: self
                .doc
                .signers
                .iter()
                .map(|p| {
                    let d = self.signatures.iter().find(|s| s.signer == *p);
                    SignerView {
                        participant_id: p.participant_id.clone(),
                        name: p.name.clone(),
                        role: p.role.clone(),
                        decision: d.map(|d| d.decision.as_str().to_owned()),
                        reason: d.and_then(|d| d.reason.clone()),
                        at: d.map(|d| rfc3339(d.at_ms)),
                    }
                })
                .collect(),
            document: self.text.clone(),
        }
    }

    fn is_signer(&self, participant: &str) -> bool {
        self.doc
            .signers
            .iter()
            .any(|p| p.participant_id == participant)
    }
}

async fn load(st: &AppState, hearing: &str, id: &str) -> Result<Stored, ApiError> {
    let pool = st.db.pool();
    let r = sqlx::query(
        "SELECT document, sha256, created_at, completed_at, revision FROM transcript_documents \
         WHERE id = $1 AND hearing_id = $2",
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
    let revision: i64 = r.try_get("revision").map_err(DbError::from)?;
    let newer = sqlx::query(
        "SELECT 1 AS x FROM transcript_documents WHERE hearing_id = $1 AND revision > $2",
    )
    .bind(hearing)
    .bind(revision)
    .fetch_optional(pool)
    .await
    .map_err(DbError::from)?
    .is_some();
    let rows = sqlx::query(
        "SELECT participant_id, name, role, decision, reason, signed_at, kid, signature \
         FROM transcript_signatures WHERE document_id = $1 ORDER BY signed_at, id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .map_err(DbError::from)?;
    let mut signatures = Vec::with_capacity(rows.len());
    for s in &rows {
        let decision: String = s.try_get("decision").map_err(DbError::from)?;
        signatures.push(Signature {
            signer: Person {
                participant_id: s.try_get("participant_id").map_err(DbError::from)?,
                name: s.try_get("name").map_err(DbError::from)?,
                role: s.try_get("role").map_err(DbError::from)?,
            },
            decision: Decision::parse(&decision)
                .ok_or_else(|| ApiError::Internal("a stored decision is unknown".into()))?,
            reason: s.try_get("reason").map_err(DbError::from)?,
            at_ms: s.try_get("signed_at").map_err(DbError::from)?,
            kid: s.try_get("kid").map_err(DbError::from)?,
            signature: s.try_get("signature").map_err(DbError::from)?,
        });
    }
    let completed = r
        .try_get::<Option<i64>, _>("completed_at")
        .map_err(DbError::from)?
        .is_some();
    Ok(Stored {
        id: id.to_owned(),
        hearing_id: hearing.to_owned(),
        sha256: r.try_get("sha256").map_err(DbError::from)?,
        created_at: r.try_get("created_at").map_err(DbError::from)?,
        text,
        doc,
        completed,
        superseded: newer && !completed,
        signatures,
    })
}

/// The caller may read the unmasked record: the platform, a reader of the transcript, or one
/// of this document's signers (who must read what they sign).
fn may_read(c: &Caller, d: &Stored) -> Result<(), ApiError> {
    match &c.participant {
        None => Ok(()),
        Some((_, role))
            if TRANSCRIPT_READERS
                .iter()
                .any(|x| capabilities(*role).allows(*x)) =>
        {
            Ok(())
        }
        Some((id, _)) if d.is_signer(id) => Ok(()),
        Some(_) => Err(ApiError::Forbidden(
            "the unmasked record is for the court and its signers; ask for the public copy",
        )),
    }
}

/// What the clerk finalises.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Finalise {
    /// The transcript revision the clerk reviewed; it must still be the current one.
    revision: u64,
}

/// Finalises the reviewed revision (the clerk, once the hearing has ended): the canonical
/// document, its SHA-256 and the signers the hearing's kind requires.
#[utoipa::path(post, path = "/hearings/{hearing_id}/transcript/documents", tag = "transcripts",
    security(("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    request_body = Finalise,
    responses((status = 201, body = DocumentView), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn finalise(
    State(st): State<AppState>,
    ApiPath(hearing_id): ApiPath<String>,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<Finalise>,
) -> Result<(StatusCode, Json<DocumentView>), ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let c = caller(&st, &headers, &hearing_id).await?;
    let Some((clerk_id, _)) = c
        .participant
        .clone()
        .filter(|(_, role)| capabilities(*role).allows(Capability::EditTranscript))
    else {
        return Err(ApiError::Forbidden(
            "only the hearing's clerk finalises the transcript",
        ));
    };
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    let hearing = super::rows::load_hearing(&mut *w.tx, &hearing_id).await?;
    if hearing.state != HearingState::Closed {
        return Err(ApiError::Conflict(
            "the hearing has not ended: its record is finalised once it has".into(),
        ));
    }
    let current = crate::written::current_revision(&mut *w.tx, &hearing_id).await?;
    if body.revision != current {
        return Err(ApiError::Conflict(format!(
            "the transcript is at revision {current}, not {}: review it again",
            body.revision
        )));
    }
    let latest: Option<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT revision, completed_at FROM transcript_documents WHERE hearing_id = $1 \
         ORDER BY revision DESC LIMIT 1",
    )
    .bind(&hearing_id)
    .fetch_optional(&mut *w.tx)
    .await
    .map_err(DbError::from)?;
    if let Some((rev, _)) = latest
        && u64::try_from(rev).is_ok_and(|r| r >= current)
    {
        return Err(ApiError::Conflict(format!(
            "revision {current} is already finalised; correct the transcript to finalise again"
        )));
    }
    let docket = super::rows::load_docket(&mut *w.tx, &hearing.docket_id).await?;
    let info = HearingInfo {
        id: hearing_id.clone(),
        kind: hearing.kind.as_str().into(),
        title: hearing.title.clone().unwrap_or_default(),
        case_number: docket.case_number.clone(),
        court: docket.court.clone(),
    };
    let clerk: (String, String) =
        sqlx::query_as("SELECT display_name, role FROM participants WHERE id = $1")
            .bind(&clerk_id)
            .fetch_one(&mut *w.tx)
            .await
            .map_err(DbError::from)?;
    let clerk = Person {
        participant_id: clerk_id,
        name: clerk.0,
        role: clerk.1,
    };
    let lines = crate::written::lines(&mut w.tx, &hearing_id, Some(current)).await?;
    let signers = crate::written::signers(&mut w.tx, &hearing_id, hearing.kind).await?;
    let doc = crate::written::document(info, current, &lines, clerk, signers, now);
    let text = String::from_utf8(doc.canonical())
        .map_err(|_| ApiError::Internal("a document is always UTF-8".into()))?;
    let sha256 = record::sha256_hex(text.as_bytes());
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO transcript_documents (id, hearing_id, revision, document, sha256, \
         finalised_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&hearing_id)
    .bind(i64::try_from(current).unwrap_or(i64::MAX))
    .bind(&text)
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
        "transcript.finalise",
        &format!("hearing:{hearing_id}"),
        serde_json::json!({"document": id, "revision": current, "sha256": sha256}),
    )
    .await?;
    w.commit().await?;
    let stored = load(&st, &hearing_id, &id).await?;
    Ok((StatusCode::CREATED, Json(stored.view())))
}

/// A finalised document and its signatures so far.
#[utoipa::path(get, path = "/hearings/{hearing_id}/transcript/documents/{document_id}",
    tag = "transcripts", security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("document_id" = String, Path, description = "Document id")),
    responses((status = 200, body = DocumentView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn get(
    State(st): State<AppState>,
    ApiPath((hearing_id, document_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Json<DocumentView>, ApiError> {
    let (c, d) = open(&st, &hearing_id, &document_id, &headers).await?;
    may_read(&c, &d)?;
    audit(&st, &c.actor, "transcript.view", &d.hearing_id, Some(&d.id)).await?;
    Ok(Json(d.view()))
}

async fn open(
    st: &AppState,
    hearing: &str,
    document: &str,
    headers: &axum::http::HeaderMap,
) -> Result<(Caller, Stored), ApiError> {
    let hearing = super::path_id(hearing, "hearing")?;
    let document = super::path_id(document, "transcript document")?;
    let c = caller(st, headers, &hearing).await?;
    Ok((c, load(st, &hearing, &document).await?))
}

fn file(d: &Stored) -> SignedFile {
    SignedFile {
        format: record::FILE_FORMAT.into(),
        document: d.text.clone(),
        sha256: d.sha256.clone(),
        signatures: d.signatures.clone(),
    }
}

/// The signed file (the document verbatim, its hash and every decision), which
/// `gavel verify transcript` checks offline.
#[utoipa::path(get, path = "/hearings/{hearing_id}/transcript/documents/{document_id}/signed",
    tag = "transcripts", security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("document_id" = String, Path, description = "Document id")),
    responses((status = 200, description = "The signed transcript file (JSON)"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub(super) async fn signed(
    State(st): State<AppState>,
    ApiPath((hearing_id, document_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let (c, d) = open(&st, &hearing_id, &document_id, &headers).await?;
    may_read(&c, &d)?;
    audit(
        &st,
        &c.actor,
        "transcript.download",
        &d.hearing_id,
        Some(&d.id),
    )
    .await?;
    let body =
        serde_json::to_string_pretty(&file(&d)).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"transcript-{}.json\"",
        d.id
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

fn page(html: String) -> Response {
    let mut res = html.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    res
}

/// The readable record, unmasked (for printing and reading before signing).
#[utoipa::path(get, path = "/hearings/{hearing_id}/transcript/documents/{document_id}/html",
    tag = "transcripts", security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("document_id" = String, Path, description = "Document id")),
    responses((status = 200, description = "The record as an HTML page"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub(super) async fn html(
    State(st): State<AppState>,
    ApiPath((hearing_id, document_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let (c, d) = open(&st, &hearing_id, &document_id, &headers).await?;
    may_read(&c, &d)?;
    audit(&st, &c.actor, "transcript.view", &d.hearing_id, Some(&d.id)).await?;
    Ok(page(crate::written::html::render(
        &d.doc,
        &d.sha256,
        &d.signatures,
        None,
    )))
}

/// The public copy: the readable record with ID, phone and card numbers, e-mail addresses
/// and the court's configured patterns shielded (Art. 36). For the platform to publish, and
/// for anyone registered for the hearing.
#[utoipa::path(get, path = "/hearings/{hearing_id}/transcript/documents/{document_id}/public",
    tag = "transcripts", security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("document_id" = String, Path, description = "Document id")),
    responses((status = 200, description = "The shielded record as an HTML page"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub(super) async fn public(
    State(st): State<AppState>,
    ApiPath((hearing_id, document_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let (c, d) = open(&st, &hearing_id, &document_id, &headers).await?;
    let shield = crate::written::shield::Shield::new(&st.config.shielding)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    audit(
        &st,
        &c.actor,
        "transcript.view_public",
        &d.hearing_id,
        Some(&d.id),
    )
    .await?;
    Ok(page(crate::written::html::render(
        &d.doc,
        &d.sha256,
        &d.signatures,
        Some(&shield),
    )))
}

/// What a signer decides.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DecisionWire {
    /// Signs: the record is what was said.
    Signed,
    /// Refuses, with a reason (the refusal becomes part of the record).
    Refused,
}

/// A signer's decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Decide {
    /// `signed` or `refused`.
    decision: DecisionWire,
    /// Why they refuse (required for a refusal, at most 500 characters).
    #[serde(default)]
    reason: Option<String>,
}

/// Signs the document, or refuses with a reason (each required signer, once). When everyone
/// has decided, the document is complete and `transcript.signed` goes to the platform.
#[utoipa::path(post,
    path = "/hearings/{hearing_id}/transcript/documents/{document_id}/signatures",
    tag = "transcripts", security(("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("document_id" = String, Path, description = "Document id")),
    request_body = Decide,
    responses((status = 201, body = DocumentView), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn decide(
    State(st): State<AppState>,
    ApiPath((hearing_id, document_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<Decide>,
) -> Result<(StatusCode, Json<DocumentView>), ApiError> {
    let (c, d) = open(&st, &hearing_id, &document_id, &headers).await?;
    let signer = match &c.participant {
        Some((id, role)) if capabilities(*role).allows(Capability::SignRecord) => d
            .doc
            .signers
            .iter()
            .find(|p| p.participant_id == *id)
            .cloned(),
        _ => None,
    }
    .ok_or(ApiError::Forbidden(
        "you are not one of this record's signers",
    ))?;
    let decision = match body.decision {
        DecisionWire::Signed => Decision::Signed,
        DecisionWire::Refused => Decision::Refused,
    };
    let reason = match decision {
        Decision::Signed => None,
        Decision::Refused => Some(crate::domain::validate::text(
            "reason",
            body.reason.as_deref().unwrap_or(""),
            500,
        )?),
    };
    if d.superseded {
        return Err(ApiError::Conflict(
            "a later revision of the transcript has been finalised: sign that one".into(),
        ));
    }
    let now = now_ms();
    let ring = st.keys.ring();
    let key = ring.current();
    let msg = record::message(
        &d.sha256,
        &d.hearing_id,
        &signer,
        decision,
        reason.as_deref(),
        now,
    );
    let signature = hex::encode(key.sign(&msg));
    let mut w = st.db.begin_write().await?;
    let inserted = sqlx::query(
        "INSERT INTO transcript_signatures (id, document_id, participant_id, name, role, \
         decision, reason, signed_at, kid, signature) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&d.id)
    .bind(&signer.participant_id)
    .bind(&signer.name)
    .bind(&signer.role)
    .bind(decision.as_str())
    .bind(&reason)
    .bind(now)
    .bind(&key.kid)
    .bind(&signature)
    .execute(&mut *w.tx)
    .await;
    if let Err(e) = inserted {
        return Err(
            match crate::http::error::conflict_on_unique(e, "your decision") {
                ApiError::Conflict(_) => {
                    ApiError::Conflict("you have already decided on this record".into())
                }
                other => other,
            },
        );
    }
    let decided: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM transcript_signatures WHERE document_id = $1")
            .bind(&d.id)
            .fetch_one(&mut *w.tx)
            .await
            .and_then(|r| r.try_get("n"))
            .map_err(DbError::from)?;
    let complete = usize::try_from(decided).is_ok_and(|n| n >= d.doc.signers.len());
    crate::audit::append(
        &mut w.tx,
        now,
        &c.actor,
        match decision {
            Decision::Signed => "transcript.sign",
            Decision::Refused => "transcript.refuse",
        },
        &format!("hearing:{}", d.hearing_id),
        serde_json::json!({
            "document": d.id, "sha256": d.sha256, "reason": reason, "complete": complete,
        }),
    )
    .await?;
    if complete {
        sqlx::query("UPDATE transcript_documents SET completed_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&d.id)
            .execute(&mut *w.tx)
            .await
            .map_err(DbError::from)?;
        let mut all = d.signatures.clone();
        all.push(Signature {
            signer: signer.clone(),
            decision,
            reason: reason.clone(),
            at_ms: now,
            kid: key.kid.clone(),
            signature: signature.clone(),
        });
        let ids = |want: Decision| -> Vec<String> {
            all.iter()
                .filter(|s| s.decision == want)
                .map(|s| s.signer.participant_id.clone())
                .collect()
        };
        let refusals: Vec<serde_json::Value> = all
            .iter()
            .filter(|s| s.decision == Decision::Refused)
            .map(|s| serde_json::json!({"participant_id": s.signer.participant_id, "reason": s.reason}))
            .collect();
        let queued = webhook::enqueue(
            &mut w.tx,
            now,
            EventType::TranscriptSigned,
            serde_json::json!({
                "hearing_id": d.hearing_id,
                "document_id": d.id,
                "revision": d.doc.revision,
                "sha256": d.sha256,
                "signed": ids(Decision::Signed),
                "refused": refusals,
            }),
        )
        .await?;
        w.commit().await?;
        if queued > 0 {
            st.outbox.notify_one();
        }
    } else {
        w.commit().await?;
    }
    let stored = load(&st, &d.hearing_id, &d.id).await?;
    Ok((StatusCode::CREATED, Json(stored.view())))
}
