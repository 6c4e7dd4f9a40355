//! The RTSP server the tests stand in for courtroom cameras with
//! (`scripts/rtsp-test-server.py`: GStreamer's server through Debian's Python bindings,
//! installed by `make setup`). Here so that every test suite starts it the same way; the
//! server itself never runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running test server on loopback; killed when dropped.
#[derive(Debug)]
pub struct TestServer {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestServer {
    /// Starts the server (asking for `user` and `password` if given) and waits, at most 20 s,
    /// until it says it listens.
    pub fn start(credentials: Option<(&str, &str)>) -> std::io::Result<Self> {
        Self::start_at(credentials, 0)
    }

    /// Starts the server on `port` (0: any free one), e.g. again where a stopped one was.
    pub fn start_at(credentials: Option<(&str, &str)>, port: u16) -> std::io::Result<Self> {
        Self::spawn(credentials, port, &[], None)
    }

    /// Starts a server that also serves `/courtroom-speech`: the baseline camera with the
    /// speech of the `wavs` (one after the other, 1.5 s apart) as AAC, from the start for each
    /// client.
    pub fn with_speech(wavs: &[std::path::PathBuf]) -> std::io::Result<Self> {
        Self::spawn(None, 0, wavs, None)
    }

    /// Starts a server that also serves `gavel bench rtsp`'s 1080p30 cameras (`/bench`,
    /// `/bench-high`), encoded once into `clips` (a minute each; kept for the next run).
    pub fn for_bench(clips: &std::path::Path) -> std::io::Result<Self> {
        Self::spawn(None, 0, &[], Some(clips))
    }

    fn spawn(
        credentials: Option<(&str, &str)>,
        port: u16,
        speech: &[std::path::PathBuf],
        bench: Option<&std::path::Path>,
    ) -> std::io::Result<Self> {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/rtsp-test-server.py"
        );
        // Debian's Python: it has the GStreamer bindings (a pyenv `python3` may not).
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script)
            .args(["--port", &port.to_string()])
            .stdout(Stdio::piped());
        if let Some(dir) = bench {
            cmd.arg("--bench").arg(dir);
        }
        if !speech.is_empty() {
            cmd.arg("--speech").args(speech);
        }
        if let Some((user, password)) = credentials {
            cmd.args(["--user", user, "--password", password]);
        }
        let mut child = cmd.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        // It prints `ready <port>` once it listens; the line never comes if it failed.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let port = rx
            // Encoding the benchmark's clips the first time takes minutes.
            .recv_timeout(Duration::from_secs(if bench.is_some() { 600 } else { 20 }))
            .ok()
            .and_then(|line| line.strip_prefix("ready ")?.trim().parse().ok());
        match port {
            Some(port) => Ok(Self { child, port }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(std::io::Error::other(
                    "the RTSP test server did not say it was ready",
                ))
            }
        }
    }
}
