//! Signers' decisions: signed, or refused with a reason; the seal when all have decided.

use super::*;

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
    pub(super) decision: DecisionWire,
    /// Why they refuse (required for a refusal, at most 500 characters).
    #[serde(default)]
    pub(super) reason: Option<String>,
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
pub(in crate::docket) async fn decide(
    State(st): State<AppState>,
    ApiPath((hearing_id, document_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
    // Read after the caller is authenticated: no body is judged for an unknown caller.
    body: Result<ApiJson<Decide>, ApiError>,
) -> Result<(StatusCode, Json<DocumentView>), ApiError> {
    let (c, d) = open(&st, &hearing_id, &document_id, &headers).await?;
    let ApiJson(body) = body?;
    let signer = ledger::signer_among(
        &c,
        Capability::SignRecord,
        &d.doc.signers,
        "you are not one of this record's signers",
    )?;
    let (decision, reason) = ledger::decision_of(&body)?;
    let mut w = st.db.begin_write().await?;
    // Checked again under the write lock: nothing finalised since `open`.
    if newer_exists(&mut *w.tx, &d.hearing_id, d.number).await? {
        return Err(Conflict::LaterRevisionFinalised.into());
    }
    let decided = ledger::TRANSCRIPTS
        .decide(
            &st,
            &mut w.tx,
            &d.id,
            &d.sha256,
            &d.doc,
            &signer,
            decision,
            reason.as_deref(),
        )
        .await?;
    ledger::TRANSCRIPTS
        .conclude(
            &st,
            w,
            &c.actor,
            &decided,
            (&d.hearing_id, &d.id, &d.sha256),
            reason.as_deref(),
            ("revision", d.doc.revision.into()),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(load(&st, &d.hearing_id, &d.id).await?.view()),
    ))
}
