//! The manifest of one hearing's recording directory as the server writes it: entries appended
//! and fsynced one line at a time, chained to whatever the directory already holds (a hearing
//! recorded again after a restart continues its chain), and sealed when the hearing closes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gavel_recordings::manifest::{self, Entry, Segment};

use super::index::Index;
use crate::clock::now_ms;
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

/// The manifest of one hearing's recording directory.
#[derive(Debug)]
pub struct ManifestLog {
    dir: PathBuf,
    hearing: String,
    /// The database index kept beside the manifest (none for tools working on files alone).
    index: Option<Index>,
    /// The last entry and how many there are; read from disk on first use.
    tail: Mutex<Option<Tail>>,
}

/// The chain on disk, as far as appending and sealing need it.
#[derive(Debug, Clone, Default)]
struct Tail {
    last: Option<Entry>,
    /// Every entry's hash, in order (to check that an existing seal covers a prefix).
    hashes: Vec<String>,
    /// A write failed part-way: the chain is read from disk again before it is used.
    stale: bool,
}

impl Tail {
    fn entries(&self) -> usize {
        self.hashes.len()
    }
}

/// Why the manifest could not be extended or sealed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Reading or writing the directory failed.
    #[error("recording directory: {0}")]
    Io(#[from] std::io::Error),
    /// The manifest on disk does not hold together, so nothing may be chained to it or sealed
    /// over it (it was damaged or altered).
    #[error("the manifest does not hold together ({0}); it is left as it is")]
    Broken(String),
    /// The manifest no longer extends what was sealed (entries were removed or changed after
    /// the seal), so it is not sealed again.
    #[error("the manifest no longer extends its seal; it is left as it is")]
    SealMismatch,
    /// A blocking task was lost (the runtime is shutting down).
    #[error("the runtime is shutting down")]
    Cancelled,
}

impl ManifestLog {
    /// The log of `hearing`'s recording in `dir` (created when the first segment closes),
    /// indexed in `index`.
    pub fn new(dir: PathBuf, hearing: String, index: Option<Index>) -> Arc<Self> {
        Arc::new(Self {
            dir,
            hearing,
            index,
            tail: Mutex::new(None),
        })
    }

    /// The hearing whose recording this is.
    pub fn hearing(&self) -> &str {
        &self.hearing
    }

    /// The hearing's recording directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The chain's end, locked, read from the directory the first time.
    async fn tail(&self) -> Result<MappedMutexGuard<'_, Tail>, LogError> {
        let mut guard = self.tail.lock().await;
        if guard.as_ref().is_none_or(|t| t.stale) {
            let path = self.dir.join(super::MANIFEST);
            let tail = tokio::task::spawn_blocking(move || read_tail(&path))
                .await
                .map_err(|_| LogError::Cancelled)??;
            *guard = Some(tail);
        }
        Ok(MutexGuard::map(guard, |t| {
            t.get_or_insert_with(Tail::default)
        }))
    }

    /// Entries in the manifest.
    pub async fn entries(&self) -> Result<usize, LogError> {
        Ok(self.tail().await?.entries())
    }

    /// Seals the manifest as it stands (the hearing closed): its head and entry count, signed
    /// by the ring's current key, written next to it. Nothing to seal when nothing was
    /// recorded. A manifest sealed before (a composite added since) is sealed again only if
    /// it still extends what that seal signed.
    pub async fn seal(&self, ring: &crate::auth::keyring::KeyRing) -> Result<(), LogError> {
        let hearing = self.hearing.as_str();
        let tail = self.tail().await?;
        let Some(entry) = &tail.last else {
            return Ok(());
        };
        let entries = tail.entries();
        let seal_path = self.dir.join(super::SEAL);
        let previous = tokio::task::spawn_blocking(move || std::fs::read_to_string(seal_path))
            .await
            .map_err(|_| LogError::Cancelled)?;
        if let Ok(text) = previous {
            let extends =
                gavel_recordings::seal::verify(Some(&text), &entry.hash, entries, |kid| {
                    ring.find(kid).map(|k| k.public_key().to_vec())
                });
            let ok = match extends {
                // Sealed as it stands already: nothing to do (and nothing to announce).
                Ok(_) => return Ok(()),
                Err(gavel_recordings::seal::SealFailure::ManifestChanged { sealed, .. }) => {
                    let old: Option<gavel_recordings::seal::Seal> =
                        serde_json::from_str(&text).ok();
                    old.is_some_and(|s| sealed > 0 && tail.hashes.get(sealed - 1) == Some(&s.head))
                }
                Err(_) => false,
            };
            if !ok {
                return Err(LogError::SealMismatch);
            }
        }
        let key = ring.current();
        let seal = gavel_recordings::seal::Seal {
            hearing: hearing.to_owned(),
            head: entry.hash.clone(),
            entries,
            kid: key.kid.clone(),
            signature: hex::encode(key.sign(&gavel_recordings::seal::message(
                hearing,
                &entry.hash,
                entries,
            ))),
        };
        let text = serde_json::to_string_pretty(&seal).map_err(std::io::Error::other)?;
        let tmp = self
            .dir
            .join(format!(".seal.{}.tmp", uuid::Uuid::new_v4().simple()));
        let (path, dir) = (self.dir.join(super::SEAL), self.dir.clone());
        tokio::task::spawn_blocking(move || {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            sync_dir(&dir)
        })
        .await
        .map_err(|_| LogError::Cancelled)??;
        if let Some(index) = &self.index {
            if let Err(e) = index.sealed(hearing, &entry.hash, entries, now_ms()).await {
                tracing::error!(error = %e, "the recording's seal was not indexed yet (at the next start)");
            }
            // Whatever a database outage kept out of the index is entered now, from the record.
            drop(tail);
            index.reconcile_reporting(hearing, &self.dir).await;
        }
        Ok(())
    }

    /// Appends `segment` (its file of `bytes` already hashed) to the chain.
    async fn append(&self, segment: Segment, bytes: u64) -> Result<Entry, LogError> {
        let mut tail = self.tail().await?;
        let entry = manifest::append(tail.last.as_ref(), segment);
        let line = serde_json::to_string(&entry).map_err(std::io::Error::other)?;
        let (path, dir) = (self.dir.join(super::MANIFEST), self.dir.clone());
        let written = tokio::task::spawn_blocking(move || append_line(&path, &dir, &line))
            .await
            .map_err(|_| LogError::Cancelled)?;
        if let Err(e) = written {
            // The line may be on disk or not: read the chain again before the next append.
            tail.stale = true;
            return Err(e.into());
        }
        tail.last = Some(entry.clone());
        tail.hashes.push(entry.hash.clone());
        if let Some(index) = &self.index {
            index
                .segment_added(&self.hearing, (&entry, tail.entries()), bytes, now_ms())
                .await;
        }
        Ok(entry)
    }

    /// Hashes the closed segment file `file` (a name in the directory) and appends it.
    pub async fn append_file(
        &self,
        file: String,
        participant: &str,
        track: &str,
        (start_ms, end_ms): (i64, i64),
        cut_short: bool,
    ) -> Result<Entry, LogError> {
        let full = self.dir.join(&file);
        let (sha256, bytes) = tokio::task::spawn_blocking(move || {
            Some((
                super::sha256_file(&full)?,
                std::fs::metadata(&full).ok()?.len(),
            ))
        })
        .await
        .map_err(|_| LogError::Cancelled)?
        .ok_or_else(|| std::io::Error::other("the segment cannot be read"))?;
        self.append(
            Segment {
                file,
                participant: participant.to_owned(),
                track: track.to_owned(),
                start_ms,
                end_ms,
                sha256: hex::encode(sha256),
                cut_short,
            },
            bytes,
        )
        .await
    }
}

/// Appends one line and syncs it. On failure the file is cut back to where it was, so a
/// half-written line never stays in the middle of the manifest.
fn append_line(path: &Path, dir: &Path, line: &str) -> std::io::Result<()> {
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let before = f.metadata()?.len();
    let written = f
        .write_all(format!("{line}\n").as_bytes())
        .and_then(|()| f.sync_data());
    if let Err(e) = written {
        let _ = f.set_len(before).and_then(|()| f.sync_data());
        return Err(e);
    }
    if new {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Syncs a directory, so a file created or renamed in it survives a power cut.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// The chain of the manifest at `path` (empty if there is none), checked link by link: a
/// manifest that does not hold together is never extended.
fn read_tail(path: &Path) -> Result<Tail, LogError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tail::default()),
        Err(e) => return Err(e.into()),
    };
    let entries: Vec<Entry> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .map_err(|_| LogError::Broken("a line is not an entry".into()))?;
    // The links and each entry's own hash (the files are `gavel verify recording`'s job).
    let declared: std::collections::HashMap<&str, &str> = entries
        .iter()
        .map(|e| (e.segment.file.as_str(), e.segment.sha256.as_str()))
        .collect();
    manifest::verify(&text, |file| {
        let hex = declared.get(file)?;
        let bytes = hex::decode(hex).ok()?;
        bytes.try_into().ok()
    })
    .map_err(|f| LogError::Broken(f.first().map(ToString::to_string).unwrap_or_default()))?;
    Ok(Tail {
        hashes: entries.iter().map(|e| e.hash.clone()).collect(),
        last: entries.into_iter().last(),
        stale: false,
    })
}

/// Every entry of the manifest in `dir` that can be read (for recovery, which must know which
/// files are already listed).
pub(crate) fn read_entries(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let text = match std::fs::read_to_string(dir.join(super::MANIFEST)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}
