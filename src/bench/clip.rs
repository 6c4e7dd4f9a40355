//! The pre-encoded clip the load peers send: 720p VP8 at about 1.1 Mbit/s and Opus, made once
//! at set-up by `scripts/make-media.sh` (GStreamer, one encoded frame or packet per file). The
//! benchmark encodes nothing at run time and the SFU forwards real codec payloads, packetized
//! here once (RFC 7741 for VP8).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use bytes::Bytes;
use rtc::rtp::codec::vp8::Vp8Payloader;
use rtc::rtp::packetizer::Payloader;

/// Largest RTP payload the load peers send (fits any path MTU with SRTP overhead).
const MTU: usize = 1200;
/// Most frames or packets read of each kind (10 s at 30 fps / 50 pps, with room).
const MAX_UNITS: usize = 3000;
/// Largest single encoded frame read.
const MAX_UNIT_BYTES: u64 = 1 << 20;

/// The clip, ready to send.
#[derive(Debug)]
pub(crate) struct Clip {
    /// RTP payloads of each video frame, 30 frames a second; the first frame is a key frame.
    pub(crate) video: Vec<Vec<Bytes>>,
    /// One Opus packet per 20 ms.
    pub(crate) audio: Vec<Bytes>,
}

/// Where set-up puts the clip (`GAVEL_MEDIA_DIR`, default `~/.cache/gavel/media`).
pub(crate) fn default_dir() -> PathBuf {
    std::env::var_os("GAVEL_MEDIA_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/gavel/media")))
        .unwrap_or_else(|| PathBuf::from(".cache/gavel/media"))
        .join("bench-720p")
}

/// Reads and packetizes the clip in `dir`.
pub(crate) fn load(dir: &Path) -> anyhow::Result<Clip> {
    if !dir.join("complete").is_file() {
        bail!(
            "no benchmark clip in {} (run `make setup`, which runs scripts/make-media.sh)",
            dir.display()
        );
    }
    let mut vp8 = Vp8Payloader::default();
    vp8.enable_picture_id = true;
    let video = units(dir, "v", ".vp8")?
        .into_iter()
        .map(|frame| {
            vp8.payload(MTU, &frame)
                .map_err(|e| anyhow::anyhow!("packetizing the clip: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let audio = units(dir, "a", ".opus")?;
    if video.is_empty() || audio.is_empty() {
        bail!("the benchmark clip in {} is empty", dir.display());
    }
    if !gavel::sfu::keyframe_detect::vp8(&video[0][0]) {
        bail!("the benchmark clip does not start with a key frame");
    }
    Ok(Clip { video, audio })
}

/// The files `<prefix>NNNNN<suffix>` of `dir`, in order.
fn units(dir: &Path, prefix: &str, suffix: &str) -> anyhow::Result<Vec<Bytes>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
        })
        .collect();
    if names.len() > MAX_UNITS {
        bail!("more than {MAX_UNITS} {suffix} files in {}", dir.display());
    }
    names.sort();
    names
        .iter()
        .map(|p| {
            let len = std::fs::metadata(p)?.len();
            if len == 0 || len > MAX_UNIT_BYTES {
                bail!("{} is empty or too large", p.display());
            }
            Ok(Bytes::from(std::fs::read(p)?))
        })
        .collect()
}
