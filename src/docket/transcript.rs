//! The transcript through the API: the live transcript as the workers wrote it and as the
//! clerk corrected it (every utterance with its speaker, role, time on the hearing clock and
//! confidence, and every gap where speech was not transcribed), each line's versions, and the
//! clerk's corrections. A correction is a new version with who, when and why; the words heard
//! are kept. For the platform, the clerk and the judge or mediator; every read and every
//! correction is audited.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::recordings::{audit, caller, reader};
use crate::audit::AuditAction;
use crate::clock::{now_ms, rfc3339};
use crate::domain::Capability;
use crate::domain::role::capabilities;
use crate::http::AppState;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath};

/// Who may read the transcript besides the platform.
pub(super) const TRANSCRIPT_READERS: &[Capability] =
    &[Capability::EditTranscript, Capability::AccessRecording];

/// Longest line a correction may write, and longest reason.
const MAX_LINE_CHARS: usize = 5_000;
const MAX_REASON_CHARS: usize = 500;

/// A hearing's transcript.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TranscriptView {
    /// Hearing id.
    hearing_id: String,
    /// The current revision: how many corrections have been made (0: as heard).
    revision: u64,
    /// Its lines, in the order they were spoken.
    lines: Vec<TranscriptLine>,
}

/// One utterance (or a gap).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TranscriptLine {
    /// Line id.
    id: String,
    /// Who spoke (from their own audio track).
    participant_id: String,
    /// Their name.
    name: String,
    /// Their role.
    role: String,
    /// Start on the hearing clock, Unix ms.
    start_ms: i64,
    /// End.
    end_ms: i64,
    /// What was said, as corrected (empty for a gap nobody filled in).
    text: String,
    /// What the model heard, when the line has been corrected.
    #[serde(skip_serializing_if = "Option::is_none")]
    heard: Option<String>,
    /// How many corrections the line has had.
    corrections: u64,
    /// Mean token probability, 0 to 1.
    confidence: f64,
    /// Why this speech was not transcribed (absent for transcribed speech).
    #[serde(skip_serializing_if = "Option::is_none")]
    gap: Option<String>,
}

/// The hearing's transcript at its current revision.
#[utoipa::path(get, path = "/hearings/{hearing_id}/transcript", tag = "transcripts",
    security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id")),
    responses((status = 200, body = TranscriptView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn get(
    State(st): State<AppState>,
    ApiPath(hearing_id): ApiPath<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<TranscriptView>, ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let actor = reader(&st, &headers, &hearing_id, TRANSCRIPT_READERS).await?;
    super::rows::load_hearing(st.db.pool(), &hearing_id).await?;
    let mut conn = st
        .db
        .pool()
        .acquire()
        .await
        .map_err(crate::db::DbError::from)?;
    let revision = crate::written::current_revision(&mut *conn, &hearing_id).await?;
    let lines = crate::written::lines(&mut conn, &hearing_id, Some(revision))
        .await?
        .into_iter()
        .map(|l| TranscriptLine {
            heard: (l.corrections > 0).then_some(l.heard),
            id: l.id,
            participant_id: l.speaker.participant_id,
            name: l.speaker.name,
            role: l.speaker.role,
            start_ms: l.start_ms,
            end_ms: l.end_ms,
            text: l.text,
            corrections: l.corrections,
            confidence: l.confidence as f64 / 1000.0,
            gap: l.gap,
        })
        .collect();
    drop(conn);
    audit(&st, &actor, AuditAction::TranscriptView, &hearing_id, None).await?;
    Ok(Json(TranscriptView {
        hearing_id,
        revision,
        lines,
    }))
}

/// One version of a line.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LineVersion {
    /// 0 for the words the model heard, then the transcript revision the correction made.
    revision: u64,
    /// The words.
    text: String,
    /// Why it was corrected (absent for the words heard).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Who corrected it (absent for the words heard).
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    /// When.
    at: String,
}

/// Every version of a line, oldest (the words heard) first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LineVersions {
    /// Line id.
    line_id: String,
    /// Its versions.
    versions: Vec<LineVersion>,
}

async fn line_versions(st: &AppState, hearing: &str, line: &str) -> Result<LineVersions, ApiError> {
    let versions = crate::written::versions(st.db.pool(), hearing, line)
        .await?
        .ok_or(ApiError::NotFound("transcript line"))?;
    Ok(LineVersions {
        line_id: line.to_owned(),
        versions: versions
            .into_iter()
            .map(|v| LineVersion {
                revision: v.revision,
                text: v.text,
                reason: v.reason,
                by: v.editor,
                at: rfc3339(v.at_ms),
            })
            .collect(),
    })
}

/// A line's versions: the words heard, then each correction with who, when and why.
#[utoipa::path(get, path = "/hearings/{hearing_id}/transcript/lines/{line_id}/versions",
    tag = "transcripts", security(("api_key" = []), ("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("line_id" = String, Path, description = "Line id")),
    responses((status = 200, body = LineVersions), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn versions(
    State(st): State<AppState>,
    ApiPath((hearing_id, line_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Json<LineVersions>, ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let line_id = super::path_id(&line_id, "transcript line")?;
    let actor = reader(&st, &headers, &hearing_id, TRANSCRIPT_READERS).await?;
    let v = line_versions(&st, &hearing_id, &line_id).await?;
    audit(&st, &actor, AuditAction::TranscriptView, &hearing_id, None).await?;
    Ok(Json(v))
}

/// A correction of one line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Correction {
    /// The words as they were said (one line, at most 5000 characters).
    text: String,
    /// Why (at most 500 characters), kept with the version.
    reason: String,
}

/// Corrects a line (the clerk): a new version of it, and a new revision of the transcript.
/// The words heard and every earlier version are kept.
#[utoipa::path(post, path = "/hearings/{hearing_id}/transcript/lines/{line_id}/versions",
    tag = "transcripts", security(("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("line_id" = String, Path, description = "Line id")),
    request_body = Correction,
    responses((status = 201, body = LineVersions), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub(super) async fn correct(
    State(st): State<AppState>,
    ApiPath((hearing_id, line_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
    // Read after the caller is authenticated: no body is judged for an unknown caller.
    body: Result<ApiJson<Correction>, ApiError>,
) -> Result<(StatusCode, Json<LineVersions>), ApiError> {
    let hearing_id = super::path_id(&hearing_id, "hearing")?;
    let line_id = super::path_id(&line_id, "transcript line")?;
    let c = caller(&st, &headers, &hearing_id).await?;
    let ApiJson(body) = body?;
    if !c
        .participant
        .is_some_and(|(_, role)| capabilities(role).allows(Capability::EditTranscript))
    {
        return Err(ApiError::Forbidden(
            "only the hearing's clerk corrects the transcript",
        ));
    }
    let text = crate::domain::validate::text("text", &body.text, MAX_LINE_CHARS)?;
    let reason = crate::domain::validate::text("reason", &body.reason, MAX_REASON_CHARS)?;
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    let known =
        sqlx::query("SELECT 1 AS x FROM transcript_segments WHERE id = $1 AND hearing_id = $2")
            .bind(&line_id)
            .bind(&hearing_id)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(crate::db::DbError::from)?;
    if known.is_none() {
        return Err(ApiError::NotFound("transcript line"));
    }
    let actor = c.actor.to_string();
    let revision = crate::written::correct(
        &mut w.tx,
        &hearing_id,
        &line_id,
        &text,
        &reason,
        &actor,
        now,
    )
    .await?;
    crate::audit::append(
        &mut w.tx,
        now,
        &c.actor,
        AuditAction::TranscriptCorrect,
        &format!("hearing:{hearing_id}"),
        serde_json::json!({
            "line": line_id,
            "revision": revision,
            "reason": reason,
            "text_sha256": gavel_recordings::written::sha256_hex(text.as_bytes()),
        }),
    )
    .await?;
    w.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(line_versions(&st, &hearing_id, &line_id).await?),
    ))
}
