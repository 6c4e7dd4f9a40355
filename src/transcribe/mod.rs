//! Transcription: Whisper models (imported from CTranslate2 into whisper.cpp's format) and,
//! through whisper-rs, speech to text with each segment's speaker known from its track.

pub mod model;
