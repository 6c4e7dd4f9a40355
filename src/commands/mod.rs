//! The command bodies of the `gavel` binary, one module per family; `main` only parses and
//! dispatches. A command-line edge: `anyhow` here, typed errors in the library.

pub(crate) mod keys;
pub(crate) mod media;
pub(crate) mod serve;
pub(crate) mod verify;

use std::io::Write;

/// `hh:mm:ss.mmm` for a time in milliseconds.
pub(crate) fn clock(ms: i64) -> String {
    let ms = ms.max(0);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

pub(crate) fn out(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
}

/// A text file of at most `max` bytes (a signed transcript is evidence handed in by someone:
/// it is read whole, so its size is checked first).
pub(crate) fn read_limited(path: &std::path::Path, max: u64) -> anyhow::Result<String> {
    let len = std::fs::metadata(path)?.len();
    anyhow::ensure!(
        len <= max,
        "the file is {len} bytes; at most {max} are read"
    );
    Ok(std::fs::read_to_string(path)?)
}

/// Looks up a public key by key id in `keys` (for the offline verifiers).
pub(crate) fn key_of(keys: &[(String, Vec<u8>)]) -> impl Fn(&str) -> Option<Vec<u8>> + '_ {
    |kid| {
        keys.iter()
            .find(|(k, _)| k == kid)
            .map(|(_, pk)| pk.clone())
    }
}
