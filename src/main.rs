//! The `gavel` binary: parses the command line, sets up logging and runs one command.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use gavel::app::{Server, open};
use gavel::audit::AuditVerdict;
use gavel::cli::{
    ApikeyAction, AuditAction, BenchKind, Cli, Command, KeysAction, ModelAction, RecordingAction,
    VerifyKind,
};

mod bench;
use gavel::clock::now_ms;
use tokio::signal::unix::{SignalKind, signal};

/// `hh:mm:ss.mmm` for a time in milliseconds.
fn clock(ms: i64) -> String {
    let ms = ms.max(0);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

fn out(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GAVEL_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.load_config()?;
    match cli.command {
        Command::Serve { .. } => {
            let configured_url = config.server.public_url.clone();
            let data_dir = config.server.data_dir.clone();
            // Install the handlers before anything can send a signal that should be graceful.
            let mut term = signal(SignalKind::terminate())?;
            let mut int = signal(SignalKind::interrupt())?;
            let server = Server::start(config).await?;
            let url = configured_url
                .unwrap_or_else(|| format!("https://localhost:{}", server.local_addr().port()));
            // `gavel demo` on the same data directory prints links for this address.
            if let Err(e) = gavel::demo::note_server_url(&data_dir, &url) {
                tracing::warn!(error = %e, "the server's address was not noted for `gavel demo`");
            }
            out(&format!(
                "Gavel is running: open {url}/ (health: {url}/healthz, API: {url}/api/v1/openapi.json)"
            ));
            out("Create join links with `gavel demo`; stop with Ctrl-C.");
            server
                .run_until(async {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                    tracing::info!("shutdown requested");
                })
                .await
                .context("the server stopped")?;
        }
        Command::Apikey {
            action: ApikeyAction::Create { name },
        } => {
            let name = gavel::domain::validate::text("name", &name, 100)?;
            let (db, _) = open(&config).await?;
            let key = gavel::auth::apikey::create(&db, &name, now_ms())
                .await
                .context("creating the API key (is the name already used?)")?;
            out(&key);
        }
        Command::Keys {
            action: KeysAction::Public,
        } => {
            let keys =
                gavel::auth::keyring::KeyRing::public_keys(&config.server.data_dir.join("keys"))?;
            let map: serde_json::Map<String, serde_json::Value> = keys
                .into_iter()
                .map(|(kid, pk)| (kid, hex::encode(pk).into()))
                .collect();
            out(&serde_json::Value::Object(map).to_string());
        }
        Command::Keys {
            action: KeysAction::Rotate,
        } => {
            let (db, _) = open(&config).await?;
            let dir = config.server.data_dir.join("keys");
            let kid = gavel::auth::keyring::KeyRing::rotate(&dir, now_ms())?;
            let mut w = db.begin_write().await?;
            gavel::audit::append(
                &mut w.tx,
                now_ms(),
                &gavel::auth::Actor::Cli,
                gavel::audit::AuditAction::SigningKeyRotate,
                &format!("signing_key:{kid}"),
                serde_json::json!({ "purpose": "join_link" }),
            )
            .await?;
            w.commit().await?;
            out(&format!(
                "new join-link signing key {kid}: accepted now, used for new links after a restart"
            ));
        }
        Command::Bench {
            what:
                BenchKind::Asr {
                    model,
                    threads,
                    speech,
                },
        } => {
            let t = &config.transcription;
            let model = model.unwrap_or_else(|| t.model.clone());
            let threads = threads.unwrap_or(t.threads);
            let report =
                tokio::task::spawn_blocking(move || bench::asr::run(&model, threads, speech))
                    .await??;
            out(&report);
        }
        Command::Bench {
            what:
                BenchKind::Sfu {
                    publishers,
                    subscribers,
                    duration,
                    json,
                    server,
                    api_key,
                    ca_cert,
                    clip,
                    record,
                },
        } => {
            let server = match (server, api_key, ca_cert) {
                (Some(url), Some(key), Some(ca)) => Some((url, key, ca)),
                _ => None,
            };
            let summary = bench::run(bench::SfuBench {
                publishers,
                subscribers,
                duration,
                json,
                server,
                clip,
                record,
            })
            .await?;
            out(&summary);
        }
        Command::Demo { ref server_url } => {
            let base = gavel::demo::base_url(&config, server_url.as_deref())?;
            let (db, keys) = open(&config).await?;
            let links = gavel::demo::create(&db, &keys, &config, &base).await?;
            out("Demo hearing created. Join links (one per role):");
            for l in links {
                out(&format!(
                    "  {:<12} {:<24} {}",
                    l.role.as_str(),
                    l.name,
                    l.url
                ));
            }
        }
        Command::Transcribe {
            file,
            model,
            language,
            threads,
        } => {
            let t = &config.transcription;
            let model = model.unwrap_or_else(|| t.model.clone());
            let language = language.unwrap_or_else(|| t.language.clone());
            let threads = threads.unwrap_or(t.threads);
            let segments = tokio::task::spawn_blocking(move || {
                let pcm = gavel_media_pipelines::audio::decode_16k_mono(
                    &file,
                    std::time::Duration::from_secs(4 * 3600),
                )
                .with_context(|| format!("reading {}", file.display()))?;
                let whisper =
                    gavel::transcribe::whisper::Transcriber::load(&model, &language, threads)?;
                anyhow::Ok(whisper.transcribe(&pcm)?)
            })
            .await??;
            for s in segments {
                out(&format!(
                    "[{} --> {}] {} (confidence {:.2})",
                    clock(s.start_ms),
                    clock(s.end_ms),
                    s.text,
                    s.confidence
                ));
            }
        }
        Command::Model {
            action:
                ModelAction::Import {
                    ct2_dir,
                    out_file,
                    q8,
                },
        } => {
            let bar = indicatif::ProgressBar::new(1000);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "importing {bar:40} {percent:>3}% (elapsed {elapsed})",
                )
                .context("progress bar template")?,
            );
            let wtype = if q8 {
                gavel::transcribe::model::WeightType::Q8_0
            } else {
                gavel::transcribe::model::WeightType::F16
            };
            let shown = bar.clone();
            let imported = tokio::task::spawn_blocking(move || {
                gavel::transcribe::model::import(&ct2_dir, &out_file, wtype, |p| {
                    shown.set_position((p * 1000.0) as u64);
                })
                .map(|i| (i, out_file))
            })
            .await?;
            bar.finish_and_clear();
            let (i, out_file) = imported.context("importing the model")?;
            let h = i.hparams;
            out(&format!(
                "wrote {} ({} bytes, {} tensors): {} audio / {} text layers, width {}, {} mels, vocabulary {}",
                out_file.display(),
                i.bytes,
                i.tensors,
                h.n_audio_layer,
                h.n_text_layer,
                h.n_state,
                h.n_mels,
                h.n_vocab
            ));
        }
        Command::Recording {
            action: RecordingAction::Compose { hearing_id },
        } => {
            let (db, keys) = open(&config).await?;
            let keys = std::sync::Arc::new(gavel::auth::keyring::KeyStore::new(
                config.server.data_dir.join("keys"),
                keys,
            ));
            let index = gavel::recording::index::Index {
                db,
                outbox: std::sync::Arc::new(tokio::sync::Notify::new()),
            };
            let root = config
                .recording
                .dir
                .clone()
                .unwrap_or_else(|| config.server.data_dir.join("recordings"));
            let composer = gavel::recording::compose::Composer::new(index, root, keys);
            let bar = indicatif::ProgressBar::new(1000);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "composing {bar:40} {percent:>3}% (elapsed {elapsed}, left {eta})",
                )
                .context("progress bar template")?,
            );
            let shown = bar.clone();
            let entry = composer
                .compose(&hearing_id, move |p| {
                    shown.set_position((p * 1000.0) as u64)
                })
                .await;
            bar.finish_and_clear();
            let entry = entry.with_context(|| format!("composing hearing {hearing_id}"))?;
            out(&format!(
                "composite {} ({} s of hearing), sha256 {}; added to the manifest and sealed",
                entry.segment.file,
                (entry.segment.end_ms - entry.segment.start_ms) / 1000,
                entry.segment.sha256
            ));
        }
        Command::Verify {
            what: VerifyKind::Recording { dir },
        } => {
            // The seal is checked against this server's keys (never against a key the
            // recording carries itself).
            let keys =
                gavel::auth::keyring::KeyRing::public_keys(&config.server.data_dir.join("keys"))?;
            let verdict = gavel::recording::verify_dir(&dir, key_of(&keys))
                .with_context(|| format!("reading the recording in {}", dir.display()))?;
            // Files beside the record that it does not list do not fail it, but an examiner
            // must know they are there.
            for name in gavel::recording::unlisted(&dir)
                .with_context(|| format!("listing {}", dir.display()))?
            {
                out(&format!(
                    "WARNING: {name} is in the directory but not in the manifest (not part of the verified record)"
                ));
            }
            match verdict {
                gavel::recording::Verdict::Intact { segments, head } => {
                    out(&format!(
                        "recording intact: {segments} segments, head {head}"
                    ));
                }
                gavel::recording::Verdict::Broken(failures) => {
                    for f in &failures {
                        out(&format!("FAILED: {f}"));
                    }
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Verify {
            what:
                VerifyKind::Transcript {
                    file,
                    keys,
                    complete,
                },
        } => {
            let keys = match keys {
                Some(f) => {
                    let text = read_limited(&f, 1 << 20)
                        .with_context(|| format!("reading the keys in {}", f.display()))?;
                    let map: std::collections::BTreeMap<String, String> =
                        serde_json::from_str(&text).context("the keys file (gavel keys public)")?;
                    map.into_iter()
                        .map(|(kid, pk)| Ok((kid, hex::decode(pk)?)))
                        .collect::<anyhow::Result<Vec<_>>>()
                        .context("a key in the keys file is not hex")?
                }
                None => gavel::auth::keyring::KeyRing::public_keys(
                    &config.server.data_dir.join("keys"),
                )?,
            };
            let text = read_limited(&file, 64 << 20)
                .with_context(|| format!("reading {}", file.display()))?;
            match gavel_recordings::written::verify(&text, key_of(&keys)) {
                Ok(v) => {
                    let who =
                        |p: &gavel_recordings::written::Person| format!("{} ({})", p.name, p.role);
                    out(&format!(
                        "transcript intact: hearing {}, revision {}, {} lines, sha256 {}",
                        v.document.hearing.id,
                        v.document.revision,
                        v.document.lines.len(),
                        v.sha256
                    ));
                    for p in &v.signed {
                        out(&format!("signed: {}", who(p)));
                    }
                    for (p, reason) in &v.refused {
                        out(&format!("refused: {}: {reason}", who(p)));
                    }
                    for p in &v.awaiting {
                        out(&format!("not yet decided: {}", who(p)));
                    }
                    out(if v.complete {
                        "status: complete, sealed by the server when the last signer decided"
                    } else {
                        "status: INCOMPLETE: not every signer's decision is sealed into this file"
                    });
                    if complete && !v.complete {
                        return Ok(ExitCode::FAILURE);
                    }
                }
                Err(failures) => {
                    for f in &failures {
                        out(&format!("FAILED: {f}"));
                    }
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Audit {
            action: AuditAction::Verify { ref checkpoints },
        } => {
            let url = match &config.database.url {
                Some(u) => u.clone(),
                None => {
                    let file = config.server.data_dir.join("gavel.db");
                    anyhow::ensure!(file.exists(), "no Gavel database at {}", file.display());
                    format!("sqlite://{}?mode=ro", file.display()).into()
                }
            };
            let db = gavel::db::Db::connect_read_only(&url).await?;
            match gavel::audit::verify(&db).await? {
                AuditVerdict::Intact { entries, head } => {
                    out(&format!("audit log intact: {entries} entries, head {head}"));
                }
                AuditVerdict::Broken { seq, reason } => {
                    out(&format!("audit log BROKEN at entry {seq}: {reason}"));
                    return Ok(ExitCode::FAILURE);
                }
            }
            let file = checkpoints
                .clone()
                .unwrap_or_else(|| config.server.data_dir.join(gavel::audit::checkpoint::FILE));
            let text = match std::fs::metadata(&file) {
                Ok(m) if m.len() > gavel::audit::checkpoint::MAX_FILE => {
                    anyhow::bail!("{} is larger than any checkpoint file", file.display())
                }
                Ok(_) => std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?,
                // The copy asked for must be there; the server's own may not exist yet.
                Err(e) if checkpoints.is_some() => {
                    return Err(e).with_context(|| format!("reading {}", file.display()));
                }
                Err(_) => String::new(),
            };
            let keys =
                gavel::auth::keyring::KeyRing::public_keys(&config.server.data_dir.join("keys"))?;
            let hashes = gavel::audit::hashes(&db).await?;
            let (read, findings) = gavel::audit::checkpoint::check(&text, &hashes, key_of(&keys));
            match read.last() {
                Some(cp) => out(&format!(
                    "held to {} signed checkpoint(s) in {}; the latest, of {}, signed {} entries",
                    read.len(),
                    file.display(),
                    gavel::clock::rfc3339(cp.at_ms),
                    cp.entries
                )),
                None => out(&format!(
                    "WARNING: no signed checkpoint in {}: entries cut off the end of the log would not show",
                    file.display()
                )),
            }
            if !findings.is_empty() {
                for f in &findings {
                    out(&format!("audit log {f}"));
                }
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A text file of at most `max` bytes (a signed transcript is evidence handed in by someone:
/// it is read whole, so its size is checked first).
fn read_limited(path: &std::path::Path, max: u64) -> anyhow::Result<String> {
    let len = std::fs::metadata(path)?.len();
    anyhow::ensure!(
        len <= max,
        "the file is {len} bytes; at most {max} are read"
    );
    Ok(std::fs::read_to_string(path)?)
}

/// Looks up a public key by key id in `keys` (for the offline verifiers).
fn key_of(keys: &[(String, Vec<u8>)]) -> impl Fn(&str) -> Option<Vec<u8>> + '_ {
    |kid| {
        keys.iter()
            .find(|(k, _)| k == kid)
            .map(|(_, pk)| pk.clone())
    }
}
