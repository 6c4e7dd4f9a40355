//! The server's typed configuration: defaults in code, then a TOML file, then environment
//! variables `GAVEL__SECTION__KEY`, then command-line flags.
//!
//! Every knob has a default that works for `make run` on a laptop, with its unit and reason
//! beside it. Unknown keys are errors (a typo must not silently fall back to a default).
//! Validated once at start-up by [`Config::validate`]; after that it is passed explicitly and
//! never re-read. Secrets are `SecretString` and never printed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The whole configuration tree; each section belongs to one part of the server.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTPS listener, data directory and request limits.
    pub server: ServerConfig,
    /// Where hearings, participants and the audit log are stored.
    pub database: DatabaseConfig,
    /// Join-link tokens.
    pub tokens: TokenConfig,
    /// Event delivery to the court platform.
    pub webhooks: WebhookConfig,
    /// The WebSocket signaling endpoint and room behaviour.
    pub signaling: SignalingConfig,
    /// Media (WebRTC) transport.
    pub media: MediaConfig,
    /// What participants' connections must reach (the pre-join check).
    pub client: ClientConfig,
    /// Recording of hearings.
    pub recording: RecordingConfig,
    /// Transcription (Whisper).
    pub transcription: TranscriptionConfig,
    /// What the public copy of the written record masks (Art. 36).
    pub shielding: crate::written::shield::ShieldConfig,
    /// The audit log's signed checkpoints.
    pub audit: AuditConfig,
}

/// The audit log's anchoring outside the database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Seconds between signed checkpoints of the log's head (one is also signed whenever a
    /// hearing closes, and none while the log has not grown). 300: at most five minutes of
    /// entries could be cut off the end unnoticed.
    pub checkpoint_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_secs: 300,
        }
    }
}

/// Transcription of hearings and files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TranscriptionConfig {
    /// The ggml Whisper model (`gavel model import` makes one). Default:
    /// `$GAVEL_MODEL_DIR/ggml-tiny.en.bin`, or `~/.cache/gavel/models/ggml-tiny.en.bin`.
    pub model: PathBuf,
    /// The language spoken (ISO 639-1, e.g. `en`, or `zh` with a multilingual model).
    /// Default: `en`.
    pub language: String,
    /// Threads per transcription job. On a busy 2-core machine one is steadier than two.
    /// Default: 1.
    pub threads: usize,
    /// Transcription jobs run at once (worker threads, each with its own working memory of
    /// about 170 MB for tiny). Default: 1.
    pub workers: usize,
    /// Caption hearings live (everyone on the record, each by their own track). Default: on.
    pub live: bool,
}

impl Default for TranscriptionConfig {
    fn default() -> Self {
        let dir = std::env::var_os("GAVEL_MODEL_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/gavel/models"))
            })
            .unwrap_or_else(|| PathBuf::from("models"));
        Self {
            model: dir.join("ggml-tiny.en.bin"),
            language: "en".into(),
            threads: 1,
            workers: 1,
            live: true,
        }
    }
}

/// Recording of hearings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingConfig {
    /// Hearing kinds recorded from the start (roles with `control_recording` may still stop
    /// and start it, with a reason). Default: trials.
    pub kinds: Vec<crate::domain::HearingKind>,
    /// Where recordings are written, one directory per hearing. Default:
    /// `<data_dir>/recordings`.
    pub dir: Option<std::path::PathBuf>,
    /// Longest recording segment, seconds. A crash loses at most the open segment's unflushed
    /// tail, and every closed segment is verifiable on its own. Default: 10 (1 to 600).
    pub segment_secs: u64,
    /// Render the composite of a hearing (one file of the whole hearing) as soon as its
    /// recording is sealed. Off: only on request (API or `gavel recording compose`).
    /// Default: on.
    pub auto_composite: bool,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        Self {
            kinds: vec![crate::domain::HearingKind::Trial],
            dir: None,
            segment_secs: 10,
            auto_composite: true,
        }
    }
}

/// The minimums a participant's connection must reach, published to the pre-join check (Art.
/// 22: the court states what taking part needs). Below a minimum the check warns; below half
/// of it, it fails and suggests audio only or another network.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// Upload, kbit/s: a camera at 360p plus audio.
    pub min_upload_kbps: u32,
    /// Download, kbit/s: a few tiles at their lower layers plus audio.
    pub min_download_kbps: u32,
    /// Round trip to the server, milliseconds.
    pub max_rtt_ms: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            min_upload_kbps: 500,
            min_download_kbps: 1500,
            max_rtt_ms: 300,
        }
    }
}

/// Media (WebRTC) transport.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// UDP addresses each peer connection binds, `ip:port` (port 0 = any). Default
    /// `127.0.0.1:0`, which serves browsers on this machine; set the server's reachable
    /// address (e.g. `203.0.113.7:0`) for others. A wildcard address binds every interface
    /// except loopback.
    pub udp_addrs: Vec<String>,
    /// Ports peer connections bind, `[first, last]` inclusive, so a firewall can open just
    /// those; each connection takes the next free one. Unset: any free port.
    pub port_range: Option<[u16; 2]>,
    /// The address clients reach the media at when the server sits behind 1:1 NAT (a cloud
    /// VM's public IP): it replaces the bound address in the candidates sent to clients.
    pub announce_ip: Option<std::net::IpAddr>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            udp_addrs: vec!["127.0.0.1:0".to_owned()],
            port_range: None,
            announce_ip: None,
        }
    }
}

/// The WebSocket signaling endpoint and room behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalingConfig {
    /// Hearing kinds in which participants without admitting powers wait in a lobby until a
    /// judge, clerk or mediator admits them. Default: all kinds (courts admit people explicitly).
    pub lobby_kinds: Vec<crate::domain::HearingKind>,
    /// How long a dropped connection keeps its place, milliseconds. 30 s covers a phone
    /// switching from Wi-Fi to mobile data.
    pub grace_ms: u64,
    /// Heartbeat interval clients are asked to keep, milliseconds.
    pub heartbeat_ms: u32,
    /// A connection silent for this long is treated as dropped, milliseconds (3 heartbeats).
    pub idle_timeout_ms: u64,
    /// Time allowed between connecting and the `join` message, milliseconds.
    pub join_timeout_ms: u64,
    /// Invalid messages tolerated on one connection before it is closed (code 4400).
    pub max_bad_messages: u32,
    /// Outgoing messages buffered per connection; a client this far behind is disconnected.
    pub send_queue: usize,
}

impl Default for SignalingConfig {
    fn default() -> Self {
        use crate::domain::HearingKind;
        Self {
            lobby_kinds: vec![
                HearingKind::Trial,
                HearingKind::PreTrial,
                HearingKind::Mediation,
            ],
            grace_ms: 30_000,
            heartbeat_ms: 10_000,
            idle_timeout_ms: 30_000,
            join_timeout_ms: 10_000,
            max_bad_messages: 5,
            send_queue: 256,
        }
    }
}

/// HTTPS listener, data directory and request limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port of the HTTPS listener. Default `0.0.0.0:8443`: reachable from phones
    /// on the same network, and 8443 needs no privileges.
    pub listen: SocketAddr,
    /// Directory for the database, TLS certificate and signing keys (created if missing).
    pub data_dir: PathBuf,
    /// Base URL printed in join links, e.g. `https://hearings.court.example`. Default
    /// `https://localhost:<port>`.
    pub public_url: Option<String>,
    /// PEM certificate chain; with `tls_key_file`. Default: a self-signed certificate generated
    /// into `<data_dir>/tls/` on first start.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key for `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// Largest request body, bytes. 64 KiB: every case-API body is a small JSON object.
    pub max_body_bytes: usize,
    /// A request taking longer than this many seconds is answered 408 and its work abandoned.
    pub request_timeout_secs: u64,
    /// Seconds to let in-flight requests finish after SIGTERM/SIGINT before closing.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            data_dir: default_data_dir(),
            public_url: None,
            tls_cert_file: None,
            tls_key_file: None,
            max_body_bytes: 64 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 10,
        }
    }
}

/// `$HOME/.local/share/gavel`, or `./gavel-data` when there is no home directory.
fn default_data_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => Path::new(&home).join(".local/share/gavel"),
        _ => PathBuf::from("gavel-data"),
    }
}

/// Where hearings, participants and the audit log are stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://...` or `postgres://...`. Default: SQLite at `<data_dir>/gavel.db`.
    /// A secret because PostgreSQL URLs carry passwords.
    pub url: Option<SecretString>,
    /// Pool size. 8: the case API is light; PostgreSQL's default limit is 100 for all clients.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 8,
        }
    }
}

/// Join-link tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// Lifetime of a join link when the platform asks for none, seconds. 24 h: a link is
    /// usually sent the day before a hearing.
    pub default_ttl_secs: i64,
    /// Longest lifetime the platform may ask for, seconds. 30 days.
    pub max_ttl_secs: i64,
    /// Tolerated clock difference when checking expiry, seconds.
    pub leeway_secs: i64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            default_ttl_secs: 24 * 3600,
            max_ttl_secs: 30 * 24 * 3600,
            leeway_secs: 30,
        }
    }
}

/// Event delivery to the court platform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Accept `http://` webhook URLs. Off: events carry hearing data and must travel over TLS.
    /// Tests and local development turn it on.
    pub allow_http: bool,
    /// Accept webhook targets on loopback, private, link-local and other internal addresses.
    /// Off, so an API key cannot make the server call into its own network (SSRF).
    pub allow_private_targets: bool,
    /// First retry delay after a failed delivery, milliseconds; doubles per attempt.
    pub retry_base_ms: u64,
    /// Longest retry delay, milliseconds. 5 min keeps a recovered receiver waiting briefly.
    pub retry_max_ms: u64,
    /// Per-request timeout, milliseconds.
    pub timeout_ms: u64,
    /// Attempts before an event is parked as failed (and a fault is audited). 30 attempts at
    /// the default delays is about two hours.
    pub max_attempts: i64,
    /// How often the outbox is checked when nothing new was queued, milliseconds.
    pub poll_interval_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_private_targets: false,
            retry_base_ms: 1000,
            retry_max_ms: 300_000,
            timeout_ms: 10_000,
            max_attempts: 30,
            poll_interval_ms: 1000,
        }
    }
}

/// A configuration that cannot be used, with the key at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML file or an environment variable did not parse or named an unknown key.
    #[error("configuration: {0}")]
    Parse(#[from] Box<figment::Error>),
    /// A value is out of range.
    #[error("configuration: `{key}` {problem}")]
    Invalid {
        /// Dotted key, e.g. `server.max_body_bytes`.
        key: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A shielding pattern does not compile.
    #[error("configuration: `shielding.patterns`: {0}")]
    Shielding(#[from] crate::written::shield::PatternError),
}

impl Config {
    /// Defaults, then `file` (if given), then `GAVEL__SECTION__KEY` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::new();
        if let Some(f) = file {
            fig = fig.merge(Toml::file_exact(f));
        }
        fig = fig.merge(Env::prefixed("GAVEL__").split("__"));
        fig.extract().map_err(|e| ConfigError::Parse(Box::new(e)))
    }

    /// Checks ranges and combinations once, at start-up.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        let bad = |key, problem| Err(ConfigError::Invalid { key, problem });
        if !(1024..=16 * 1024 * 1024).contains(&s.max_body_bytes) {
            return bad("server.max_body_bytes", "must be between 1 KiB and 16 MiB");
        }
        if s.request_timeout_secs == 0 {
            return bad("server.request_timeout_secs", "must be positive");
        }
        if s.tls_cert_file.is_some() != s.tls_key_file.is_some() {
            return bad(
                "server.tls_cert_file",
                "and server.tls_key_file must be given together",
            );
        }
        if let Some(u) = &s.public_url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return bad("server.public_url", "must start with https://");
        }
        if let Some(u) = &self.database.url {
            let u = u.expose_secret();
            if !(u.starts_with("sqlite:")
                || u.starts_with("postgres://")
                || u.starts_with("postgresql://"))
            {
                return bad("database.url", "must be a sqlite: or postgres:// URL");
            }
        }
        if !(1..=600).contains(&self.recording.segment_secs) {
            return bad(
                "recording.segment_secs",
                "must be between 1 and 600 seconds",
            );
        }
        crate::written::shield::Shield::new(&self.shielding)?;
        if !(1..=24 * 3600).contains(&self.audit.checkpoint_secs) {
            return bad(
                "audit.checkpoint_secs",
                "must be between 1 second and 24 hours",
            );
        }
        if self.database.max_connections == 0 {
            return bad("database.max_connections", "must be positive");
        }
        let t = &self.tokens;
        if !(60..=366 * 24 * 3600).contains(&t.max_ttl_secs) {
            return bad(
                "tokens.max_ttl_secs",
                "must be between 60 seconds and 366 days",
            );
        }
        if t.default_ttl_secs <= 0 || t.default_ttl_secs > t.max_ttl_secs {
            return bad(
                "tokens.default_ttl_secs",
                "must be positive and at most tokens.max_ttl_secs",
            );
        }
        let w = &self.webhooks;
        if w.retry_base_ms == 0 || w.retry_max_ms < w.retry_base_ms {
            return bad(
                "webhooks.retry_base_ms",
                "must be positive and at most webhooks.retry_max_ms",
            );
        }
        if w.max_attempts <= 0 || w.timeout_ms == 0 || w.poll_interval_ms == 0 {
            return bad(
                "webhooks",
                "max_attempts, timeout_ms and poll_interval_ms must be positive",
            );
        }
        if self.media.udp_addrs.is_empty()
            || self
                .media
                .udp_addrs
                .iter()
                .any(|a| a.parse::<std::net::SocketAddr>().is_err())
        {
            return bad("media.udp_addrs", "must list ip:port addresses");
        }
        if let Some([first, last]) = self.media.port_range
            && (first == 0 || last < first)
        {
            return bad(
                "media.port_range",
                "must be [first, last] with 0 < first <= last",
            );
        }
        let s = &self.signaling;
        if s.heartbeat_ms == 0 || s.idle_timeout_ms <= u64::from(s.heartbeat_ms) {
            return bad(
                "signaling.idle_timeout_ms",
                "must be longer than signaling.heartbeat_ms (which must be positive)",
            );
        }
        if s.join_timeout_ms == 0 || s.max_bad_messages == 0 || s.send_queue == 0 {
            return bad(
                "signaling",
                "join_timeout_ms, max_bad_messages and send_queue must be positive",
            );
        }
        Ok(())
    }

    /// Base URL for join links.
    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("https://localhost:{}", self.server.listen.port()),
        }
    }

    /// Fixes, once, what the configuration leaves to be derived, so every part reads the same:
    /// the recordings directory, and (given the port the server bound) the public URL.
    pub fn resolve(&mut self, bound_port: Option<u16>) {
        self.recording.dir = Some(self.recordings_dir());
        if let Some(port) = bound_port {
            self.server
                .public_url
                .get_or_insert_with(|| format!("https://localhost:{port}"));
        }
    }

    /// Where the join-link signing keys are: `<data_dir>/keys`.
    pub fn keys_dir(&self) -> std::path::PathBuf {
        self.server.data_dir.join("keys")
    }

    /// Where recordings are written, one directory per hearing (default
    /// `<data_dir>/recordings`).
    pub fn recordings_dir(&self) -> std::path::PathBuf {
        self.recording
            .dir
            .clone()
            .unwrap_or_else(|| self.server.data_dir.join("recordings"))
    }

    /// The database URL, defaulting to SQLite in the data directory.
    pub fn database_url(&self) -> SecretString {
        match &self.database.url {
            Some(u) => u.clone(),
            None => {
                let p = self.server.data_dir.join("gavel.db");
                SecretString::from(format!("sqlite://{}?mode=rwc", p.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn a_toml_file_overrides_defaults_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("gavel.toml");
        std::fs::write(&f, "[server]\nlisten = \"127.0.0.1:9000\"\n").unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(c.server.listen.port(), 9000);
        assert_eq!(c.server.max_body_bytes, 64 * 1024);
        std::fs::write(&f, "[server]\nlisen = \"127.0.0.1:9000\"\n").unwrap();
        let e = Config::load(Some(&f)).unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        let mut c = Config::default();
        c.server.max_body_bytes = 10;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("server.max_body_bytes"), "{e}");
    }

    #[test]
    fn the_database_url_is_not_printed_in_debug_output() {
        let c = Config {
            database: DatabaseConfig {
                url: Some(SecretString::from("postgres://u:hunter2@db/g")),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
