//! The court's captioners, one per language its hearings are held in: a hearing in the
//! court's own language (`[transcription] language`) and one held in another (the case API's
//! `language`) are captioned by different models (English-only for English, the multilingual
//! one otherwise), each loaded only while a hearing in its language needs it. A language whose
//! model cannot be used leaves its hearings without captions, saying why, and the others
//! untouched.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::live::Captioner;
use crate::config::TranscriptionConfig;

/// The captioners, made as hearings in each language first open.
pub struct Captioners {
    config: TranscriptionConfig,
    by_language: Mutex<HashMap<String, Arc<Captioner>>>,
}

impl std::fmt::Debug for Captioners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Captioners")
            .field("language", &self.config.language)
            .finish_non_exhaustive()
    }
}

impl Captioners {
    /// Captioners for `config`; the court's own language's model is checked now, so that a
    /// server started with an unusable one says so at once.
    pub fn start(config: &TranscriptionConfig) -> Arc<Self> {
        let this = Arc::new(Self {
            config: config.clone(),
            by_language: Mutex::default(),
        });
        if let Some(why) = this.language(None).why_unavailable() {
            tracing::warn!(language = %config.language, "live captions unavailable: {why}");
        }
        this
    }

    /// The captioner of hearings held in `language` (`None`: the court's own).
    pub fn language(&self, language: Option<&str>) -> Arc<Captioner> {
        let language = language
            .unwrap_or(&self.config.language)
            .to_ascii_lowercase();
        let mut by = self.by_language.lock().unwrap_or_else(|e| e.into_inner());
        by.entry(language.clone())
            .or_insert_with(|| Captioner::start(&self.config.in_language(&language)))
            .clone()
    }
}
