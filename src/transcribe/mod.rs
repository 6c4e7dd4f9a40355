//! Transcription: Whisper models (imported from CTranslate2 into whisper.cpp's format), speech
//! to text through whisper-rs, and the word error rate used to measure it.

pub mod captioners;
pub mod chinese;
pub mod live;
pub mod model;
pub mod nonspeech;
mod pool;
pub mod store;
pub mod vad;
pub mod wer;
pub mod whisper;
pub mod window;

/// Returns freed heap (a released model, its working buffers) to the system: glibc keeps
/// freed memory for reuse otherwise (`gavel bench asr`: 159 MB resident once the model was
/// let go without this, 48 MB with it, 39 MB before it was loaded). Called by each transcription worker as it ends (the last one's
/// call finds the model freed), and by `gavel bench asr` between its parts.
pub fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim takes no pointers and only returns free heap pages to the kernel;
    // glibc serialises it with every other allocator call.
    unsafe {
        libc::malloc_trim(0);
    }
}
