//! Certificate pinning for RTSPS devices: a courtroom camera usually presents a certificate no
//! public authority signed, and the platform registers the SHA-256 of the one it must present,
//! or the court's own authority that signed it ([`trust`]).
//!
//! With a pin, `rtspsrc` validates against a trust store with no usable anchor (a certificate
//! whose key was thrown away when it was made), so no chain ever validates on its own and
//! `accept-certificate` is asked about every certificate: it is accepted exactly when its DER
//! hashes to the pin, whoever signed it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gio::prelude::TlsCertificateExt;
use gstreamer as gst;
use gstreamer::prelude::*;

use crate::rtsp::RtspError;

/// A self-signed certificate whose private key no longer exists: trusting only it trusts
/// nothing.
const NO_ANCHOR: &str = include_str!("no-anchor.pem");

/// Set when a device presented a certificate that does not match its pin, or that its
/// authority did not sign.
#[derive(Debug, Clone, Default)]
pub struct PinRefusal(Arc<AtomicBool>);

impl PinRefusal {
    /// Whether a certificate was refused.
    pub fn refused(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The SHA-256 of `der`, lowercase hex: what a pin is.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, der))
}

/// Whether `pem` holds a certificate (an authority to register for a device).
pub fn check_ca(pem: &str) -> Result<(), String> {
    gio::TlsCertificate::from_pem(pem)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A trust store's PEM as a file (GIO reads trust stores from files), named by its hash and
/// complete before anyone reads it.
fn pem_file(pem: &str) -> Result<std::path::PathBuf, String> {
    let path = std::env::temp_dir().join(format!(
        "gavel-trust-{}-{}.pem",
        std::process::id(),
        fingerprint(pem.as_bytes())
    ));
    if !path.exists() {
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tmp = path.with_extension(format!("{}.tmp", WRITES.fetch_add(1, Ordering::Relaxed)));
        std::fs::write(&tmp, pem).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
    }
    Ok(path)
}

/// Makes `rtspsrc` validate against the trust store `store_pem`; a certificate that does not
/// validate is put to `accept` (its DER), and each one refused is noted.
fn guard(
    rtspsrc: &gst::Element,
    store_pem: &str,
    accept: impl Fn(Option<&[u8]>) -> bool + Send + Sync + 'static,
) -> Result<PinRefusal, RtspError> {
    let file = pem_file(store_pem).map_err(|e| RtspError::Gst(format!("trust store: {e}")))?;
    let database = gio::TlsFileDatabase::new(&file)
        .map_err(|e| RtspError::Gst(format!("trust store: {e}")))?;
    rtspsrc.set_property("tls-database", database.upcast::<gio::TlsDatabase>());
    let refusal = PinRefusal::default();
    let flag = refusal.0.clone();
    rtspsrc.connect("accept-certificate", false, move |args| {
        let presented = args
            .get(2)
            .and_then(|v| v.get::<gio::TlsCertificate>().ok())
            .and_then(|c| c.certificate());
        let accepted = accept(presented.as_ref().map(|der| der.as_ref()));
        if !accepted {
            flag.store(true, Ordering::Relaxed);
        }
        Some(accepted.to_value())
    });
    Ok(refusal)
}

/// Makes `rtspsrc` trust only certificates that `ca_pem` (the court's authority) signed, for
/// the device's address (GIO checks the chain, the dates and the name); one that does not
/// validate is refused.
pub(crate) fn trust(rtspsrc: &gst::Element, ca_pem: &str) -> Result<PinRefusal, RtspError> {
    guard(rtspsrc, ca_pem, |_| false)
}

/// Makes `rtspsrc` accept only the certificate whose SHA-256 is `pin` (lowercase hex): against
/// a store with no usable anchor nothing validates, so every certificate is put to the pin.
pub(crate) fn pin(rtspsrc: &gst::Element, pin: &str) -> Result<PinRefusal, RtspError> {
    let pin = pin.to_ascii_lowercase();
    guard(rtspsrc, NO_ANCHOR, move |der| {
        der.is_some_and(|d| fingerprint(d) == pin)
    })
}
