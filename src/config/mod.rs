//! The server's typed configuration: defaults in code, then a TOML file, then environment
//! variables `GAVEL__SECTION__KEY`, then command-line flags.
//!
//! Every knob has a default that works for `make run` on a laptop, with its unit and reason
//! beside it. Unknown keys are errors (a typo must not silently fall back to a default).
//! Validated once at start-up by [`Config::validate`]; after that it is passed explicitly and
//! never re-read. Secrets are `SecretString` and never printed.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

mod sections;
pub use sections::*;

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
        let t = &self.transcription;
        if !crate::domain::validate::is_language(&t.language) {
            return bad(
                "transcription.language",
                "must be a language Whisper knows, as its ISO 639-1 code (en, zh, ...)",
            );
        }
        if let Some(p) = &t.prompt
            && (p.chars().count() > 400 || p.chars().any(char::is_control))
        {
            return bad(
                "transcription.prompt",
                "must be at most 400 characters on one line",
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
    pub fn keys_dir(&self) -> PathBuf {
        self.server.data_dir.join("keys")
    }

    /// Where recordings are written, one directory per hearing (default
    /// `<data_dir>/recordings`).
    pub fn recordings_dir(&self) -> PathBuf {
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
    fn an_unknown_language_or_an_overlong_prompt_is_refused() {
        let mut c = Config::default();
        c.transcription.language = "zh".into();
        c.transcription.prompt = Some("以下是法院的庭審筆錄。".into());
        c.validate().unwrap();
        c.transcription.language = "klingon".into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("transcription.language"), "{e}");
        c.transcription.language = "zh".into();
        c.transcription.prompt = Some("庭".repeat(401));
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("transcription.prompt"), "{e}");
        c.transcription.prompt = Some("a\0b".into());
        assert!(c.validate().is_err(), "a NUL would panic whisper-rs");
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
