//! The composite job: after a hearing, one file of the whole hearing is rendered from its
//! per-track segments (`gavel_media_pipelines::composite`), entered into the manifest like any
//! segment, and the manifest sealed again over it. Progress is kept in the database (the API
//! shows it; `gavel recording compose` draws it). One job runs at a time per server, and a job
//! is claimed in the database first, so the server and the command line never render the same
//! hearing at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gavel_media_pipelines::composite::{Composite, Media, Source};
use gavel_recordings::manifest::Entry;
use sqlx::Row;
use tokio::sync::Semaphore;

use super::index::Index;
use super::manifest_log::{LogError, ManifestLog, read_entries};
use crate::audit::AuditAction;
use crate::auth::Actor;
use crate::auth::keyring::KeyStore;
use crate::clock::now_ms;
use crate::db::DbError;
use crate::fault::Component;

/// The composite's participant and track in the manifest.
pub const COMPOSITE_TRACK: &str = "composite";

/// Frame size and rate of the composite: 720p at 15 frames a second keeps faces and
/// documents readable and renders faster than real time on two cores.
const SIZE: (u32, u32, u32) = (1280, 720, 15);

/// Longest a render may take, per second of hearing. Two 720p cameras render in about two
/// thirds of real time on two cores; each further camera adds a decode.
const RENDER_BUDGET: f64 = 10.0;

/// Why no composite was made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComposeError {
    /// The hearing has not ended, or its recording is not sealed yet.
    #[error("the hearing has not ended yet, or its recording is still being closed")]
    NotOver,
    /// Nothing of the hearing was recorded.
    #[error("nothing of this hearing was recorded")]
    NothingRecorded,
    /// A composite of this hearing is being rendered already.
    #[error("a composite of this hearing is being rendered already")]
    Busy,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The recording directory failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The pipeline failed.
    #[error("rendering failed: {0}")]
    Render(String),
}

impl From<sqlx::Error> for ComposeError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e.into())
    }
}

/// Runs composite jobs, one at a time.
#[derive(Debug)]
pub struct Composer {
    index: Index,
    root: PathBuf,
    keys: Arc<KeyStore>,
    permits: Semaphore,
}

impl Composer {
    /// Jobs over the recordings under `root`, sealing with `keys`.
    pub fn new(index: Index, root: PathBuf, keys: Arc<KeyStore>) -> Arc<Self> {
        Arc::new(Self {
            index,
            root,
            keys,
            permits: Semaphore::new(1),
        })
    }

    /// Queues the composite of `hearing` in the background; its outcome is in the database
    /// (and a fault record when it fails).
    pub fn start(self: &Arc<Self>, hearing: String) {
        let this = self.clone();
        let span = tracing::info_span!("composite", hearing = %hearing);
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                let Ok(_permit) = this.permits.acquire().await else {
                    return;
                };
                match this.compose(&hearing, |_| {}).await {
                    Ok(_) | Err(ComposeError::Busy | ComposeError::NothingRecorded) => {}
                    Err(e) => tracing::warn!(error = %e, "composite not made"),
                }
            },
            span,
        ));
    }

    /// Renders the composite of `hearing` now, calling `progress` (0.0 to 1.0) as it goes;
    /// returns the composite's manifest entry.
    pub async fn compose(
        &self,
        hearing: &str,
        progress: impl Fn(f64) + Send + Sync + 'static,
    ) -> Result<Entry, ComposeError> {
        if !self.index.hearing_closed(hearing).await {
            return Err(ComposeError::NotOver);
        }
        self.claim(hearing).await?;
        let result = self.render(hearing, progress).await;
        let (state, error) = match &result {
            Ok(_) => ("done", None),
            Err(e) => ("failed", Some(e.to_string())),
        };
        if let Err(e) = &result {
            let detail = format!("the composite could not be made: {e}");
            crate::fault::report(&self.index.db, Some(hearing), Component::Composite, &detail)
                .await;
        }
        let updated = sqlx::query(
            "UPDATE recordings SET composite_state = $2, composite_error = $3, \
             composite_progress = CASE WHEN $2 = 'done' THEN 1000 ELSE composite_progress END, \
             updated_at = $4 WHERE hearing_id = $1",
        )
        .bind(hearing)
        .bind(state)
        .bind(error)
        .bind(now_ms())
        .execute(self.index.db.pool())
        .await;
        if let Err(e) = updated {
            tracing::error!(error = %e, "FAULT: the composite's outcome was not stored");
        }
        result
    }

    /// Marks the job running, unless it is already.
    async fn claim(&self, hearing: &str) -> Result<(), ComposeError> {
        let claimed = sqlx::query(
            "UPDATE recordings SET composite_state = 'running', composite_progress = 0, \
             composite_error = NULL, updated_at = $2 \
             WHERE hearing_id = $1 AND composite_state <> 'running' AND sealed_at IS NOT NULL",
        )
        .bind(hearing)
        .bind(now_ms())
        .execute(self.index.db.pool())
        .await?
        .rows_affected();
        if claimed == 1 {
            return Ok(());
        }
        let sealed: Option<Option<i64>> =
            sqlx::query_scalar("SELECT sealed_at FROM recordings WHERE hearing_id = $1")
                .bind(hearing)
                .fetch_optional(self.index.db.pool())
                .await?;
        Err(match sealed {
            None => ComposeError::NothingRecorded,
            // The room is still closing the last segments: the composite comes after the seal.
            Some(None) => ComposeError::NotOver,
            Some(Some(_)) => ComposeError::Busy,
        })
    }

    async fn render(
        &self,
        hearing: &str,
        progress: impl Fn(f64) + Send + Sync + 'static,
    ) -> Result<Entry, ComposeError> {
        let dir = self.root.join(hearing);
        let read_dir = dir.clone();
        let entries = tokio::task::spawn_blocking(move || read_entries(&read_dir))
            .await
            .map_err(|_| LogError::Cancelled)?
            .map_err(LogError::from)?;
        let labels = self.labels(hearing).await?;
        let plan = plan(&dir, &entries, &labels).ok_or(ComposeError::NothingRecorded)?;
        let (start, end) = plan.span;
        let name = format!("composite-{}.webm", now_ms());
        let tmp = dir.join(format!(".{name}.tmp"));
        let (tx, mut rx) = tokio::sync::watch::channel(0.0f64);
        let clock = Box::new(move |at: Duration| {
            let ms = start + i64::try_from(at.as_millis()).unwrap_or(0);
            crate::clock::rfc3339(ms)
                .get(..19)
                .map_or_else(String::new, |s| format!("{} UTC", s.replace('T', " ")))
        });
        let composite = Composite {
            sources: plan.sources,
            length: Duration::from_millis(u64::try_from(end - start).unwrap_or(0)),
            width: SIZE.0,
            height: SIZE.1,
            fps: SIZE.2,
            clock,
        };
        let budget =
            Duration::from_secs_f64(((end - start) as f64 / 1000.0 * RENDER_BUDGET).max(60.0));
        let out = tmp.clone();
        let mut job = tokio::task::spawn_blocking(move || {
            composite.render(
                &out,
                move |p| {
                    if p >= 0.5 {
                        crate::crashpoint::hit(crate::crashpoint::COMPOSITE_MIDWAY);
                    }
                    progress(p);
                    tx.send_replace(p);
                },
                budget,
            )
        });
        let rendered = loop {
            tokio::select! {
                done = &mut job => break done,
                Ok(()) = rx.changed() => {
                    let permille = (*rx.borrow_and_update() * 1000.0) as i64;
                    let _ = sqlx::query(
                        "UPDATE recordings SET composite_progress = $2 WHERE hearing_id = $1",
                    )
                    .bind(hearing)
                    .bind(permille)
                    .execute(self.index.db.pool())
                    .await;
                }
            }
        };
        if let Err(e) = rendered
            .map_err(|_| ComposeError::Render("the job was cancelled".into()))
            .and_then(|r| r.map_err(|e| ComposeError::Render(e.to_string())))
        {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let path = dir.join(&name);
        tokio::task::spawn_blocking(move || {
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)
        })
        .await
        .map_err(|_| LogError::Cancelled)?
        .map_err(LogError::from)?;
        let log = ManifestLog::new(dir, hearing.to_owned(), Some(self.index.clone()));
        let entry = log
            .append_file(
                name.clone(),
                "hearing",
                COMPOSITE_TRACK,
                (start, end),
                false,
            )
            .await?;
        log.seal(&self.keys.ring()).await?;
        let mut w = self.index.db.begin_write().await?;
        crate::audit::append(
            &mut w.tx,
            now_ms(),
            &Actor::System,
            AuditAction::RecordingComposite,
            &format!("hearing:{hearing}"),
            serde_json::json!({"file": name, "sha256": entry.segment.sha256}),
        )
        .await?;
        w.commit().await?;
        Ok(entry)
    }

    /// "Name (role)" of every participant of `hearing`, by id.
    async fn labels(&self, hearing: &str) -> Result<HashMap<String, String>, ComposeError> {
        let rows =
            sqlx::query("SELECT id, display_name, role FROM participants WHERE hearing_id = $1")
                .bind(hearing)
                .fetch_all(self.index.db.pool())
                .await?;
        let labels = rows
            .iter()
            .map(|r| {
                let (id, name, role): (String, String, String) = (
                    r.try_get("id")?,
                    r.try_get("display_name")?,
                    r.try_get("role")?,
                );
                Ok((id, format!("{name} ({role})")))
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(labels)
    }
}

/// Of `hearings` (sealed, with no composite in their manifest), those whose composite never
/// started or was cut off by the stop (at start-up, before [`interrupted`] marks those failed).
pub async fn never_finished(db: &crate::db::Db, hearings: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for h in hearings {
        let state: Option<String> =
            sqlx::query_scalar("SELECT composite_state FROM recordings WHERE hearing_id = $1")
                .bind(&h)
                .fetch_optional(db.pool())
                .await
                .ok()
                .flatten();
        if matches!(state.as_deref(), None | Some("none" | "running")) {
            out.push(h);
        }
    }
    out
}

/// Marks jobs that a stopped server left running as failed (at start-up: they can be run
/// again).
pub async fn interrupted(db: &crate::db::Db) {
    let result = sqlx::query(
        "UPDATE recordings SET composite_state = 'failed',          composite_error = 'interrupted by a restart' WHERE composite_state = 'running'",
    )
    .execute(db.pool())
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "FAULT: interrupted composite jobs were not marked");
    }
}

/// A track: participant and track name.
type TrackKey = (String, String);

/// One recorder run of a track: its file prefix and its segments.
type Run<'a> = (String, Vec<&'a Entry>);

/// What the composite is made of.
struct Plan {
    sources: Vec<Source>,
    /// First start and last end on the hearing clock.
    span: (i64, i64),
}

/// The tracks of the manifest's segments, each split into runs of consecutive segments and
/// placed on the hearing clock. Left out: composites, segments with nothing in them, cut-short
/// originals that have a repaired copy, and segments recovery could not attribute.
fn plan(dir: &Path, entries: &[Entry], labels: &HashMap<String, String>) -> Option<Plan> {
    let listed: std::collections::HashSet<&str> =
        entries.iter().map(|e| e.segment.file.as_str()).collect();
    let segments: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            let s = &e.segment;
            s.track != COMPOSITE_TRACK
                && s.track != "unknown"
                && s.end_ms > s.start_ms
                // A cut-short original plays through its repaired copy.
                && !listed.contains(super::recover::repaired_name(&s.file).as_str())
        })
        .collect();
    let start = segments.iter().map(|e| e.segment.start_ms).min()?;
    let end = segments.iter().map(|e| e.segment.end_ms).max()?;
    // Tracks in the order they first appear; runs by the recorder run they came from.
    let mut order: Vec<TrackKey> = Vec::new();
    let mut runs: HashMap<TrackKey, Vec<Run<'_>>> = HashMap::new();
    for e in segments {
        let key = (e.segment.participant.clone(), e.segment.track.clone());
        if !runs.contains_key(&key) {
            order.push(key.clone());
        }
        let run = super::recover::prefix_of(&e.segment.file).unwrap_or(&e.segment.file);
        let list = runs.entry(key).or_default();
        match list.iter_mut().find(|(p, _)| p == run) {
            Some((_, l)) => l.push(e),
            None => list.push((run.to_owned(), vec![e])),
        }
    }
    let sources = order
        .into_iter()
        .map(|key| {
            let label = labels
                .get(&key.0)
                .cloned()
                .unwrap_or_else(|| "participant".to_owned());
            let media = if key.1 == "microphone" {
                Media::Audio
            } else {
                Media::Video
            };
            let label = if key.1 == "screen" {
                format!("{label}, screen")
            } else {
                label
            };
            let runs = runs
                .remove(&key)
                .unwrap_or_default()
                .into_iter()
                .map(|(_, mut list)| {
                    list.sort_by_key(|e| e.segment.start_ms);
                    let at = list.first().map_or(start, |e| e.segment.start_ms) - start;
                    let files = list.iter().map(|e| dir.join(&e.segment.file)).collect();
                    (files, Duration::from_millis(u64::try_from(at).unwrap_or(0)))
                })
                .collect();
            Source { label, media, runs }
        })
        .collect();
    Some(Plan {
        sources,
        span: (start, end),
    })
}

#[cfg(test)]
mod tests {
    use gavel_recordings::manifest::{Segment, append};

    use super::*;

    fn entry(file: &str, who: &str, track: &str, span: (i64, i64)) -> Entry {
        append(
            None,
            Segment {
                file: file.into(),
                participant: who.into(),
                track: track.into(),
                start_ms: span.0,
                end_ms: span.1,
                sha256: String::new(),
                cut_short: false,
            },
        )
    }

    #[test]
    fn tracks_split_into_runs_placed_on_the_hearing_clock() {
        let entries = [
            entry("a-camera-t1-100-00000.mkv", "a", "camera", (1_000, 11_000)),
            entry(
                "a-microphone-t2-100-00000.mkv",
                "a",
                "microphone",
                (1_000, 11_000),
            ),
            entry("a-camera-t1-100-00001.mkv", "a", "camera", (11_000, 15_000)),
            entry(
                "a-camera-t1-100-00001.repaired.mkv",
                "a",
                "camera",
                (11_000, 15_000),
            ),
            entry("x-00000.mkv", "unknown", "unknown", (1_000, 30_000)),
            // A caucus later: the camera's second run.
            entry("a-camera-t1-900-00000.mkv", "a", "camera", (20_000, 25_000)),
            // Opened just before a crash: nothing in it.
            entry("b-camera-t3-100-00000.mkv", "b", "camera", (2_000, 2_000)),
            entry("composite-1.webm", "hearing", "composite", (1_000, 25_000)),
        ];
        let labels = HashMap::from([("a".to_owned(), "Li (judge)".to_owned())]);
        let made = plan(Path::new("/r"), &entries, &labels).unwrap();
        assert_eq!(made.span, (1_000, 25_000));
        assert_eq!(
            made.sources.len(),
            2,
            "b's empty segment and the composite are left out"
        );
        let camera = &made.sources[0];
        assert_eq!(
            (camera.label.as_str(), camera.media),
            ("Li (judge)", Media::Video)
        );
        assert_eq!(camera.runs.len(), 2);
        assert_eq!(
            camera.runs[0].0,
            [
                Path::new("/r/a-camera-t1-100-00000.mkv"),
                Path::new("/r/a-camera-t1-100-00001.repaired.mkv")
            ],
            "the repaired copy stands in for its original"
        );
        assert_eq!(camera.runs[1].1, Duration::from_secs(19));
        assert_eq!(made.sources[1].media, Media::Audio);
        assert!(
            plan(Path::new("/r"), &entries[6..], &labels).is_none(),
            "nothing to compose"
        );
    }
}
