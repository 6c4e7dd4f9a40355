//! The sans-IO line: pure modules must not read the clock, spawn, lock or do I/O.

use std::path::Path;

const PURE: &[&str] = &[
    "src/domain",
    "src/engine",
    "recordings/src/chain.rs",
    "recordings/src/written",
    "src/written/shield.rs",
    "src/written/html.rs",
    "src/transcribe/vad.rs",
    "src/transcribe/wer.rs",
    "src/sfu/peer/negotiation.rs",
    "src/sfu/offer_codecs.rs",
    "src/sfu/plane/demux.rs",
    "src/sfu/plane/latency.rs",
    "src/sfu/plane/inbox.rs",
    "media-pipelines/src/timeline.rs",
];
const FORBIDDEN: &[&str] = &[
    "Instant::now",
    "SystemTime::now",
    ".elapsed()",
    "now_utc",
    "now_local",
    "std::process",
    "spawn(",
    "tokio::",
    "std::thread",
    "Mutex",
    "std::fs",
    "std::net",
    "sqlx",
    "reqwest",
];

fn files(p: &Path, out: &mut Vec<std::path::PathBuf>) {
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            files(&e.unwrap().path(), out);
        }
    } else if p.extension().is_some_and(|e| e == "rs") && !p.ends_with("tests.rs") {
        // Unit-test files may take one real `Instant` as the base of their virtual time.
        out.push(p.to_owned());
    }
}

#[test]
fn pure_modules_do_no_io_and_never_read_the_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    for p in PURE {
        files(&root.join(p), &mut all);
    }
    assert!(all.len() >= 5, "the pure modules moved; update this test");
    for f in all {
        let source = std::fs::read_to_string(&f).unwrap();
        // Unit tests (at the end of a file) may take one real `Instant` as their time base.
        let code = source
            .split("#[cfg(test)]\nmod tests {")
            .next()
            .unwrap_or_default();
        let text: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for bad in FORBIDDEN {
            assert!(!text.contains(bad), "{} uses {bad}", f.display());
        }
    }
}
