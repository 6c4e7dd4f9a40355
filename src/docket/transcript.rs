//! The live transcript through the API, as the workers wrote it: every utterance with its
//! speaker, role, time on the hearing clock and confidence, and every gap where speech was not
//! transcribed. For the platform, the clerk (who reviews it) and the judge or mediator; every
//! read is audited. Revisions and signatures build on these lines.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::recordings::{audit, reader};
use crate::app::AppState;
use crate::domain::Capability;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::ApiPath;

/// Who may read the transcript besides the platform.
const TRANSCRIPT_READERS: &[Capability] =
    &[Capability::EditTranscript, Capability::AccessRecording];

/// A hearing's live transcript.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TranscriptView {
    /// Hearing id.
    hearing_id: String,
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
    /// Their role.
    role: String,
    /// Start on the hearing clock, Unix ms.
    start_ms: i64,
    /// End.
    end_ms: i64,
    /// What was said (empty for a gap).
    text: String,
    /// Mean token probability, 0 to 1.
    confidence: f64,
    /// Why this speech was not transcribed (absent for transcribed speech).
    #[serde(skip_serializing_if = "Option::is_none")]
    gap: Option<String>,
}

/// The hearing's live transcript (unreviewed: the words as the model heard them).
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
    let rows = sqlx::query(
        "SELECT id, participant_id, role, start_ms, end_ms, text, confidence, gap \
         FROM transcript_segments WHERE hearing_id = $1 ORDER BY start_ms, created_at",
    )
    .bind(&hearing_id)
    .fetch_all(st.db.pool())
    .await
    .map_err(crate::db::DbError::from)?;
    let lines = rows
        .iter()
        .map(|r| {
            Ok(TranscriptLine {
                id: r.try_get("id")?,
                participant_id: r.try_get("participant_id")?,
                role: r.try_get("role")?,
                start_ms: r.try_get("start_ms")?,
                end_ms: r.try_get("end_ms")?,
                text: r.try_get("text")?,
                confidence: r.try_get::<i64, _>("confidence")? as f64 / 1000.0,
                gap: r.try_get("gap")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(crate::db::DbError::from)?;
    audit(&st, &actor, "transcript.view", &hearing_id, None).await?;
    Ok(Json(TranscriptView { hearing_id, lines }))
}
