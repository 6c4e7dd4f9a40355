//! Crash points: named moments at which the server stops dead, as if killed, when the
//! environment asks for it (`GAVEL_CRASH_AT=<name>`). They exist so that tests can prove the
//! record survives a crash at exactly the moments that matter (between two manifest entries,
//! before a seal), which a kill timed from outside hits only by luck.
//!
//! Invariant: without `GAVEL_CRASH_AT`, `hit` does nothing but compare a cached value. It
//! never unwinds or runs destructors when it fires: `abort` is what a crash looks like.

use std::sync::OnceLock;

/// The environment variable naming the crash point to die at.
pub const ENV: &str = "GAVEL_CRASH_AT";

/// After recovery entered a cut-short original into the manifest, before its repaired copy.
pub const RECOVERY_ORIGINAL_ENTERED: &str = "recovery-original-entered";
/// A closed hearing's recording is about to be sealed.
pub const BEFORE_SEAL: &str = "before-seal";
/// A composite render is half done (its temporary file half written).
pub const COMPOSITE_MIDWAY: &str = "composite-midway";

/// Dies at once if the environment names `point`.
pub fn hit(point: &str) {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    if AT.get_or_init(|| std::env::var(ENV).ok()).as_deref() == Some(point) {
        tracing::error!(point, "crash point reached: the process stops here");
        std::process::abort();
    }
}
