//! The recording manifest of a hearing: one entry per closed segment (participant, track, time
//! range, SHA-256 of the file), hash-chained as segments close, so a changed, removed or
//! reordered entry — or a changed file — is found by [`verify`]. Entries cut off the end leave a
//! shorter chain that still holds together; the signed chain head (written when the hearing
//! closes) is what catches that.
//!
//! Pure like the rest of this crate: the caller reads and writes the manifest's lines (JSON, one
//! entry per line, appended) and hashes the files; this module builds entries and checks them.

use serde::{Deserialize, Serialize};

use crate::chain::{Digest, GENESIS, encode_fields, link_hash};

/// One recorded segment, as the recorder closed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// File name, relative to the hearing's recording directory.
    pub file: String,
    /// Whose track it is.
    pub participant: String,
    /// Which track of theirs (`audio`, `video`, `screen`, or `composite`).
    pub track: String,
    /// Start on the hearing clock, milliseconds since the epoch.
    pub start_ms: i64,
    /// End on the hearing clock.
    pub end_ms: i64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Closed by recovery after a crash rather than by the recorder.
    #[serde(default)]
    pub cut_short: bool,
}

impl Segment {
    fn payload(&self) -> Vec<u8> {
        encode_fields(&[
            self.file.as_bytes(),
            self.participant.as_bytes(),
            self.track.as_bytes(),
            &self.start_ms.to_be_bytes(),
            &self.end_ms.to_be_bytes(),
            self.sha256.as_bytes(),
            &[u8::from(self.cut_short)],
        ])
    }
}

/// A manifest line: the segment and its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The segment.
    #[serde(flatten)]
    pub segment: Segment,
    /// The previous entry's hash, hex (zeros for the first).
    pub prev: String,
    /// This entry's hash, hex.
    pub hash: String,
}

/// The entry that follows `prev` (the last entry's hash, or `None` for the first).
pub fn append(prev: Option<&Entry>, segment: Segment) -> Entry {
    let prev = prev.and_then(|e| parse_digest(&e.hash)).unwrap_or(GENESIS);
    let hash = link_hash(&prev, &segment.payload());
    Entry {
        segment,
        prev: hex::encode(prev),
        hash: hex::encode(hash),
    }
}

/// What is wrong with a recording, naming the manifest line or the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// A manifest line is not an entry.
    #[error("manifest line {line} is not a valid entry")]
    Unreadable {
        /// 1-based line number.
        line: usize,
    },
    /// The entry does not link to the one before it (an entry was removed, added or moved).
    #[error("manifest line {line} ({file}) does not follow the line before it")]
    BrokenLink {
        /// 1-based line number.
        line: usize,
        /// Its file.
        file: String,
    },
    /// The entry was edited after it was written.
    #[error("manifest line {line} ({file}) was altered")]
    Altered {
        /// 1-based line number.
        line: usize,
        /// Its file.
        file: String,
    },
    /// The file is missing.
    #[error("{file} is missing")]
    Missing {
        /// The file.
        file: String,
    },
    /// The file's content is not what was recorded.
    #[error("{file} was changed: its SHA-256 does not match the manifest")]
    Changed {
        /// The file.
        file: String,
    },
}

/// Checks every line of `manifest` and every file it lists (`file_hash` gives a file's SHA-256,
/// or `None` if it is missing). Returns the chain head on success, or every failure found.
pub fn verify(
    manifest: &str,
    mut file_hash: impl FnMut(&str) -> Option<Digest>,
) -> Result<Digest, Vec<Failure>> {
    let mut failures = Vec::new();
    let mut expected_prev = GENESIS;
    for (i, line) in manifest
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let n = i + 1;
        let Ok(entry) = serde_json::from_str::<Entry>(line) else {
            failures.push(Failure::Unreadable { line: n });
            continue;
        };
        let file = entry.segment.file.clone();
        let (Some(prev), Some(hash)) = (parse_digest(&entry.prev), parse_digest(&entry.hash))
        else {
            failures.push(Failure::Unreadable { line: n });
            continue;
        };
        if prev != expected_prev {
            failures.push(Failure::BrokenLink {
                line: n,
                file: file.clone(),
            });
        }
        if link_hash(&prev, &entry.segment.payload()) != hash {
            failures.push(Failure::Altered {
                line: n,
                file: file.clone(),
            });
        }
        expected_prev = hash;
        match file_hash(&file) {
            None => failures.push(Failure::Missing { file }),
            Some(d) if hex::encode(d) != entry.segment.sha256 => {
                failures.push(Failure::Changed { file });
            }
            Some(_) => {}
        }
    }
    if failures.is_empty() {
        Ok(expected_prev)
    } else {
        Err(failures)
    }
}

fn parse_digest(s: &str) -> Option<Digest> {
    hex::decode(s).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(file: &str, content: &[u8]) -> Segment {
        Segment {
            file: file.into(),
            participant: "p1".into(),
            track: "video".into(),
            start_ms: 1000,
            end_ms: 3000,
            sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, content)),
            cut_short: false,
        }
    }

    fn files() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("a.mkv", b"first".to_vec()),
            ("b.mkv", b"second".to_vec()),
            ("c.mkv", b"third".to_vec()),
        ]
    }

    fn manifest(files: &[(&str, Vec<u8>)]) -> String {
        let mut last: Option<Entry> = None;
        let mut out = String::new();
        for (f, c) in files {
            let e = append(last.as_ref(), seg(f, c));
            out.push_str(&serde_json::to_string(&e).unwrap());
            out.push('\n');
            last = Some(e);
        }
        out
    }

    fn hasher(files: Vec<(&'static str, Vec<u8>)>) -> impl FnMut(&str) -> Option<Digest> {
        move |name| {
            let (_, c) = files.iter().find(|(f, _)| *f == name)?;
            let mut d = [0u8; 32];
            d.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, c).as_ref());
            Some(d)
        }
    }

    #[test]
    fn an_intact_recording_verifies() {
        assert!(verify(&manifest(&files()), hasher(files())).is_ok());
    }

    #[test]
    fn a_changed_byte_in_a_file_is_named() {
        let mut changed = files();
        changed[1].1[0] ^= 1;
        assert_eq!(
            verify(&manifest(&files()), hasher(changed)),
            Err(vec![Failure::Changed {
                file: "b.mkv".into()
            }])
        );
    }

    #[test]
    fn an_edited_removed_or_missing_entry_is_found() {
        let m = manifest(&files());
        let edited = m.replacen("\"end_ms\":3000", "\"end_ms\":2000", 1);
        assert_eq!(
            verify(&edited, hasher(files())),
            Err(vec![Failure::Altered {
                line: 1,
                file: "a.mkv".into()
            }])
        );
        let removed: String = m
            .lines()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        assert_eq!(
            verify(&removed, hasher(files())),
            Err(vec![Failure::BrokenLink {
                line: 2,
                file: "c.mkv".into()
            }])
        );
        let mut gone = files();
        gone.remove(2);
        assert_eq!(
            verify(&m, hasher(gone)),
            Err(vec![Failure::Missing {
                file: "c.mkv".into()
            }])
        );
        assert_eq!(
            verify("not json\n", hasher(files())),
            Err(vec![Failure::Unreadable { line: 1 }])
        );
    }
}
