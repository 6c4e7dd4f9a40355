//! Transcription: Whisper models (imported from CTranslate2 into whisper.cpp's format), speech
//! to text through whisper-rs, and the word error rate used to measure it.

pub mod live;
pub mod model;
pub mod nonspeech;
mod pool;
pub mod store;
pub mod vad;
pub mod wer;
pub mod whisper;
pub mod window;
