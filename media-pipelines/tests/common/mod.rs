//! What the media-pipelines tests share: the pre-encoded clip (made by `make setup`) and RTP
//! packets made of it.

#![allow(clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};

fn clip_dir() -> PathBuf {
    std::env::var_os("GAVEL_MEDIA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".cache/gavel/media"))
        .join("bench-720p")
}

pub(crate) fn units(prefix: &str) -> Vec<Vec<u8>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(clip_dir())
        .expect("the benchmark clip (make setup)")
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
        .collect();
    names.sort();
    names.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

pub(crate) fn rtp(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, (u8::from(marker) << 7) | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}
