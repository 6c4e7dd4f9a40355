//! `gavel apikey ...` and `gavel keys ...`: the credentials of the platform and of join links.

use std::process::ExitCode;

use anyhow::Context;
use gavel::app::open;
use gavel::clock::now_ms;
use gavel::config::Config;

use super::out;

/// `gavel apikey create`: a platform API key, printed once.
pub(crate) async fn apikey_create(config: Config, name: String) -> anyhow::Result<ExitCode> {
    let name = gavel::domain::validate::text("name", &name, 100)?;
    let (db, _) = open(&config).await?;
    let key = gavel::auth::apikey::create(&db, &name, now_ms())
        .await
        .context("creating the API key (is the name already used?)")?;
    out(&key);
    Ok(ExitCode::SUCCESS)
}

/// `gavel keys public`: the join-link and seal verification keys, as JSON.
pub(crate) fn keys_public(config: Config) -> anyhow::Result<ExitCode> {
    let keys = gavel::auth::keyring::KeyRing::public_keys(&config.keys_dir())?;
    let map: serde_json::Map<String, serde_json::Value> = keys
        .into_iter()
        .map(|(kid, pk)| (kid, hex::encode(pk).into()))
        .collect();
    out(&serde_json::Value::Object(map).to_string());
    Ok(ExitCode::SUCCESS)
}

/// `gavel keys rotate`: a new signing key, audited.
pub(crate) async fn keys_rotate(config: Config) -> anyhow::Result<ExitCode> {
    let (db, _) = open(&config).await?;
    let dir = config.keys_dir();
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
    Ok(ExitCode::SUCCESS)
}
