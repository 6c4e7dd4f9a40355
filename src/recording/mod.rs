//! The recording of hearings on disk: each track's recorder (`writer`), the manifest it enters
//! segments into (`manifest_log`), its index in the database (`index`), the recovery of what a
//! crash left open (`recover`) and the composite (`compose`).
//!
//! This file is the integrity check: `gavel verify recording DIR` reads a hearing's recording
//! directory — `manifest.jsonl` and the segment files it lists — and reports every failure by
//! name (`gavel_recordings::manifest` does the checking; the functions here only read files).

pub mod compose;
pub mod index;
pub mod manifest_log;
pub mod recover;
pub mod writer;

use std::io::Read;
use std::path::Path;

use gavel_recordings::Digest;
use gavel_recordings::manifest::{self, Failure};

/// The manifest's file name in a hearing's recording directory.
pub const MANIFEST: &str = "manifest.jsonl";
/// The seal's file name (written when the hearing closes).
pub const SEAL: &str = "manifest.seal.json";

/// Largest manifest read (a line per segment: years of hearings fit).
const MAX_MANIFEST: u64 = 64 * 1024 * 1024;

/// What verifying a directory found.
#[derive(Debug)]
pub enum Verdict {
    /// Every file and the whole chain verify.
    Intact {
        /// Segments listed.
        segments: usize,
        /// The chain head, hex.
        head: String,
    },
    /// What failed, each naming the file, the manifest line or the seal.
    Broken(Vec<String>),
}

/// Verifies the recording in `dir`: every file, the manifest's chain, and its seal against
/// `public_key` (the raw Ed25519 key of a server key id).
pub fn verify_dir(
    dir: &Path,
    public_key: impl Fn(&str) -> Option<Vec<u8>>,
) -> std::io::Result<Verdict> {
    let path = dir.join(MANIFEST);
    let mut text = String::new();
    std::fs::File::open(&path)?
        .take(MAX_MANIFEST + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_MANIFEST {
        return Err(std::io::Error::other(
            "the manifest is larger than any real one (64 MiB)",
        ));
    }
    let segments = text.lines().filter(|l| !l.trim().is_empty()).count();
    let head = match manifest::verify(&text, |name| hash_file(dir, name)) {
        Ok(head) => hex::encode(head),
        Err(failures) => {
            return Ok(Verdict::Broken(
                failures.iter().map(Failure::to_string).collect(),
            ));
        }
    };
    let seal = std::fs::read_to_string(dir.join(SEAL)).ok();
    if let Err(f) = gavel_recordings::seal::verify(seal.as_deref(), &head, segments, public_key) {
        return Ok(Verdict::Broken(vec![f.to_string()]));
    }
    Ok(Verdict::Intact { segments, head })
}

/// Files in `dir` that its manifest does not list: not a failure of the listed record (which
/// verifies on its own), but something an examiner must see. The manifest, its seal and the
/// recorders' run descriptions (`.<run>.run.json`) belong to the recording and are not named.
pub fn unlisted(dir: &Path) -> std::io::Result<Vec<String>> {
    let listed: std::collections::HashSet<String> = manifest_log::read_entries(dir)?
        .into_iter()
        .map(|e| e.segment.file)
        .collect();
    let mut out: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| {
            name != MANIFEST
                && name != SEAL
                && !(name.starts_with('.') && name.ends_with(".run.json"))
                && !listed.contains(name)
        })
        .collect();
    out.sort();
    Ok(out)
}

/// SHA-256 of `dir/name`, or `None` if it is missing or `name` is not a plain file name (a
/// manifest never names anything outside its directory).
fn hash_file(dir: &Path, name: &str) -> Option<Digest> {
    let plain = !name.is_empty()
        && !name.contains(['/', '\\'])
        && name != "."
        && name != ".."
        && !name.starts_with('.');
    if !plain {
        return None;
    }
    sha256_file(&dir.join(name))
}

/// SHA-256 of a file, read in 64 KiB pieces; `None` if it cannot be read.
pub(crate) fn sha256_file(path: &Path) -> Option<Digest> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    ctx.finish().as_ref().try_into().ok()
}
