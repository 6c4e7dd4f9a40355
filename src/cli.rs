//! The command line: `gavel serve`, `demo`, `apikey create`, `keys public|rotate`, `transcribe`,
//! `model import`, `recording compose`, `verify recording|transcript`, `audit verify` and
//! `bench asr|sfu` (their bodies are in the binary's `commands` and `bench`).
//!
//! Flags override the configuration file and `GAVEL__SECTION__KEY` variables; each flag can
//! also be set as the `GAVEL_...` variable named in its help.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError};

/// Gavel: real-time media server for online court hearings and mediation.
#[derive(Debug, Parser)]
#[command(name = "gavel", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file (optional; every key has a default).
    #[arg(long, global = true, env = "GAVEL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory: database, TLS certificate, signing keys [default: ~/.local/share/gavel].
    #[arg(long, global = true, env = "GAVEL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTPS server (case API, join page) until SIGTERM or Ctrl-C.
    Serve {
        /// Address and port to listen on [default: 0.0.0.0:8443].
        #[arg(long, env = "GAVEL_LISTEN", value_name = "ADDR:PORT")]
        listen: Option<SocketAddr>,
    },
    /// Manage the court platform's API keys.
    Apikey {
        /// The action.
        #[command(subcommand)]
        action: ApikeyAction,
    },
    /// Manage the keys that sign join links.
    Keys {
        /// The action.
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Create a demo docket and hearing and print one join link per role. The links point at
    /// `--server-url`, else the configured `server.public_url`, else the server last started on
    /// this data directory (it notes its address there), else the configured listen port.
    Demo {
        /// The server's address as participants reach it, e.g. `https://hearings.court.example`.
        #[arg(long, value_name = "URL")]
        server_url: Option<String>,
        /// The language the demo hearing is held in (ISO 639-1), e.g. `zh` for a Mandarin
        /// hearing captioned in simplified characters [default: `[transcription] language`].
        #[arg(long, value_name = "CODE")]
        language: Option<String>,
    },
    /// Check the audit log.
    Audit {
        /// The action.
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Check integrity.
    Verify {
        /// What to check.
        #[command(subcommand)]
        what: VerifyKind,
    },
    /// Transcribe an audio file recorded outside a hearing (any format GStreamer decodes):
    /// one line per segment with its time and confidence.
    Transcribe {
        /// The audio file.
        file: PathBuf,
        /// The ggml model [default: `[transcription] model`].
        #[arg(long)]
        model: Option<PathBuf>,
        /// The language spoken [default: `[transcription] language`].
        #[arg(long)]
        language: Option<String>,
        /// Threads [default: `[transcription] threads`].
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Whisper models for transcription.
    Model {
        /// What to do.
        #[command(subcommand)]
        action: ModelAction,
    },
    /// Work on hearings' recordings.
    Recording {
        /// What to do.
        #[command(subcommand)]
        action: RecordingAction,
    },
    /// Measure performance.
    Bench {
        /// What to measure.
        #[command(subcommand)]
        what: BenchKind,
    },
}

/// `gavel verify ...`
#[derive(Debug, Subcommand)]
pub enum VerifyKind {
    /// Check a hearing's recording directory: every file against the manifest, and the
    /// manifest's hash chain. Exits 1 and names every failure.
    Recording {
        /// The hearing's recording directory (holding `manifest.jsonl`).
        dir: PathBuf,
    },
    /// Check a signed transcript file (from the API's `.../signed`): the document against its
    /// SHA-256 and every decision's Ed25519 signature against this server's keys, offline.
    /// Exits 0 only when all verify; says who has signed, refused or not yet decided.
    Transcript(SignedFileArgs),
    /// Check a signed mediation agreement file (from the API's `.../agreements/{id}/signed`)
    /// the same way, offline, and print its terms. Exits 0 only when all verify.
    Agreement(SignedFileArgs),
}

/// What `gavel verify transcript` and `gavel verify agreement` take.
#[derive(Debug, Clone, clap::Args)]
pub struct SignedFileArgs {
    /// The signed file (JSON).
    pub file: PathBuf,
    /// Public keys to trust, as printed by `gavel keys public` [default: this server's keys
    /// in the data directory].
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
    /// Also fail (exit 1) unless the server sealed the document as complete: every signer's
    /// decision is in the file and none can have been left out.
    #[arg(long)]
    pub complete: bool,
}

/// `gavel bench asr`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct AsrBenchArgs {
    /// The ggml model [default: the configured one for the language].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The language spoken (ISO 639-1) [default: `[transcription] language`]. Errors are
    /// counted per character for Chinese (a CER, punctuation ignored), per word otherwise.
    #[arg(long)]
    pub language: Option<String>,
    /// Threads [default: `[transcription] threads`].
    #[arg(long)]
    pub threads: Option<usize>,
    /// The text Whisper is told came before each utterance ("" for none) [default:
    /// `[transcription] prompt`, else the language's own].
    #[arg(long)]
    pub prompt: Option<String>,
    /// The directory of WAV files with a `.txt` reference beside each (default:
    /// `$GAVEL_MEDIA_DIR/speech` or `~/.cache/gavel/media/speech`; `speech-zh` for Chinese).
    #[arg(long)]
    pub speech: Option<PathBuf>,
    /// How to decode (default: the server's own choices).
    #[command(flatten)]
    pub tuning: AsrTuning,
    /// Speakers talking at once, each in their own hearing, through the live path: reports
    /// whether captions keep up (gaps, latency p50/p95) with that many.
    #[arg(long, default_value_t = 1)]
    pub concurrent: usize,
    /// Transcription workers of the live path [default: `[transcription] workers`].
    #[arg(long)]
    pub workers: Option<usize>,
}

/// Decoding choices `gavel bench asr` can weigh against the server's own.
#[derive(Debug, Clone, clap::Args)]
pub struct AsrTuning {
    /// Beams of the search (1: greedy).
    #[arg(long)]
    pub beam: Option<u8>,
    /// The encoder sees each utterance plus this margin (ms) instead of Whisper's fixed 30 s.
    #[arg(long, conflicts_with = "full_window")]
    pub window_margin_ms: Option<u32>,
    /// The encoder sees Whisper's fixed 30 s window, however short the utterance.
    #[arg(long)]
    pub full_window: bool,
    /// whisper.cpp's flash attention (true or false).
    #[arg(long)]
    pub flash_attn: Option<bool>,

    /// Only the sentences, not the live path.
    #[arg(long)]
    pub offline: bool,
}

/// `gavel bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchKind {
    /// Measure transcription: word error rate and real-time factor of the model on the test
    /// sentences (spoken by espeak-ng into `~/.cache/gavel/media/speech` by `make setup`);
    /// ends with a `key=value` line.
    Asr(AsrBenchArgs),
    /// Load the SFU: P publishers (a pre-encoded Opus + 720p VP8 clip, about 1.1 Mbit/s), each
    /// with S subscribers in its own hearing, through a server started on loopback; prints one
    /// `key=value` summary line.
    Sfu {
        /// Publishers (one hearing each).
        #[arg(long, short = 'p', default_value_t = 2)]
        publishers: usize,
        /// Subscribers per publisher.
        #[arg(long, short = 's', default_value_t = 4)]
        subscribers: usize,
        /// Measured seconds, after a warm-up.
        #[arg(long, short = 'd', default_value_t = 10)]
        duration: u64,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Load this running server (`https://host:port`) instead of starting one; needs
        /// `--api-key` and `--ca-cert`. Server CPU and memory are then not reported.
        #[arg(long, requires_all = ["api_key", "ca_cert"])]
        server: Option<String>,
        /// A platform API key of that server.
        #[arg(long, env = "GAVEL_BENCH_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// PEM file with the certificate (or CA) that server presents.
        #[arg(long)]
        ca_cert: Option<PathBuf>,
        /// The directory of the pre-encoded clip (default: where `make setup` makes it,
        /// `$GAVEL_MEDIA_DIR/bench-720p` or `~/.cache/gavel/media/bench-720p`).
        #[arg(long)]
        clip: Option<PathBuf>,
        /// Load trials, which are recorded (every publisher's audio and video), instead of
        /// pre-trial conferences, which are not: run with and without to see what recording
        /// costs (`server_cpu_pct`, `recorded_tracks`).
        #[arg(long)]
        record: bool,
        /// Pin the server (every thread) to one CPU and this load generator to another,
        /// `SERVER,GENERATOR` (`--pin` alone: `0,1`). Unpinned, the two share the cores and
        /// the figures mostly measure their contention.
        #[arg(long, value_name = "SERVER,GENERATOR", num_args = 0..=1,
              default_missing_value = "0,1", value_parser = parse_pin)]
        pin: Option<(usize, usize)>,
        /// Forward through the sans-IO media plane (one thread, one shared UDP socket,
        /// ICE-lite, batched sends) started in this process, with no rooms or signaling: the
        /// transport the rooms will move to, measured alone. The server's CPU is the plane
        /// thread's; memory is not reported.
        #[arg(long, conflicts_with_all = ["server", "record"])]
        plane: bool,
        /// Subscribers watch each publisher over WHEP (its camera and microphone, as a
        /// monitoring wall does) instead of joining its hearing: the server's media plane
        /// carries them, or with `GAVEL__MEDIA__PLANE=false` in the environment connections of
        /// their own. At most 64 viewers in all (the server's WHEP session limit).
        #[arg(long, conflicts_with = "plane")]
        whep: bool,
    },
    /// Pull courtroom cameras: N devices of 1080p30 H.264 at 4 Mbit/s from a real RTSP server
    /// into one hearing with one subscriber, through a server started on loopback; prints the
    /// server's CPU per device and (pass-through) the latency it adds, p50/p95. Run it pinned:
    /// `taskset -c 1 gavel bench rtsp --pin-server 0`.
    Rtsp {
        /// Devices at once.
        #[arg(long, short = 'n', default_value_t = 1)]
        devices: usize,
        /// Send high profile with B-frames, which the server transcodes, instead of constrained
        /// baseline, which it passes through.
        #[arg(long)]
        transcode: bool,
        /// Measured seconds (at most 40), after a warm-up.
        #[arg(long, short = 'd', default_value_t = 10)]
        duration: u64,
        /// Pin the server (every thread) to this CPU.
        #[arg(long)]
        pin_server: Option<usize>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `gavel model ...`
#[derive(Debug, Subcommand)]
pub enum ModelAction {
    /// Convert a Whisper model in CTranslate2 format (a directory with `model.bin` and
    /// `vocabulary.txt`, as `scripts/setup-model.sh` unpacks it) into the ggml file
    /// whisper.cpp loads. Shows progress; never leaves a partial file.
    Import {
        /// The CTranslate2 model directory.
        ct2_dir: PathBuf,
        /// The ggml file to write.
        out_file: PathBuf,
        /// Store the weight matrices as 16-bit floats, as the source has them, instead of
        /// 8-bit blocks (q8_0), which are about 45 % smaller and faster with the same accuracy.
        #[arg(long)]
        f16: bool,
    },
}

/// `gavel recording ...`
#[derive(Debug, Subcommand)]
pub enum RecordingAction {
    /// Render the composite of an ended hearing (one file of the whole hearing: a grid of
    /// every camera and screen with names and roles, all microphones mixed, the hearing's
    /// clock burned in), add it to the manifest and seal it again. Shows progress.
    Compose {
        /// The hearing's id.
        hearing_id: String,
    },
}

/// `gavel apikey ...`
#[derive(Debug, Subcommand)]
pub enum ApikeyAction {
    /// Create a key and print it (shown once; only its hash is stored).
    Create {
        /// A name for the key, e.g. the calling system; recorded in the audit log.
        #[arg(long)]
        name: String,
    },
}

/// `gavel keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Add a new join-link signing key; it signs after the next server start, and links
    /// signed by older keys stay valid until they expire.
    Rotate,
    /// Print the server's public keys as JSON (`{"<kid>": "<hex>"}`), for whoever verifies
    /// the server's seals and signed transcripts elsewhere (`gavel verify transcript --keys`).
    Public,
}

/// `gavel audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain and hold it to the server's signed checkpoints; exits 1 and names
    /// the first broken entry, a cut end or a rewritten chain.
    Verify {
        /// The checkpoints to hold the log to (default: `audit-checkpoints.jsonl` in the data
        /// directory; give the platform's copy, from the `audit.checkpoint` webhooks, to check
        /// against what the server cannot rewrite).
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<std::path::PathBuf>,
    },
}

impl Cli {
    /// The configuration: defaults, file, environment, then these flags.
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        let mut c = Config::load(self.config.as_deref())?;
        if let Some(d) = &self.data_dir {
            c.server.data_dir = d.clone();
        }
        if let Command::Serve { listen: Some(addr) } = &self.command {
            c.server.listen = *addr;
        }
        c.validate()?;
        c.resolve(None);
        Ok(c)
    }
}

/// `--pin SERVER,GENERATOR`: two different CPUs.
fn parse_pin(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s
        .split_once(',')
        .ok_or("two CPUs, SERVER,GENERATOR (e.g. 0,1)")?;
    let cpu = |x: &str| {
        x.trim()
            .parse::<usize>()
            .map_err(|_| format!("{x:?} is not a CPU number"))
    };
    let (a, b) = (cpu(a)?, cpu(b)?);
    if a == b {
        return Err("the server and the generator need different CPUs".into());
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::parse_pin;

    #[test]
    fn pinning_names_two_different_cpus() {
        assert_eq!(parse_pin("0,1"), Ok((0, 1)));
        assert_eq!(parse_pin(" 3 , 2"), Ok((3, 2)));
        for bad in ["0", "0,0", "a,1", "1,", ""] {
            assert!(parse_pin(bad).is_err(), "{bad:?}");
        }
    }
}
