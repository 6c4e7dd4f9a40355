//! Transcription: Whisper models (imported from CTranslate2 into whisper.cpp's format), speech
//! to text through whisper-rs, and the word error rate used to measure it.

pub mod model;
pub mod wer;
pub mod whisper;
