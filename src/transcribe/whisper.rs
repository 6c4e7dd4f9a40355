//! Speech to text with whisper.cpp (through whisper-rs). A [`Transcriber`] holds one loaded
//! model; each call decodes one utterance (under 30 s). How it decodes is a [`Tuning`], whose
//! default is what `gavel bench asr` measured fastest without losing accuracy. The model file
//! is checked before whisper.cpp sees it, so a corrupt file is a clear error.

use std::path::Path;

use super::window;
pub use crate::config::Tuning;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

/// Why transcription is unavailable or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TranscribeError {
    /// The model file is missing, corrupt or not a Whisper model.
    #[error("the Whisper model {path} cannot be used: {why}")]
    Model {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The language is not one Whisper knows, or the model is English-only.
    #[error("{0}")]
    Language(String),
    /// whisper.cpp failed on the audio.
    #[error("transcription failed: {0}")]
    Decode(String),
}

/// One transcribed stretch of speech.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Start, milliseconds from the start of the audio.
    pub start_ms: i64,
    /// End.
    pub end_ms: i64,
    /// The words.
    pub text: String,
    /// Mean probability of its tokens, 0 to 1.
    pub confidence: f32,
}

/// The words of `segments` as one line in `language`: separated by spaces, except in Chinese,
/// which is written without them.
pub fn joined(language: &str, segments: &[Segment]) -> String {
    let line = segments
        .iter()
        .map(|s| s.text.trim())
        .collect::<Vec<_>>()
        .join(" ");
    if super::chinese::writes_simplified(language) {
        super::chinese::punctuated(&line)
    } else {
        line
    }
}

/// A loaded Whisper model.
pub struct Transcriber {
    ctx: WhisperContext,
    language: String,
    threads: i32,
    tuning: Tuning,
    prompt: Option<String>,
}

impl std::fmt::Debug for Transcriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcriber")
            .field("language", &self.language)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl Transcriber {
    /// Loads the ggml model at `path` to transcribe `language` (an ISO 639-1 code such as
    /// `en` or `zh`) on `threads` threads.
    pub fn load(path: &Path, language: &str, threads: usize) -> Result<Self, TranscribeError> {
        Self::load_tuned(path, language, threads, Tuning::default())
    }

    /// The model `config` names for its language, decoding and prompted as it says.
    pub fn from_config(
        config: &crate::config::TranscriptionConfig,
    ) -> Result<Self, TranscribeError> {
        let t = Self::load_tuned(
            &config.model,
            &config.language,
            config.threads,
            config.tuning,
        )?;
        Ok(match &config.prompt {
            Some(p) => t.prompted(Some(p.clone()).filter(|p| !p.is_empty())),
            None => t,
        })
    }

    /// This model, told that `prompt` came before each utterance (`None`: nothing did).
    #[must_use]
    pub fn prompted(mut self, prompt: Option<String>) -> Self {
        // A NUL cannot cross into C (whisper-rs would panic); the configuration refuses one.
        self.prompt = prompt.filter(|p| !p.contains('\0'));
        self
    }

    /// [`Self::load`], decoding as `tuning` says, from the language's own prompt.
    pub fn load_tuned(
        path: &Path,
        language: &str,
        threads: usize,
        tuning: Tuning,
    ) -> Result<Self, TranscribeError> {
        Self::check(path, language)?;
        whisper_rs::install_logging_hooks();
        let mut params = WhisperContextParameters::default();
        params.flash_attn(tuning.flash_attn);
        let ctx =
            WhisperContext::new_with_params(path, params).map_err(|e| TranscribeError::Model {
                path: path.display().to_string(),
                why: format!("whisper.cpp refused it ({e})"),
            })?;
        Ok(Self {
            ctx,
            language: language.to_owned(),
            threads: i32::try_from(threads.clamp(1, 16)).unwrap_or(1),
            tuning,
            prompt: super::chinese::prompt(language).map(str::to_owned),
        })
    }

    /// Whether the model at `path` can be loaded to transcribe `language`, without loading
    /// it (the file's headers are read).
    pub fn check(path: &Path, language: &str) -> Result<(), TranscribeError> {
        let model_err = |why: String| TranscribeError::Model {
            path: path.display().to_string(),
            why,
        };
        let multilingual = super::model::check::check(path)
            .map_err(|e| model_err(e.to_string()))?
            .multilingual();
        if !crate::domain::validate::is_language(language) {
            return Err(TranscribeError::Language(format!(
                "Whisper does not know the language {language:?}"
            )));
        }
        if !multilingual && language != "en" {
            return Err(TranscribeError::Language(format!(
                "this model understands English only, not {language:?}; use a multilingual one"
            )));
        }
        Ok(())
    }

    /// Transcribes `pcm` (16 kHz mono; longer than 30 s is decoded window by window).
    pub fn transcribe(&self, pcm: &[f32]) -> Result<Vec<Segment>, TranscribeError> {
        self.decoder()?.transcribe(pcm)
    }

    /// The text it is told came before each utterance, if any.
    pub fn prompt(&self) -> Option<&str> {
        self.prompt.as_deref()
    }

    /// The language it transcribes (ISO 639-1).
    pub fn language(&self) -> &str {
        &self.language
    }

    /// A decoder with its own working memory (about 170 MB for tiny), for a worker thread to
    /// keep and reuse.
    pub fn decoder(&self) -> Result<Decoder, TranscribeError> {
        let state = self
            .ctx
            .create_state()
            .map_err(|e| TranscribeError::Decode(e.to_string()))?;
        Ok(Decoder {
            state,
            language: self.language.clone(),
            threads: self.threads,
            tuning: self.tuning,
            prompt: self.prompt.clone(),
        })
    }
}

/// One worker's decoder.
pub struct Decoder {
    state: whisper_rs::WhisperState,
    language: String,
    threads: i32,
    tuning: Tuning,
    prompt: Option<String>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("language", &self.language)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// Transcribes `pcm` (16 kHz mono, at most 30 s for an utterance). In a window fitted to
    /// the utterance, what reads as a decoding failure (nothing heard, a phrase repeated, more
    /// words than anyone says in the time) is decoded again in the full window.
    pub fn transcribe(&mut self, pcm: &[f32]) -> Result<Vec<Segment>, TranscribeError> {
        if pcm.is_empty() {
            return Ok(Vec::new());
        }
        let fitted = self
            .tuning
            .window_margin_ms
            .and_then(|m| window::fitted(pcm.len(), m));
        if fitted.is_some() {
            let heard = self.decode(pcm, fitted)?;
            let text = joined(&self.language, &heard);
            if !window::implausible(&self.language, &text, pcm.len()) {
                return Ok(heard);
            }
            tracing::debug!(text, "fitted window implausible: decoding the full window");
        }
        self.decode(pcm, None)
    }

    /// Decodes `pcm` with the encoder seeing `window` positions (`None`: the full 30 s).
    fn decode(
        &mut self,
        pcm: &[f32],
        window: Option<usize>,
    ) -> Result<Vec<Segment>, TranscribeError> {
        let decode = |e: whisper_rs::WhisperError| TranscribeError::Decode(e.to_string());
        let state = &mut self.state;
        let mut params = FullParams::new(match self.tuning.beam_size {
            0 | 1 => SamplingStrategy::Greedy { best_of: 5 },
            n => SamplingStrategy::BeamSearch {
                beam_size: i32::from(n),
                patience: -1.0,
            },
        });
        if let Some(window) = window {
            params.set_audio_ctx(i32::try_from(window).unwrap_or(0));
        }
        params.set_language(Some(&self.language));
        if let Some(prompt) = &self.prompt {
            params.set_initial_prompt(prompt);
        }
        params.set_n_threads(self.threads);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        // Temperature fallback (whisper.cpp's defaults, stated): a window that decodes into a
        // loop (high compression) or nonsense (low log-probability) is decoded again hotter.
        params.set_temperature(0.0);
        params.set_temperature_inc(0.2);
        params.set_entropy_thold(2.4);
        params.set_logprob_thold(-1.0);
        params.set_suppress_blank(true);
        state.full(params, pcm).map_err(decode)?;
        let mut out = Vec::new();
        for s in state.as_iter() {
            let heard = s.to_str_lossy().map_err(decode)?;
            if heard.trim().is_empty() {
                continue;
            }
            // A sound described ("(beep)", "♪ ♪") is not speech: never a line.
            let Some(mut text) = super::nonspeech::speech_only(&heard) else {
                super::nonspeech::count_dropped();
                tracing::debug!(
                    no_speech = s.no_speech_probability(),
                    "non-speech line dropped"
                );
                continue;
            };
            let probs: Vec<f32> = (0..s.n_tokens())
                .filter_map(|i| s.get_token(i))
                .map(|t| t.token_probability())
                .collect();
            let confidence = if probs.is_empty() {
                0.0
            } else {
                probs.iter().sum::<f32>() / probs.len() as f32
            };
            let no_speech = s.no_speech_probability();
            tracing::debug!(no_speech, confidence, "transcribed segment");
            if super::nonspeech::likely_invented(no_speech, confidence) {
                super::nonspeech::count_dropped();
                continue;
            }
            if super::chinese::writes_simplified(&self.language) {
                text = super::chinese::punctuated(&super::chinese::simplified(&text));
            }
            out.push(Segment {
                // whisper.cpp counts in centiseconds.
                start_ms: s.start_timestamp() * 10,
                end_ms: s.end_timestamp() * 10,
                text,
                confidence,
            });
        }
        Ok(out)
    }
}
