//! The pre-encoded clip that load and test peers send: 720p VP8 at about 1.1 Mbit/s and Opus,
//! made once at set-up by `scripts/make-media.sh` (GStreamer, one encoded frame or packet per
//! file). Peers encode nothing at run time and the SFU (and the recorder) get real codec
//! payloads, packetized here once (RFC 7741 for VP8).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use rtc::rtp::codec::vp8::Vp8Payloader;
use rtc::rtp::packetizer::Payloader;

/// Largest RTP payload the load peers send (fits any path MTU with SRTP overhead).
const MTU: usize = 1200;
/// Most frames or packets read of each kind: 3 min of 20 ms audio packets (the Mandarin test
/// speech, 26 sentences with their pauses, is 102 s), 5 min of 30 fps video.
const MAX_UNITS: usize = 9000;
/// Largest single encoded frame read.
const MAX_UNIT_BYTES: u64 = 1 << 20;

/// Why the clip cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClipError {
    /// Set-up has not made it, or it is incomplete or not what set-up makes.
    #[error("{0}")]
    Unusable(String),
    /// It could not be read.
    #[error("reading {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// The clip, ready to send.
#[derive(Debug, Default)]
pub struct Clip {
    /// RTP payloads of each video frame, 30 frames a second; the first frame is a key frame.
    pub video: Vec<Vec<Bytes>>,
    /// One Opus packet per 20 ms.
    pub audio: Vec<Bytes>,
}

/// Where set-up puts the clip (`GAVEL_MEDIA_DIR`, default `~/.cache/gavel/media`).
pub fn default_dir() -> PathBuf {
    std::env::var_os("GAVEL_MEDIA_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/gavel/media")))
        .unwrap_or_else(|| PathBuf::from(".cache/gavel/media"))
        .join("bench-720p")
}

/// Reads and packetizes the clip in `dir`.
pub fn load(dir: &Path) -> Result<Clip, ClipError> {
    let unusable = |m: String| ClipError::Unusable(m);
    if !dir.join("complete").is_file() {
        return Err(unusable(format!(
            "no benchmark clip in {} (run `make setup`, which runs scripts/make-media.sh)",
            dir.display()
        )));
    }
    let mut vp8 = Vp8Payloader::default();
    vp8.enable_picture_id = true;
    let video = units(dir, "v", ".vp8")?
        .into_iter()
        .map(|frame| {
            vp8.payload(MTU, &frame)
                .map_err(|e| unusable(format!("packetizing the clip: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let audio = units(dir, "a", ".opus")?;
    if video.is_empty() || audio.is_empty() {
        return Err(unusable(format!(
            "the benchmark clip in {} is empty",
            dir.display()
        )));
    }
    if !crate::sfu::keyframe_detect::vp8(&video[0][0]) {
        return Err(unusable(
            "the benchmark clip does not start with a key frame".into(),
        ));
    }
    Ok(Clip { video, audio })
}

/// Only the Opus packets (`aNNNNN.opus`, 20 ms each) of the clip in `dir`: for speech,
/// which has no video.
pub fn load_audio(dir: &Path) -> Result<Vec<Bytes>, ClipError> {
    if !dir.join("complete").is_file() {
        return Err(ClipError::Unusable(format!(
            "no clip in {} (run `make setup`)",
            dir.display()
        )));
    }
    let audio = units(dir, "a", ".opus")?;
    if audio.is_empty() {
        return Err(ClipError::Unusable(format!(
            "no audio in {}",
            dir.display()
        )));
    }
    Ok(audio)
}

/// The files `<prefix>NNNNN<suffix>` of `dir`, in order.
fn units(dir: &Path, prefix: &str, suffix: &str) -> Result<Vec<Bytes>, ClipError> {
    let io = |p: &Path| {
        let p = p.to_owned();
        move |e| ClipError::Io(p, e)
    };
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
        })
        .collect();
    if names.len() > MAX_UNITS {
        return Err(ClipError::Unusable(format!(
            "more than {MAX_UNITS} {suffix} files in {}",
            dir.display()
        )));
    }
    names.sort();
    names
        .iter()
        .map(|p| {
            let len = std::fs::metadata(p).map_err(io(p))?.len();
            if len == 0 || len > MAX_UNIT_BYTES {
                return Err(ClipError::Unusable(format!(
                    "{} is empty or too large",
                    p.display()
                )));
            }
            Ok(Bytes::from(std::fs::read(p).map_err(io(p))?))
        })
        .collect()
}
