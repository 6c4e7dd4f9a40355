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

/// How to start a test server beyond the plain mounts.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    /// Ask for this user and password (digest).
    pub credentials: Option<(&'a str, &'a str)>,
    /// Listen here (0: any free port), e.g. again where a stopped server was.
    pub port: u16,
    /// Serve `/courtroom-speech`: the baseline camera with these WAVs' speech as AAC (one after
    /// the other, 1.5 s apart), from the start for each client.
    pub speech: &'a [std::path::PathBuf],
    /// Serve `gavel bench rtsp`'s 1080p30 cameras (`/bench`, `/bench-high`), encoded once into
    /// this directory (a minute each; kept for the next run).
    pub bench: Option<&'a std::path::Path>,
    /// Serve RTSPS only, with this certificate and key (PEM files).
    pub tls: Option<(&'a std::path::Path, &'a std::path::Path)>,
}

impl TestServer {
    /// Starts the server (asking for `user` and `password` if given) and waits, at most 20 s,
    /// until it says it listens.
    pub fn start(credentials: Option<(&str, &str)>) -> std::io::Result<Self> {
        Self::start_with(&Options {
            credentials,
            ..Options::default()
        })
    }

    /// Starts the server on `port` (0: any free one), e.g. again where a stopped one was.
    pub fn start_at(credentials: Option<(&str, &str)>, port: u16) -> std::io::Result<Self> {
        Self::start_with(&Options {
            credentials,
            port,
            ..Options::default()
        })
    }

    /// Starts the server as `o` says.
    pub fn start_with(o: &Options<'_>) -> std::io::Result<Self> {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/rtsp-test-server.py"
        );
        // Debian's Python: it has the GStreamer bindings (a pyenv `python3` may not).
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script)
            .args(["--port", &o.port.to_string()])
            .stdout(Stdio::piped());
        if let Some(dir) = o.bench {
            cmd.arg("--bench").arg(dir);
        }
        if !o.speech.is_empty() {
            cmd.arg("--speech").args(o.speech);
        }
        if let Some((cert, key)) = o.tls {
            cmd.arg("--tls").arg(cert).arg(key);
        }
        if let Some((user, password)) = o.credentials {
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
            .recv_timeout(Duration::from_secs(if o.bench.is_some() {
                600
            } else {
                20
            }))
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
