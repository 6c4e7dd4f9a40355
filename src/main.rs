//! The `gavel` binary: parses the command line, sets up logging and runs one command (the
//! command bodies are in `commands`).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use gavel::cli::{
    ApikeyAction, AuditCommand, BenchKind, Cli, Command, KeysAction, ModelAction, RecordingAction,
    VerifyKind,
};

mod bench;
mod commands;

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
    use commands::{keys, media, serve, verify};
    let config = cli.load_config()?;
    match cli.command {
        Command::Serve { .. } => serve::serve(config).await,
        Command::Demo {
            server_url,
            language,
        } => serve::demo(config, server_url, language).await,
        Command::Apikey {
            action: ApikeyAction::Create { name },
        } => keys::apikey_create(config, name).await,
        Command::Keys {
            action: KeysAction::Public,
        } => keys::keys_public(config),
        Command::Keys {
            action: KeysAction::Rotate,
        } => keys::keys_rotate(config).await,
        Command::Bench {
            what: BenchKind::Asr(args),
        } => media::bench_asr(config, args).await,
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
                    pin,
                    plane,
                    whep,
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
                pin,
                plane,
                whep,
            })
            .await?;
            commands::out(&summary);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what:
                BenchKind::Rtsp {
                    devices,
                    transcode,
                    duration,
                    pin_server,
                    json,
                },
        } => {
            let summary = bench::rtsp::run(bench::rtsp::RtspBench {
                devices,
                transcode,
                duration,
                pin: pin_server,
                json,
            })
            .await?;
            commands::out(&summary);
            Ok(ExitCode::SUCCESS)
        }
        Command::Transcribe {
            file,
            model,
            language,
            threads,
        } => media::transcribe(config, file, model, language, threads).await,
        Command::Model {
            action:
                ModelAction::Import {
                    ct2_dir,
                    out_file,
                    f16,
                },
        } => media::model_import(ct2_dir, out_file, !f16).await,
        Command::Recording {
            action: RecordingAction::Compose { hearing_id },
        } => media::recording_compose(config, hearing_id).await,
        Command::Verify {
            what: VerifyKind::Recording { dir },
        } => verify::verify_recording(config, dir),
        Command::Verify {
            what: VerifyKind::Transcript(args),
        } => verify::verify_transcript(config, args),
        Command::Verify {
            what: VerifyKind::Agreement(args),
        } => verify::verify_agreement(config, args),
        Command::Audit {
            action: AuditCommand::Verify { checkpoints },
        } => verify::audit_verify(config, checkpoints).await,
    }
}
