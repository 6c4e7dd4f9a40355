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

/// VP8 frame `i` (30 a second) as RTP packets of payload type 96, numbered on from `*seq`.
pub(crate) fn vp8_packets(frame: &[u8], i: usize, seq: &mut u16) -> Vec<Vec<u8>> {
    let chunks: Vec<&[u8]> = frame.chunks(1100).collect();
    let ts = u32::try_from(i).unwrap() * 3000;
    chunks
        .iter()
        .enumerate()
        .map(|(j, chunk)| {
            let mut payload = vec![if j == 0 { 0x10 } else { 0x00 }];
            payload.extend_from_slice(chunk);
            let p = rtp(96, *seq, ts, j + 1 == chunks.len(), &payload);
            *seq = seq.wrapping_add(1);
            p
        })
        .collect()
}
