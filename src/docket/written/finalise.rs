//! Finalising the reviewed transcript revision into the document everyone signs.

use super::*;

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
pub(in crate::docket) async fn finalise(
    State(st): State<AppState>,
    ApiPath(hearing_id): ApiPath<String>,
    headers: axum::http::HeaderMap,
    // Read after the caller is authenticated: no body is judged for an unknown caller.
    body: Result<ApiJson<Finalise>, ApiError>,
) -> Result<(StatusCode, Json<DocumentView>), ApiError> {
    let hearing_id = crate::docket::path_id(&hearing_id, "hearing")?;
    let c = caller(&st, &headers, &hearing_id).await?;
    let ApiJson(body) = body?;
    let clerk_id = ledger::holder_of(
        &c,
        Capability::EditTranscript,
        "only the hearing's clerk finalises the transcript",
    )?;
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    let hearing = crate::docket::rows::load_hearing(&mut *w.tx, &hearing_id).await?;
    if hearing.state != HearingState::Closed {
        return Err(Conflict::NotOverToFinalise.into());
    }
    let current = crate::written::current_revision(&mut *w.tx, &hearing_id).await?;
    if body.revision != current {
        return Err(Conflict::StaleRevision {
            current,
            asked: body.revision,
        }
        .into());
    }
    // A revision is finalised again only while its document is incomplete and who must sign
    // has changed (a signer was removed): the new one supersedes it. A complete record is
    // changed only by correcting the transcript; a repeated request changes nothing.
    let latest: Option<(i64, i64, Option<i64>, String)> = sqlx::query_as(
        "SELECT number, revision, completed_at, document FROM transcript_documents \
         WHERE hearing_id = $1 ORDER BY number DESC LIMIT 1",
    )
    .bind(&hearing_id)
    .fetch_optional(&mut *w.tx)
    .await
    .map_err(DbError::from)?;
    if let Some((_, rev, Some(_), _)) = &latest
        && u64::try_from(*rev).is_ok_and(|r| r >= current)
    {
        return Err(Conflict::RevisionSigned(current).into());
    }
    let number = latest.as_ref().map_or(1, |(n, ..)| n + 1);
    let docket = crate::docket::rows::load_docket(&mut *w.tx, &hearing.docket_id).await?;
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
    if let Some((_, rev, None, text)) = &latest
        && u64::try_from(*rev).is_ok_and(|r| r >= current)
        && serde_json::from_str::<Document>(text).is_ok_and(|d| d.signers == doc.signers)
    {
        return Err(Conflict::RevisionFinalised(current).into());
    }
    let text = String::from_utf8(doc.canonical())
        .map_err(|_| ApiError::Internal("a document is always UTF-8".into()))?;
    let sha256 = record::sha256_hex(text.as_bytes());
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO transcript_documents (id, hearing_id, number, revision, document, sha256, \
         finalised_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(&hearing_id)
    .bind(number)
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
        AuditAction::TranscriptFinalise,
        &format!("hearing:{hearing_id}"),
        serde_json::json!({"document": id, "revision": current, "sha256": sha256}),
    )
    .await?;
    w.commit().await?;
    let stored = load(&st, &hearing_id, &id).await?;
    Ok((StatusCode::CREATED, Json(stored.view())))
}
