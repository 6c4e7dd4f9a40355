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
pub(in crate::docket) async fn decide(
    State(st): State<AppState>,
    ApiPath((hearing_id, document_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
    // Read after the caller is authenticated: no body is judged for an unknown caller.
    body: Result<ApiJson<Decide>, ApiError>,
) -> Result<(StatusCode, Json<DocumentView>), ApiError> {
    let (c, d) = open(&st, &hearing_id, &document_id, &headers).await?;
    let ApiJson(body) = body?;
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
    let mut w = st.db.begin_write().await?;
    // Timed and signed under the write lock, so decisions and the seal are in time order.
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
    // Checked again under the write lock: nothing finalised or completed since `open`.
    if newer_exists(&mut *w.tx, &d.hearing_id, d.number).await? {
        return Err(Conflict::LaterRevisionFinalised.into());
    }
    let done: Option<i64> =
        sqlx::query_scalar("SELECT completed_at FROM transcript_documents WHERE id = $1")
            .bind(&d.id)
            .fetch_one(&mut *w.tx)
            .await?;
    if done.is_some() {
        return Err(Conflict::RecordComplete.into());
    }
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
        return Err(if is_unique_violation(&e) {
            Conflict::AlreadyDecided.into()
        } else {
            e.into()
        });
    }
    let all = signatures_of(&mut *w.tx, &d.id).await?;
    let sealed = record::in_signer_order(&d.doc.signers, &all)
        .filter(|ordered| ordered.len() == all.len())
        .map(|ordered| {
            let msg = record::completion_message(&d.sha256, &d.hearing_id, now, &ordered);
            hex::encode(key.sign(&msg))
        });
    crate::audit::append(
        &mut w.tx,
        now,
        &c.actor,
        match decision {
            Decision::Signed => AuditAction::TranscriptSign,
            Decision::Refused => AuditAction::TranscriptRefuse,
        },
        &format!("hearing:{}", d.hearing_id),
        serde_json::json!({
            "document": d.id, "sha256": d.sha256, "reason": reason, "complete": sealed.is_some(),
        }),
    )
    .await?;
    let Some(seal) = sealed else {
        w.commit().await?;
        return Ok((
            StatusCode::CREATED,
            Json(load(&st, &d.hearing_id, &d.id).await?.view()),
        ));
    };
    sqlx::query(
        "UPDATE transcript_documents SET completed_at = $1, completion_kid = $2, \
         completion_signature = $3 WHERE id = $4",
    )
    .bind(now)
    .bind(&key.kid)
    .bind(&seal)
    .bind(&d.id)
    .execute(&mut *w.tx)
    .await?;
    let ids = |want: Decision| -> Vec<&str> {
        all.iter()
            .filter(|s| s.decision == want)
            .map(|s| s.signer.participant_id.as_str())
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
            "all_signed": refusals.is_empty(),
            "signed": ids(Decision::Signed),
            "refused": refusals,
        }),
    )
    .await?;
    w.commit().await?;
    if queued > 0 {
        st.outbox.notify_one();
    }
    Ok((
        StatusCode::CREATED,
        Json(load(&st, &d.hearing_id, &d.id).await?.view()),
    ))
}
