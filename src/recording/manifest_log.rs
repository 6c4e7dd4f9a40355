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

/// The end of the chain on disk.
#[derive(Debug, Clone, Default)]
struct Tail {
    last: Option<Entry>,
    entries: usize,
}

/// Why the manifest could not be extended or sealed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Reading or writing the directory failed.
    #[error("recording directory: {0}")]
    Io(#[from] std::io::Error),
    /// The manifest's last line is not an entry, so nothing can be chained to it.
    #[error("the manifest's last line is not a valid entry")]
    Unreadable,
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
        if guard.is_none() {
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
        Ok(self.tail().await?.entries)
    }

    /// Seals the manifest as it stands (the hearing closed): its head and entry count, signed
    /// by `key`, written next to it. Nothing to seal when nothing was recorded.
    pub async fn seal(&self, key: &crate::auth::keyring::SigningKey) -> Result<(), LogError> {
        let hearing = self.hearing.as_str();
        let tail = self.tail().await?;
        let Some(entry) = &tail.last else {
            return Ok(());
        };
        let entries = tail.entries;
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
        let (tmp, path) = (self.dir.join(".seal.tmp"), self.dir.join(super::SEAL));
        tokio::task::spawn_blocking(move || {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })
        .await
        .map_err(|_| LogError::Cancelled)??;
        if let Some(index) = &self.index
            && let Err(e) = index.sealed(hearing, &entry.hash, entries, now_ms()).await
        {
            tracing::error!(error = %e, "FAULT: the recording's seal was not indexed");
        }
        Ok(())
    }

    /// Appends `segment` (its file of `bytes` already hashed) to the chain.
    async fn append(&self, segment: Segment, bytes: u64) -> Result<Entry, LogError> {
        let mut tail = self.tail().await?;
        let entry = manifest::append(tail.last.as_ref(), segment);
        let line = serde_json::to_string(&entry).map_err(std::io::Error::other)?;
        let path = self.dir.join(super::MANIFEST);
        tokio::task::spawn_blocking(move || {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            f.write_all(format!("{line}\n").as_bytes())?;
            f.sync_data()
        })
        .await
        .map_err(|_| LogError::Cancelled)??;
        tail.last = Some(entry.clone());
        tail.entries += 1;
        if let Some(index) = &self.index {
            index
                .segment_added(&self.hearing, &entry, bytes, now_ms())
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

/// The last entry of the manifest at `path` and how many there are (none if it is absent).
fn read_tail(path: &Path) -> Result<Tail, LogError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tail::default()),
        Err(e) => return Err(e.into()),
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let entries = lines.clone().count();
    match lines.next_back() {
        None => Ok(Tail::default()),
        Some(l) => Ok(Tail {
            last: Some(serde_json::from_str(l).map_err(|_| LogError::Unreadable)?),
            entries,
        }),
    }
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
