//! Where webhooks may point: `https://` URLs (or `http://` when configured) whose host resolves
//! only to public addresses, unless internal targets are explicitly allowed.
//!
//! Checked at registration and again before every delivery, so an API key cannot make the
//! server call into its own network (loopback admin ports, cloud metadata, the database).
//! Known limit: the HTTP client resolves the name again when it connects, so a name that
//! changes its answer between the two lookups (DNS rebinding) is not caught here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;

use crate::config::WebhookConfig;

/// Why a webhook URL is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// Not an absolute URL with a host.
    #[error("webhook URL is not an absolute URL with a host")]
    NotUrl,
    /// Not https (or http when allowed).
    #[error("webhook URL scheme is not allowed")]
    Scheme,
    /// The host name does not resolve.
    #[error("webhook host does not resolve")]
    Unresolvable,
    /// The host resolves to an internal address.
    #[error("webhook host resolves to an internal address")]
    Internal,
}

impl TargetError {
    /// Phrase for a validation error on the `url` field.
    pub fn expected(&self) -> &'static str {
        match self {
            Self::NotUrl => "must be an absolute URL with a host",
            Self::Scheme => "must be an https:// URL",
            Self::Unresolvable => "must name a host that resolves",
            Self::Internal => "must not point at a loopback, private or link-local address",
        }
    }
}

/// Whether `ip` is an address a webhook must not reach by default.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || v6 == Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0)
        }
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT 100.64/10
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18/15
}

/// Parses and checks `url` under `cfg`, resolving its host unless internal targets are allowed.
pub async fn check_resolved(url: &str, cfg: &WebhookConfig) -> Result<Url, TargetError> {
    let parsed = Url::parse(url).map_err(|_| TargetError::NotUrl)?;
    match parsed.scheme() {
        "https" => {}
        "http" if cfg.allow_http => {}
        _ => return Err(TargetError::Scheme),
    }
    let host = parsed.host_str().ok_or(TargetError::NotUrl)?.to_owned();
    if cfg.allow_private_targets {
        return Ok(parsed);
    }
    let port = parsed.port_or_known_default().ok_or(TargetError::NotUrl)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| TargetError::Unresolvable)?
        .collect();
    if addrs.is_empty() {
        return Err(TargetError::Unresolvable);
    }
    if addrs.iter().any(|a| is_internal(a.ip())) {
        return Err(TargetError::Internal);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges_are_recognised_and_public_ones_are_not() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn loopback_and_plain_http_are_refused_by_default() {
        let cfg = WebhookConfig::default();
        let r = check_resolved("https://127.0.0.1:9/hook", &cfg).await;
        assert_eq!(r.unwrap_err(), TargetError::Internal);
        let r = check_resolved("https://localhost/hook", &cfg).await;
        assert_eq!(r.unwrap_err(), TargetError::Internal);
        let r = check_resolved("http://8.8.8.8/hook", &cfg).await;
        assert_eq!(r.unwrap_err(), TargetError::Scheme);
        let r = check_resolved("not a url", &cfg).await;
        assert_eq!(r.unwrap_err(), TargetError::NotUrl);
    }
}
