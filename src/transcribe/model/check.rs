//! Checking a ggml Whisper model file before whisper.cpp loads it. whisper.cpp trusts the
//! header to size its buffers, and accepts a file whose tensors are missing as an "empty
//! model" that transcribes nothing; this walks the whole file (headers only, data skipped) so
//! a truncated, corrupt or foreign file is a clear error instead.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::ModelError;

/// What the header says, for messages and the language check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelInfo {
    /// Vocabulary size (51865 and up: multilingual).
    pub n_vocab: usize,
    /// Encoder layers.
    pub n_audio_layer: usize,
    /// Decoder layers.
    pub n_text_layer: usize,
    /// Tensors in the file.
    pub tensors: usize,
}

impl ModelInfo {
    /// Whether the model knows languages other than English.
    pub fn multilingual(&self) -> bool {
        self.n_vocab >= 51865
    }
}

/// Bytes of `n` elements of ggml type `ttype`, for the types Whisper files use.
fn data_bytes(ttype: i32, n: u64) -> Option<u64> {
    // (elements per block, bytes per block)
    let (per, bytes) = match ttype {
        0 => (1, 4),   // F32
        1 => (1, 2),   // F16
        2 => (32, 18), // Q4_0
        3 => (32, 20), // Q4_1
        6 => (32, 22), // Q5_0
        7 => (32, 24), // Q5_1
        8 => (32, 34), // Q8_0
        _ => return None,
    };
    n.is_multiple_of(per)
        .then(|| (n / per).checked_mul(bytes))
        .flatten()
}

/// Walks the file at `path`; every length is checked against the file's size.
pub fn check(path: &Path) -> Result<ModelInfo, ModelError> {
    let io = |source| ModelError::Io {
        path: path.to_owned(),
        source,
    };
    let mut f = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
    let size = f.get_ref().metadata().map_err(io)?.len();
    let i32s = |n: usize, f: &mut std::io::BufReader<std::fs::File>| {
        let mut b = vec![0u8; n * 4];
        f.read_exact(&mut b).map_err(|_| ModelError::Truncated)?;
        Ok::<Vec<i32>, ModelError>(
            b.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    };
    let head = i32s(12, &mut f)?;
    if head[0] as u32 != 0x6767_6d6c {
        return Err(ModelError::Format(
            "not a ggml model file (import one with `gavel model import`)",
        ));
    }
    let dim = |i: usize, range: std::ops::RangeInclusive<i32>| {
        range
            .contains(&head[i])
            .then_some(head[i] as usize)
            .ok_or(ModelError::Format(
                "its header does not describe a Whisper model",
            ))
    };
    // whisper.cpp trusts these (its own checks are debug-only asserts or aborts), so only the
    // values real Whisper models have pass: English-only, multilingual and large-v3
    // vocabularies; the fixed contexts; widths and head counts that fit together; a known
    // weight type; 80 or 128 mels.
    let n_vocab = dim(1, 51_864..=51_866)?;
    dim(2, 1500..=1500)?;
    let n_audio_state = dim(3, 256..=2048)?;
    let n_audio_head = dim(4, 1..=64)?;
    let n_audio_layer = dim(5, 1..=64)?;
    dim(6, 448..=448)?;
    let n_text_state = dim(7, 256..=2048)?;
    let n_text_head = dim(8, 1..=64)?;
    let n_text_layer = dim(9, 1..=64)?;
    let n_mels = dim(10, 80..=128)?;
    let widths_fit = n_audio_state == n_text_state
        && n_audio_state.is_multiple_of(n_audio_head)
        && n_text_state.is_multiple_of(n_text_head);
    if !widths_fit || !(n_mels == 80 || n_mels == 128) {
        return Err(ModelError::Format(
            "its header does not describe a Whisper model",
        ));
    }
    if ![0, 1, 2, 3, 7, 8, 9].contains(&(head[11].rem_euclid(1000))) {
        return Err(ModelError::Format(
            "its weight type is not one whisper.cpp knows",
        ));
    }
    let mel = i32s(2, &mut f)?;
    if usize::try_from(mel[0]).ok() != Some(n_mels) || mel[1] != 201 {
        return Err(ModelError::Format(
            "its mel filters do not match its header",
        ));
    }
    let mel_bytes = n_mels as u64 * 201 * 4;
    let skip = |f: &mut std::io::BufReader<std::fs::File>, n: u64| -> Result<(), ModelError> {
        let at = f.stream_position().map_err(ModelError::Write)?;
        if at.checked_add(n).is_none_or(|end| end > size) {
            return Err(ModelError::Truncated);
        }
        f.seek(SeekFrom::Current(i64::try_from(n).unwrap_or(i64::MAX)))
            .map_err(ModelError::Write)?;
        Ok(())
    };
    skip(&mut f, mel_bytes)?;
    let n_tokens = i32s(1, &mut f)?[0];
    if !(0..=100_000).contains(&n_tokens) {
        return Err(ModelError::Format("implausible vocabulary size"));
    }
    for _ in 0..n_tokens {
        let len = u64::try_from(i32s(1, &mut f)?[0])
            .map_err(|_| ModelError::Format("a negative token length"))?;
        skip(&mut f, len)?;
    }
    let expected = 11 + 15 * n_audio_layer + 24 * n_text_layer;
    let mut tensors = 0;
    let mut names = std::collections::HashSet::new();
    while f.stream_position().map_err(ModelError::Write)? < size {
        let h = i32s(3, &mut f)?;
        let (n_dims, name_len, ttype) = (h[0], h[1], h[2]);
        if !(1..=4).contains(&n_dims) || !(1..=256).contains(&name_len) {
            return Err(ModelError::Format("a tensor header is corrupt"));
        }
        let ne = i32s(n_dims as usize, &mut f)?;
        let n = ne.iter().try_fold(1u64, |a, d| {
            u64::try_from(*d).ok().and_then(|d| a.checked_mul(d))
        });
        let bytes = n
            .and_then(|n| data_bytes(ttype, n))
            .ok_or(ModelError::Format("a tensor has an unknown type or shape"))?;
        let mut name = vec![0u8; name_len as usize];
        f.read_exact(&mut name).map_err(|_| ModelError::Truncated)?;
        if !names.insert(name) {
            return Err(ModelError::Format("a tensor appears twice"));
        }
        skip(&mut f, bytes)?;
        tensors += 1;
    }
    if tensors != expected {
        return Err(ModelError::Format(
            "the file does not hold every tensor of the model (truncated?)",
        ));
    }
    Ok(ModelInfo {
        n_vocab,
        n_audio_layer,
        n_text_layer,
        tensors,
    })
}
