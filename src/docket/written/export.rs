//! Reading a finalised record: its state, the signed file, the readable page and the
//! public (shielded) copy.

use super::*;

/// A finalised document and its signatures so far.
#[utoipa::path(get, path = "/hearings/{hearing_id}/transcript/documents/{document_id}",
    tag = "transcripts", security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("document_id" = String, Path, description = "Document id")),
    responses((status = 200, body = DocumentView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(in crate::docket) async fn get(
    State(st): State<AppState>,
    ApiPath((hearing_id, document_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Json<DocumentView>, ApiError> {
    let (c, d) = open(&st, &hearing_id, &document_id, &headers).await?;
    may_read(&c, &d)?;
    audit(
        &st,
        &c.actor,
        AuditAction::TranscriptView,
        &d.hearing_id,
        Some(&d.id),
    )
    .await?;
    Ok(Json(d.view()))
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
pub(in crate::docket) async fn signed(
    State(st): State<AppState>,
    ApiPath((hearing_id, document_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let (c, d) = open(&st, &hearing_id, &document_id, &headers).await?;
    may_read(&c, &d)?;
    audit(
        &st,
        &c.actor,
        AuditAction::TranscriptDownload,
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

/// The readable record, unmasked (for printing and reading before signing).
#[utoipa::path(get, path = "/hearings/{hearing_id}/transcript/documents/{document_id}/html",
    tag = "transcripts", security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("document_id" = String, Path, description = "Document id")),
    responses((status = 200, description = "The record as an HTML page"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub(in crate::docket) async fn html(
    State(st): State<AppState>,
    ApiPath((hearing_id, document_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    record_page(&st, &hearing_id, &document_id, &headers, false).await
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
pub(in crate::docket) async fn public(
    State(st): State<AppState>,
    ApiPath((hearing_id, document_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    record_page(&st, &hearing_id, &document_id, &headers, true).await
}

/// The record as a page: unmasked for those who may read it, or the shielded public copy.
async fn record_page(
    st: &AppState,
    hearing_id: &str,
    document_id: &str,
    headers: &axum::http::HeaderMap,
    shielded: bool,
) -> Result<Response, ApiError> {
    let (c, d) = open(st, hearing_id, document_id, headers).await?;
    if !shielded {
        may_read(&c, &d)?;
    }
    let action = if shielded {
        AuditAction::TranscriptViewPublic
    } else {
        AuditAction::TranscriptView
    };
    audit(st, &c.actor, action, &d.hearing_id, Some(&d.id)).await?;
    let shield = shielded.then_some(&*st.shield);
    let html = crate::written::html::render(&d.doc, &d.sha256, &d.signatures, shield);
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
    Ok(res)
}

/// One finalised document, as listed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DocumentSummary {
    /// Document id.
    id: String,
    /// Its place among the hearing's documents (1, 2, ...).
    number: i64,
    /// The transcript revision finalised.
    revision: i64,
    /// SHA-256 of the document, hex.
    sha256: String,
    /// `awaiting_signatures`, `complete` or `superseded`.
    state: String,
    /// When it was finalised.
    finalised_at: String,
}

/// The hearing's finalised documents, newest first: for the platform and for anyone
/// registered for the hearing (a signer finds here what there is to sign).
#[utoipa::path(get, path = "/hearings/{hearing_id}/transcript/documents", tag = "transcripts",
    security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 200, body = [DocumentSummary]), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(in crate::docket) async fn list(
    State(st): State<AppState>,
    ApiPath(hearing_id): ApiPath<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Vec<DocumentSummary>>, ApiError> {
    let hearing_id = crate::docket::path_id(&hearing_id, "hearing")?;
    let c = caller(&st, &headers, &hearing_id).await?;
    crate::docket::rows::load_hearing(st.db.pool(), &hearing_id).await?;
    let rows: Vec<(String, i64, i64, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, number, revision, sha256, created_at, completed_at FROM \
         transcript_documents WHERE hearing_id = $1 ORDER BY number DESC",
    )
    .bind(&hearing_id)
    .fetch_all(st.db.pool())
    .await?;
    let newest = rows.first().map_or(0, |r| r.1);
    let list = rows
        .into_iter()
        .map(
            |(id, number, revision, sha256, created, completed)| DocumentSummary {
                state: match (completed, number < newest) {
                    (Some(_), _) => "complete",
                    (None, true) => "superseded",
                    (None, false) => "awaiting_signatures",
                }
                .into(),
                id,
                number,
                revision,
                sha256,
                finalised_at: rfc3339(created),
            },
        )
        .collect();
    audit(
        &st,
        &c.actor,
        AuditAction::TranscriptList,
        &hearing_id,
        None,
    )
    .await?;
    Ok(Json(list))
}
