//! The configuration's sections, one per part of the server, each with its defaults (unit and
//! reason beside every knob). The tree and its checks are in the parent module.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

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
    /// The ggml Whisper model for hearings in English (`gavel model import` makes one).
    /// Default: `$GAVEL_MODEL_DIR/ggml-tiny.en.bin`, or `~/.cache/gavel/models/ggml-tiny.en.bin`
    /// (English only, small and fast).
    pub model: PathBuf,
    /// The model for hearings in any other language (it must be multilingual). Default:
    /// `ggml-base.bin` beside the English one (Whisper base, which the set-up fetches and
    /// `make run` imports).
    pub multilingual_model: PathBuf,
    /// The language the court's hearings are held in unless a hearing says otherwise (ISO
    /// 639-1: `en`, or `zh` for Mandarin, transcribed in simplified characters). Default: `en`.
    pub language: String,
    /// Threads per transcription job. On a busy 2-core machine one is steadier than two.
    /// Default: 1.
    pub threads: usize,
    /// The text Whisper is told came before each utterance: the court's own words (names of
    /// judges and courtrooms, terms it uses), which steer spelling and vocabulary. Default: the
    /// language's built-in prompt (Chinese has one, measured: a court record's vocabulary);
    /// `""`: none. At most 400 characters.
    pub prompt: Option<String>,
    /// Transcription jobs run at once (worker threads sharing the model, each with its own
    /// working memory; the tiny model and one worker hold about 100 MB). Default: 1.
    pub workers: usize,
    /// Caption hearings live (everyone on the record, each by their own track). Default: on.
    pub live: bool,
    /// Seconds the speech model stays in memory after the last captioned hearing closed (it
    /// is loaded again when the next opens). Default: 300.
    pub unload_after_secs: u64,
    /// How utterances are decoded: measured choices, not a setting (`gavel bench asr` tries
    /// others).
    #[serde(skip)]
    pub tuning: Tuning,
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
            multilingual_model: dir.join("ggml-base.bin"),
            language: "en".into(),
            threads: 1,
            prompt: None,
            workers: 1,
            live: true,
            unload_after_secs: 300,
            tuning: Tuning::default(),
        }
    }
}

impl TranscriptionConfig {
    /// The model that transcribes `language`: the English model for English, the
    /// multilingual one for every other language.
    pub fn model_for(&self, language: &str) -> &Path {
        if language.eq_ignore_ascii_case("en") {
            &self.model
        } else {
            &self.multilingual_model
        }
    }

    /// This configuration for hearings in `language`: its model, its language, and the
    /// decoding measured for it.
    pub fn in_language(&self, language: &str) -> Self {
        Self {
            model: self.model_for(language).to_owned(),
            language: language.to_ascii_lowercase(),
            tuning: Tuning::for_language(language),
            ..self.clone()
        }
    }
}

/// How utterances are decoded: the choices `gavel bench asr` weighs against each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Beams of the search; 1 decodes greedily. Either way a window that decodes into a loop
    /// or nonsense is decoded again hotter (whisper.cpp's temperature fallback).
    pub beam_size: u8,
    /// The encoder sees the utterance plus this much (ms) instead of Whisper's fixed 30 s
    /// window, whose cost is paid in full however short the speech; `None`: the full window.
    pub window_margin_ms: Option<u32>,
    /// whisper.cpp's flash attention.
    pub flash_attn: bool,
}

/// Measured with `gavel bench asr --threads 1` (tiny.en, 2 cores; issue 14's note): the full
/// 30 s window with 5 beams (f16) ran at RTF 0.39 with 9.4 % WER; a window fitted to the
/// utterance plus 2 s, decoded greedily (q8_0), at 0.052 with the same WER, on single
/// sentences and on a long recording. Shorter margins lost words (the model, not trained on
/// short windows, needs the silence to hear the end); 5 beams in the fitted window looped on
/// the long recording; flash attention was slower on this CPU.
impl Default for Tuning {
    fn default() -> Self {
        Self {
            beam_size: 1,
            window_margin_ms: Some(2000),
            flash_attn: false,
        }
    }
}

impl Tuning {
    /// The decoding measured for `language`. Mandarin (Whisper base, `gavel bench asr
    /// --language zh`, 26 court sentences; issue 15's note): with the court prompt, a 2 s margin
    /// made the model say many utterances twice (each then decoded again in the full window,
    /// RTF 0.53), a 4 s margin rarely (RTF 0.31, the same 8.8 % CER); 5 beams gained 0.7
    /// points of CER for a third more time.
    pub fn for_language(language: &str) -> Self {
        let mut tuning = Self::default();
        if language.eq_ignore_ascii_case("zh") {
            tuning.window_margin_ms = Some(4000);
        }
        tuning
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
    /// Run the media plane (one thread and one UDP port for many connections, issue 14): every
    /// participant's publish and subscribe connections and WHEP viewers of VP8 media are
    /// carried there. It binds the first of `udp_addrs`' addresses on
    /// `plane_port`; a wildcard address needs `announce_ip` (the plane names one address to
    /// clients), else the plane stays off. Default on.
    pub plane: bool,
    /// The media plane's UDP port; 0: the first of `port_range` when one is set (connections
    /// of their own take the others), else any free one.
    pub plane_port: u16,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            udp_addrs: vec!["127.0.0.1:0".to_owned()],
            port_range: None,
            announce_ip: None,
            plane: true,
            plane_port: 0,
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
