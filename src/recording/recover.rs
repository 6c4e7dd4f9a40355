//! Recovery of segments left open: by a crash (found at start-up) or by a pipeline that failed
//! (found when its recorder is restarted). Each open segment is entered into the manifest as
//! it reached the disk, marked `cut_short`, so every byte written is in the record and
//! verifiable; beside it goes a complete, playable copy remuxed from it
//! (`gavel_media_pipelines::repair`, `<name>.repaired.mkv`), entered the same way, unless
//! nothing in it can be read. Sealed recordings are never touched.
//!
//! Each recorder run leaves a small description of itself beside its segments (whose track,
//! which codec, when it started), which is what lets recovery name and place a segment.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gavel_media_pipelines::recorder::Codec;
use serde::{Deserialize, Serialize};

use gavel_recordings::manifest::Entry;

use super::manifest_log::{LogError, ManifestLog, read_entries};
use crate::fault::Component;

/// Longest a repair may take for one segment (a 10 s segment remuxes in well under a second).
const REPAIR_TIMEOUT: Duration = Duration::from_secs(60);

/// What a recorder run is, written beside its segments when it starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunInfo {
    /// Whose track.
    pub participant: String,
    /// `microphone`, `camera` or `screen`.
    pub track: String,
    /// The WebRTC mime type (`audio/opus`, `video/VP8`, `video/H264`).
    pub mime: String,
    /// The run's start on the hearing clock (its running time 0), Unix milliseconds.
    pub base_ms: i64,
}

/// The run description's file name for segments named `<prefix>-NNNNN.mkv` (hidden, so it is
/// never taken for a segment).
fn run_file(dir: &Path, prefix: &str) -> PathBuf {
    dir.join(format!(".{prefix}.run.json"))
}

/// Writes (and syncs) the description of the run whose segments are `<prefix>-NNNNN.mkv`.
pub(crate) fn write_run(dir: &Path, prefix: &str, info: &RunInfo) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let text = serde_json::to_vec(info).map_err(std::io::Error::other)?;
    let mut f = std::fs::File::create(run_file(dir, prefix))?;
    f.write_all(&text)?;
    f.sync_all()
}

/// What a repaired copy of a cut-short segment is called (`<prefix>-NNNNN.repaired.mkv`);
/// the original stays as it reached the disk.
const REPAIRED: &str = ".repaired.mkv";

/// The name of `file`'s repaired copy.
pub(crate) fn repaired_name(file: &str) -> String {
    format!("{}{REPAIRED}", file.strip_suffix(".mkv").unwrap_or(file))
}

/// The run prefix of a segment file name (`<prefix>-NNNNN.mkv`, or its repaired copy).
pub(crate) fn prefix_of(file: &str) -> Option<&str> {
    let stem = file
        .strip_suffix(REPAIRED)
        .or_else(|| file.strip_suffix(".mkv"))?;
    let (prefix, n) = stem.rsplit_once('-')?;
    (n.len() == 5 && n.bytes().all(|b| b.is_ascii_digit())).then_some(prefix)
}

/// A segment file found open, and where it goes in the manifest.
struct Orphan {
    file: String,
    participant: String,
    track: String,
    span: (i64, i64),
}

/// Enters every segment in `log`'s directory that its manifest does not list — of the run
/// `prefix` only, or of every run when `None` (at start-up, when nothing is recording) — and
/// returns their file names.
pub async fn close_orphans(
    log: &ManifestLog,
    prefix: Option<&str>,
) -> Result<Vec<String>, LogError> {
    let dir = log.dir().to_owned();
    let prefix = prefix.map(str::to_owned);
    let orphans = tokio::task::spawn_blocking(move || find_and_repair(&dir, prefix.as_deref()))
        .await
        .map_err(|_| LogError::Cancelled)??;
    let mut closed = Vec::new();
    let mut orphans = orphans.into_iter().peekable();
    while let Some(o) = orphans.next() {
        log.append_file(o.file.clone(), &o.participant, &o.track, o.span, true)
            .await?;
        if orphans
            .peek()
            .is_some_and(|next| next.file == repaired_name(&o.file))
        {
            crate::crashpoint::hit(crate::crashpoint::RECOVERY_ORIGINAL_ENTERED);
        }
        closed.push(o.file);
    }
    Ok(closed)
}

/// What start-up recovery did.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Segments that a crash left open, now entered cut short (their repaired copies aside).
    pub segments: usize,
    /// Sealed recordings whose manifest holds no composite yet: recovery sealed them, or a
    /// crash came between the seal and the composite. Their composite is still to be made.
    pub uncomposed: Vec<String>,
}

/// At start-up, before any room runs: removes what interrupted work left half-written,
/// closes every segment left open in the hearings' recording directories under `root`,
/// records the crash as a fault for each hearing it touched, and seals the recordings of
/// hearings that closed before they could be sealed.
pub async fn recover_all(
    root: &Path,
    index: &super::index::Index,
    ring: &crate::auth::keyring::KeyRing,
) -> Recovered {
    let mut done = Recovered::default();
    let dirs: Vec<PathBuf> = match std::fs::read_dir(root) {
        Ok(d) => d
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect(),
        Err(_) => return done,
    };
    for dir in dirs {
        let Some(hearing) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        remove_unfinished(&dir);
        // The index follows the manifest (the record) whatever happened to the database.
        index.reconcile_reporting(&hearing, &dir).await;
        let log = ManifestLog::new(dir.clone(), hearing.clone(), Some(index.clone()));
        if dir.join(super::SEAL).exists() {
            // A sealed recording is never repaired or extended here. Only a seal that a crash
            // left one entry behind (a composite entered, its new seal not yet written) is
            // renewed, and only while the manifest still extends what was sealed.
            match log.seal(ring).await {
                Ok(()) if !has_composite(&dir) => done.uncomposed.push(hearing),
                Ok(()) => {}
                Err(e) => {
                    let detail = format!("a sealed recording no longer matches its seal: {e}");
                    crate::fault::report(&index.db, Some(&hearing), Component::Recovery, &detail)
                        .await;
                }
            }
            continue;
        }
        let torn = cut_torn_line(&dir).unwrap_or(false);
        let closed = match close_orphans(&log, None).await {
            Ok(c) => c,
            Err(e) => {
                let detail = format!("open segments could not be recovered: {e}");
                crate::fault::report(&index.db, Some(&hearing), Component::Recovery, &detail).await;
                continue;
            }
        };
        if torn || !closed.is_empty() {
            // What was open is counted, not the repaired copies made of it.
            let open = closed.iter().filter(|f| !f.ends_with(REPAIRED)).count();
            let late_copies = late_copies(&closed);
            done.segments += open;
            let detail = format!(
                "the server stopped while recording: {open} open segment(s) entered as cut short{}{}",
                if late_copies > 0 {
                    "; repaired copies an interrupted recovery had not entered were entered"
                } else {
                    ""
                },
                if torn {
                    "; a torn manifest line was cut"
                } else {
                    ""
                }
            );
            crate::fault::report(&index.db, Some(&hearing), Component::Recovery, &detail).await;
        }
        if index.hearing_closed(&hearing).await {
            match log.seal(ring).await {
                Ok(()) if dir.join(super::SEAL).exists() => done.uncomposed.push(hearing),
                Ok(()) => {}
                Err(e) => {
                    let detail =
                        format!("the recording of a closed hearing could not be sealed: {e}");
                    crate::fault::report(&index.db, Some(&hearing), Component::Recovery, &detail)
                        .await;
                }
            }
        }
    }
    done
}

/// How many of `closed` are repaired copies whose original is not among them: copies an
/// earlier, interrupted recovery made but had not entered.
fn late_copies(closed: &[String]) -> usize {
    closed
        .iter()
        .filter_map(|f| f.strip_suffix(REPAIRED))
        .filter(|stem| !closed.contains(&format!("{stem}.mkv")))
        .count()
}

/// Whether the manifest in `dir` lists a composite.
fn has_composite(dir: &Path) -> bool {
    read_entries(dir).is_ok_and(|entries| {
        entries
            .iter()
            .any(|e| e.segment.track == super::compose::COMPOSITE_TRACK)
    })
}

/// Removes the temporary files of work a stopped server never finished (a repair's remux, a
/// composite's render): never part of the record, and redone when needed. Only at start-up,
/// when nothing is writing them.
fn remove_unfinished(dir: &Path) {
    let Ok(names) = std::fs::read_dir(dir) else {
        return;
    };
    for name in names.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
        if is_unfinished(&name) {
            match std::fs::remove_file(dir.join(&name)) {
                Ok(()) => tracing::info!(file = name, "removed an unfinished temporary file"),
                Err(e) => {
                    tracing::warn!(file = name, error = %e, "an unfinished temporary file stays")
                }
            }
        }
    }
}

/// A repair's (`.<segment>.repair`) or a composite render's (`.composite-<ms>.webm.tmp`)
/// temporary file.
pub(crate) fn is_unfinished(name: &str) -> bool {
    name.starts_with('.')
        && (name.ends_with(".mkv.repair")
            || (name.starts_with(".composite-") && name.ends_with(".webm.tmp")))
}

/// Finds the unlisted segments and repairs each in place (atomically: a repaired copy is
/// written, synced, then renamed over the original).
fn find_and_repair(dir: &Path, only: Option<&str>) -> Result<Vec<Orphan>, LogError> {
    let entries = read_entries(dir)?;
    let listed: HashSet<&str> = entries.iter().map(|e| e.segment.file.as_str()).collect();
    // Where each run's listed segments end: an orphan of that run starts there.
    let mut ends: HashMap<String, i64> = HashMap::new();
    for e in &entries {
        if let Some(p) = prefix_of(&e.segment.file) {
            let end = ends.entry(p.to_owned()).or_insert(e.segment.end_ms);
            *end = (*end).max(e.segment.end_ms);
        }
    }
    let (copies, mut files): (Vec<String>, Vec<String>) = std::fs::read_dir(dir)?
        .filter_map(|e| {
            let e = e.ok()?;
            e.file_type().ok()?.is_file().then_some(())?;
            e.file_name().into_string().ok()
        })
        .filter(|name| !name.starts_with('.') && !listed.contains(name.as_str()))
        .filter(|name| prefix_of(name).is_some_and(|p| only.is_none_or(|o| o == p)))
        .partition(|name| name.ends_with(REPAIRED));
    files.sort();
    let mut out = Vec::new();
    // A repaired copy is made (again) from its original, never repaired itself. One whose
    // original is already listed was made and renamed into place before a crash cut recovery
    // short: it is complete, and entered as the copy of its original.
    let mut copies: Vec<(String, &Entry)> = copies
        .into_iter()
        .filter_map(|copy| {
            let original = format!("{}.mkv", copy.strip_suffix(REPAIRED)?);
            let entry = entries.iter().find(|e| e.segment.file == original)?;
            Some((copy, entry))
        })
        .collect();
    copies.sort_by(|a, b| a.0.cmp(&b.0));
    for (copy, of) in copies {
        out.push(Orphan {
            file: copy,
            participant: of.segment.participant.clone(),
            track: of.segment.track.clone(),
            span: (of.segment.start_ms, of.segment.end_ms),
        });
    }
    for file in files {
        let Some(prefix) = prefix_of(&file) else {
            continue;
        };
        let run: Option<RunInfo> = std::fs::read(run_file(dir, prefix))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let codec = run.as_ref().and_then(|r| Codec::from_mime(&r.mime));
        let length = repair(dir, &file, codec);
        let ms = i64::try_from(length.unwrap_or_default().as_millis()).unwrap_or(0);
        // Where the run's listed segments end; without them, when the run began; without its
        // description (a directory from an older server), when the file was last written.
        let start = ends
            .get(prefix)
            .copied()
            .or(run.as_ref().map(|r| r.base_ms))
            .unwrap_or_else(|| modified_ms(&dir.join(&file)) - ms);
        let (participant, track) = run.map_or_else(
            || ("unknown".to_owned(), "unknown".to_owned()),
            |r| (r.participant, r.track),
        );
        let span = (start, start + ms);
        ends.insert(prefix.to_owned(), span.1);
        out.push(Orphan {
            file: file.clone(),
            participant: participant.clone(),
            track: track.clone(),
            span,
        });
        if length.is_some() {
            out.push(Orphan {
                file: repaired_name(&file),
                participant,
                track,
                span,
            });
        }
    }
    Ok(out)
}

/// When `path` was last written, Unix milliseconds (now if unknown).
fn modified_ms(path: &Path) -> i64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or_else(crate::clock::now_ms)
}

/// Writes a complete, playable copy of the cut-short `dir/file` beside it (the original is
/// kept as it reached the disk) and returns its length; `None` when the file holds nothing
/// readable.
fn repair(dir: &Path, file: &str, codec: Option<Codec>) -> Option<Duration> {
    let path = dir.join(file);
    let tmp = dir.join(format!(".{file}.repair"));
    let fixed = dir.join(repaired_name(file));
    // Without the run's description, the codec is guessed: video first, then audio.
    let tries = codec.map_or_else(|| vec![Codec::Vp8, Codec::Opus], |c| vec![c]);
    for codec in tries {
        let Ok(length) = gavel_media_pipelines::repair::remux(&path, &tmp, codec, REPAIR_TIMEOUT)
        else {
            continue;
        };
        let placed = std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &fixed))
            .and_then(|()| super::manifest_log::sync_dir(dir));
        if placed.is_ok() {
            return Some(length);
        }
    }
    let _ = std::fs::remove_file(&tmp);
    tracing::warn!(
        file,
        "an open segment held nothing readable; kept as it was"
    );
    None
}

/// Cuts a manifest line torn by a crash (a last line without its newline: never a committed
/// entry, since entries are synced whole before they count). Returns whether it cut.
pub(crate) fn cut_torn_line(dir: &Path) -> std::io::Result<bool> {
    let path = dir.join(super::MANIFEST);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if text.is_empty() || text.ends_with(b"\n") {
        return Ok(false);
    }
    let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let f = std::fs::OpenOptions::new().write(true).open(&path)?;
    f.set_len(keep as u64)?;
    f.sync_all()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_give_their_run() {
        assert_eq!(
            prefix_of("p-1-microphone-7-1700-00003.mkv"),
            Some("p-1-microphone-7-1700")
        );
        assert_eq!(prefix_of("manifest.jsonl"), None);
        assert_eq!(prefix_of("composite.webm"), None);
        assert_eq!(prefix_of("x-0001.mkv"), None);
    }

    #[test]
    fn a_torn_last_line_is_cut_and_whole_lines_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(super::super::MANIFEST);
        std::fs::write(&path, "{\"a\":1}\n{\"b\":").unwrap();
        assert!(cut_torn_line(dir.path()).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n");
        assert!(!cut_torn_line(dir.path()).unwrap(), "nothing more to cut");
    }
}
