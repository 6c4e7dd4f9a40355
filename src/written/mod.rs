//! The written record, in the database: the clerk's corrections of the live transcript (each a
//! new revision; the words the model heard are kept), the document a revision is finalised
//! into, and who must sign it. The pure parts live in `gavel_recordings::written` (the
//! document and its signatures), [`shield`] (masking) and [`html`] (the readable rendering).

pub mod html;
pub mod shield;

use gavel_recordings::written::{Document, HearingInfo, Line, Person};
use sqlx::{Any, AnyConnection, Executor, Row, Transaction};

use crate::db::DbError;
use crate::domain::{HearingKind, Role};

/// One line of the transcript at some revision.
#[derive(Debug, Clone)]
pub struct LineState {
    /// Line id.
    pub id: String,
    /// Who spoke.
    pub speaker: Person,
    /// Start on the hearing clock, Unix ms.
    pub start_ms: i64,
    /// End.
    pub end_ms: i64,
    /// The words at this revision.
    pub text: String,
    /// The words the model heard.
    pub heard: String,
    /// Corrections at or below this revision.
    pub corrections: u64,
    /// Mean token probability in per mille.
    pub confidence: i64,
    /// Why the speech was not transcribed live.
    pub gap: Option<String>,
}

/// The transcript's current revision: the number of corrections made (0: as heard).
pub async fn current_revision<'e, E>(ex: E, hearing: &str) -> Result<u64, DbError>
where
    E: Executor<'e, Database = Any>,
{
    let n: i64 = sqlx::query(
        "SELECT COALESCE(MAX(revision), 0) AS n FROM transcript_edits WHERE hearing_id = $1",
    )
    .bind(hearing)
    .fetch_one(ex)
    .await?
    .try_get("n")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The transcript's lines at `revision` (the current one when `None`), in the order spoken.
pub async fn lines(
    conn: &mut AnyConnection,
    hearing: &str,
    revision: Option<u64>,
) -> Result<Vec<LineState>, DbError> {
    let rows = sqlx::query(
        "SELECT s.id, s.participant_id, s.role, s.start_ms, s.end_ms, s.text, s.confidence, \
         s.gap, COALESCE(p.display_name, d.name, '') AS name FROM transcript_segments s \
         LEFT JOIN participants p ON p.id = s.participant_id \
         LEFT JOIN devices d ON d.id = s.participant_id \
         WHERE s.hearing_id = $1 ORDER BY s.start_ms, s.created_at, s.id",
    )
    .bind(hearing)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let heard: String = r.try_get("text")?;
        out.push(LineState {
            id: r.try_get("id")?,
            speaker: Person {
                participant_id: r.try_get("participant_id")?,
                name: r.try_get("name")?,
                role: r.try_get("role")?,
            },
            start_ms: r.try_get("start_ms")?,
            end_ms: r.try_get("end_ms")?,
            text: heard.clone(),
            heard,
            corrections: 0,
            confidence: r.try_get("confidence")?,
            gap: r.try_get("gap")?,
        });
    }
    let limit = revision.map_or(i64::MAX, |r| i64::try_from(r).unwrap_or(i64::MAX));
    let edits = sqlx::query(
        "SELECT segment_id, text FROM transcript_edits WHERE hearing_id = $1 AND revision <= $2 \
         ORDER BY revision",
    )
    .bind(hearing)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let index: std::collections::HashMap<String, usize> = out
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.clone(), i))
        .collect();
    for e in &edits {
        let id: String = e.try_get("segment_id")?;
        if let Some(&i) = index.get(&id) {
            out[i].text = e.try_get("text")?;
            out[i].corrections += 1;
        }
    }
    Ok(out)
}

/// One version of a line's words.
#[derive(Debug, Clone)]
pub struct Version {
    /// 0 for the words heard, then the transcript revision each correction made.
    pub revision: u64,
    /// The words.
    pub text: String,
    /// Why it was corrected (absent for the words heard).
    pub reason: Option<String>,
    /// Who corrected it (absent for the words heard).
    pub editor: Option<String>,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// Every version of a line, oldest first; `None` when the hearing has no such line.
pub async fn versions<'e, E>(
    ex: E,
    hearing: &str,
    line: &str,
) -> Result<Option<Vec<Version>>, DbError>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let Some(first) = sqlx::query(
        "SELECT text, created_at FROM transcript_segments WHERE id = $1 AND hearing_id = $2",
    )
    .bind(line)
    .bind(hearing)
    .fetch_optional(ex)
    .await?
    else {
        return Ok(None);
    };
    let mut out = vec![Version {
        revision: 0,
        text: first.try_get("text")?,
        reason: None,
        editor: None,
        at_ms: first.try_get("created_at")?,
    }];
    let rows = sqlx::query(
        "SELECT revision, text, reason, editor, created_at FROM transcript_edits \
         WHERE segment_id = $1 ORDER BY revision",
    )
    .bind(line)
    .fetch_all(ex)
    .await?;
    for r in &rows {
        out.push(Version {
            revision: u64::try_from(r.try_get::<i64, _>("revision")?).unwrap_or(0),
            text: r.try_get("text")?,
            reason: Some(r.try_get("reason")?),
            editor: Some(r.try_get("editor")?),
            at_ms: r.try_get("created_at")?,
        });
    }
    Ok(Some(out))
}

/// Appends a correction of `line`; returns the revision it makes. The caller holds the write
/// transaction, so revisions never collide.
pub async fn correct(
    tx: &mut Transaction<'static, Any>,
    hearing: &str,
    line: &str,
    text: &str,
    reason: &str,
    editor: &str,
    now_ms: i64,
) -> Result<u64, DbError> {
    let revision = current_revision(&mut **tx, hearing).await? + 1;
    sqlx::query(
        "INSERT INTO transcript_edits (id, hearing_id, revision, segment_id, text, reason, \
         editor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(hearing)
    .bind(i64::try_from(revision).unwrap_or(i64::MAX))
    .bind(line)
    .bind(text)
    .bind(reason)
    .bind(editor)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(revision)
}

/// Who must sign a hearing's record: its registered participants (not removed) whose role
/// signs for this kind of hearing and who took part (joined at least once), in the order they
/// were registered.
pub async fn signers(
    conn: &mut AnyConnection,
    hearing: &str,
    kind: HearingKind,
) -> Result<Vec<Person>, DbError> {
    took_part(conn, hearing, |role| kind.signs_record(role)).await
}

/// The participants of `hearing` in a role `keep` accepts who are still registered and have
/// joined at least once (nobody signs what they were not there for), in registration order.
pub async fn took_part(
    conn: &mut AnyConnection,
    hearing: &str,
    keep: impl Fn(Role) -> bool,
) -> Result<Vec<Person>, DbError> {
    let rows = sqlx::query(
        "SELECT id, display_name, role FROM participants WHERE hearing_id = $1 \
         AND revoked_at IS NULL ORDER BY created_at, id",
    )
    .bind(hearing)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let id: String = r.try_get("id")?;
        let role: String = r.try_get("role")?;
        if !Role::parse(&role).is_some_and(&keep) {
            continue;
        }
        let joined = sqlx::query(
            "SELECT 1 AS x FROM audit_log WHERE action = 'participant.joined' AND subject = $1 \
             LIMIT 1",
        )
        .bind(format!("participant:{id}"))
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
        if joined {
            out.push(Person {
                participant_id: id,
                name: r.try_get("display_name")?,
                role,
            });
        }
    }
    Ok(out)
}

/// The document finalising the transcript at `revision`, by `clerk`.
pub fn document(
    hearing: HearingInfo,
    revision: u64,
    lines: &[LineState],
    clerk: Person,
    mut signers: Vec<Person>,
    now_ms: i64,
) -> Document {
    if !signers.contains(&clerk) {
        signers.push(clerk.clone());
    }
    Document {
        format: gavel_recordings::written::DOCUMENT_FORMAT.into(),
        hearing,
        revision,
        finalised_at_ms: now_ms,
        finalised_by: clerk,
        lines: lines
            .iter()
            .map(|l| Line {
                id: l.id.clone(),
                speaker: l.speaker.clone(),
                start_ms: l.start_ms,
                end_ms: l.end_ms,
                text: l.text.clone(),
                edited: l.corrections > 0,
                gap: l.gap.clone(),
            })
            .collect(),
        signers,
    }
}
