//! TLS for the HTTPS listener: the operator's certificate, or a self-signed one generated into
//! `<data_dir>/tls/` on first start (valid for localhost and the loopback addresses) so that
//! `make run` serves HTTPS with no set-up. The key file is written with mode 0600.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::config::ServerConfig;

/// Certificate and key could not be found, made or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Filesystem failure.
    #[error("TLS file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("generating the self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// Paths of the PEM certificate chain and key to serve.
pub fn ensure_certificate(server: &ServerConfig) -> Result<(PathBuf, PathBuf), TlsError> {
    if let (Some(c), Some(k)) = (&server.tls_cert_file, &server.tls_key_file) {
        return Ok((c.clone(), k.clone()));
    }
    let dir = server.data_dir.join("tls");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Io { path, source }
    };
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let generated = rcgen::generate_simple_self_signed(names)?;
    write_new(
        &key,
        generated.signing_key.serialize_pem().as_bytes(),
        0o600,
    )
    .map_err(io(&key))?;
    write_new(&cert, generated.cert.pem().as_bytes(), 0o644).map_err(io(&cert))?;
    tracing::info!(path = %cert.display(), "generated a self-signed TLS certificate");
    Ok((cert, key))
}

/// Writes a whole file via a temporary name, so a crash leaves either nothing or all of it.
fn write_new(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path)
}
