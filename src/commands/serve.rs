//! `gavel serve` and `gavel demo`: the server, and a hearing to try it with.

use std::process::ExitCode;

use anyhow::Context;
use gavel::app::{Server, open};
use gavel::config::Config;
use tokio::signal::unix::{SignalKind, signal};

use super::out;

/// `gavel serve`: runs the server until SIGTERM or Ctrl-C, then shuts it down gracefully.
pub(crate) async fn serve(config: Config) -> anyhow::Result<ExitCode> {
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
    Ok(ExitCode::SUCCESS)
}

/// `gavel demo`: a demo hearing and one join link per role, for the server at `server_url`
/// (or the one last started on this data directory).
pub(crate) async fn demo(
    config: Config,
    server_url: Option<String>,
    language: Option<String>,
) -> anyhow::Result<ExitCode> {
    let language = gavel::domain::validate::optional_language("--language", language.as_deref())?;
    let base = gavel::demo::base_url(&config, server_url.as_deref())?;
    let (db, keys) = open(&config).await?;
    let links = gavel::demo::create(&db, &keys, &config, &base, language.as_deref()).await?;
    match &language {
        Some(l) => out(&format!(
            "Demo hearing created, held in {l:?}. Join links (one per role):"
        )),
        None => out("Demo hearing created. Join links (one per role):"),
    }
    for l in links {
        out(&format!(
            "  {:<12} {:<24} {}",
            l.role.as_str(),
            l.name,
            l.url
        ));
    }
    Ok(ExitCode::SUCCESS)
}
