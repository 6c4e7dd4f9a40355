//! The offline checks an examiner runs: a recording, a signed transcript, the audit log.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use gavel::config::Config;

use gavel::audit::AuditVerdict;
use gavel::cli::SignedFileArgs;

use super::{key_of, out, read_limited};

/// `gavel verify recording`: every file of a hearing's recording against its manifest, the
/// hash chain and the seal.
pub(crate) fn verify_recording(config: Config, dir: PathBuf) -> anyhow::Result<ExitCode> {
    // The seal is checked against this server's keys (never against a key the
    // recording carries itself).
    let keys = gavel::auth::keyring::KeyRing::public_keys(&config.keys_dir())?;
    let verdict = gavel::recording::verify_dir(&dir, key_of(&keys))
        .with_context(|| format!("reading the recording in {}", dir.display()))?;
    // Files beside the record that it does not list do not fail it, but an examiner
    // must know they are there.
    for name in
        gavel::recording::unlisted(&dir).with_context(|| format!("listing {}", dir.display()))?
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
    Ok(ExitCode::SUCCESS)
}

/// `gavel verify transcript`: a signed written record, offline.
pub(crate) fn verify_transcript(config: Config, args: SignedFileArgs) -> anyhow::Result<ExitCode> {
    verify_signed::<gavel_recordings::written::Document>(config, args, |v| {
        out(&format!(
            "transcript intact: hearing {}, revision {}, {} lines, sha256 {}",
            v.document.hearing.id,
            v.document.revision,
            v.document.lines.len(),
            v.sha256
        ));
    })
}

/// `gavel verify agreement`: a signed mediation agreement, offline, with its terms.
pub(crate) fn verify_agreement(config: Config, args: SignedFileArgs) -> anyhow::Result<ExitCode> {
    verify_signed::<gavel_recordings::written::agreement::Agreement>(config, args, |v| {
        let a = &v.document;
        out(&format!(
            "agreement intact: hearing {}, version {}, drafted by {} ({}) at {}, sha256 {}",
            a.hearing.id,
            a.version,
            a.drafted_by.name,
            a.drafted_by.role,
            gavel::clock::rfc3339(a.drafted_at_ms),
            v.sha256
        ));
        out("terms:");
        for line in a.text.lines() {
            out(&format!("  {line}"));
        }
    })
}

/// Checks a signed file of a `D` against the trusted keys, says what it is (`describe`), who
/// decided what, and whether it is sealed complete.
fn verify_signed<D: gavel_recordings::written::Signable>(
    config: Config,
    args: SignedFileArgs,
    describe: impl Fn(&gavel_recordings::written::Verified<D>),
) -> anyhow::Result<ExitCode> {
    let keys = match &args.keys {
        Some(f) => {
            let text = read_limited(f, 1 << 20)
                .with_context(|| format!("reading the keys in {}", f.display()))?;
            let map: std::collections::BTreeMap<String, String> =
                serde_json::from_str(&text).context("the keys file (gavel keys public)")?;
            map.into_iter()
                .map(|(kid, pk)| Ok((kid, hex::decode(pk)?)))
                .collect::<anyhow::Result<Vec<_>>>()
                .context("a key in the keys file is not hex")?
        }
        None => gavel::auth::keyring::KeyRing::public_keys(&config.keys_dir())?,
    };
    let file = &args.file;
    let text =
        read_limited(file, 64 << 20).with_context(|| format!("reading {}", file.display()))?;
    match gavel_recordings::written::verify_as::<D>(&text, key_of(&keys)) {
        Ok(v) => {
            describe(&v);
            let who = |p: &gavel_recordings::written::Person| format!("{} ({})", p.name, p.role);
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
            if args.complete && !v.complete {
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
    Ok(ExitCode::SUCCESS)
}

/// `gavel audit verify`: the audit log's hash chain, held to its signed checkpoints.
pub(crate) async fn audit_verify(
    config: Config,
    checkpoints: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
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
        .unwrap_or_else(|| config.server.data_dir.join(gavel::checkpoint::FILE));
    let text = match std::fs::metadata(&file) {
        Ok(m) if m.len() > gavel::checkpoint::MAX_FILE => {
            anyhow::bail!("{} is larger than any checkpoint file", file.display())
        }
        Ok(_) => {
            std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?
        }
        // The copy asked for must be there; the server's own may not exist yet.
        Err(e) if checkpoints.is_some() => {
            return Err(e).with_context(|| format!("reading {}", file.display()));
        }
        Err(_) => String::new(),
    };
    let keys = gavel::auth::keyring::KeyRing::public_keys(&config.keys_dir())?;
    let hashes = gavel::audit::hashes(&db).await?;
    let (read, findings) = gavel::checkpoint::check(&text, &hashes, key_of(&keys));
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
    Ok(ExitCode::SUCCESS)
}
