//! An e-courtroom device as the platform registers it for a hearing: a camera or codec Gavel
//! pulls over RTSP (Art. 33, mixed hearings). Pure: the rules a registration must meet.
//!
//! Credentials never travel in the URL (URLs end up in logs and error messages): a URL with a
//! user or password is refused, and they are given as fields instead. A certificate pin is a
//! SHA-256 in hex, and only for `rtsps://`.

use super::validate::{FieldError, optional_text, text};

/// How RTP travels from the device.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Interleaved in the RTSP TCP connection: passes firewalls and NAT (the default).
    #[default]
    Tcp,
    /// RTP over UDP: lower latency on a courtroom LAN.
    Udp,
}

impl Transport {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Tcp, Self::Udp].into_iter().find(|t| t.as_str() == s)
    }
}

/// How a device's media reaches the hearing.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// The server pulls its stream over RTSP (a camera or codec; the default).
    #[default]
    Rtsp,
    /// It publishes by itself over WHIP (a hardware encoder), with a key of its own.
    Whip,
}

impl DeviceKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rtsp => "rtsp",
            Self::Whip => "whip",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Rtsp, Self::Whip]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Checks a WHIP device's registration: a name, and none of what only a pulled device has
/// (a URL, credentials, a transport, a pin), which would otherwise be silently ignored.
pub fn whip_spec(
    name: &str,
    url: Option<&str>,
    username: Option<&str>,
    password: Option<&str>,
    (tls_pin, tls_ca): (Option<&str>, Option<&str>),
) -> Result<String, FieldError> {
    let name = text("name", name, 100)?;
    for (field, given) in [
        ("url", url),
        ("username", username),
        ("password", password),
        ("tls_pin", tls_pin),
        ("tls_ca", tls_ca),
    ] {
        if given.is_some() {
            return Err(FieldError::Invalid {
                field,
                expected: "given only for an rtsp device (a WHIP device publishes with its key)",
            });
        }
    }
    Ok(name)
}

/// A registration that met every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// The name on its tile, e.g. "Courtroom 3 — bench camera".
    pub name: String,
    /// `rtsp://` or `rtsps://`, host and path, without credentials.
    pub url: String,
    /// The RTSP user, if the device asks for one.
    pub username: Option<String>,
    /// The RTSP password (a secret).
    pub password: Option<String>,
    /// How RTP travels.
    pub transport: Transport,
    /// RTSPS: the SHA-256 of the certificate the device must present, lowercase hex.
    pub tls_pin: Option<String>,
    /// RTSPS: the authority (PEM) that must have signed the device's certificate.
    pub tls_ca: Option<String>,
}

/// Longest authority PEM accepted (a certificate or a short chain).
pub const MAX_CA_PEM: usize = 16 * 1024;

/// Longest URL accepted.
pub const MAX_URL: usize = 2048;

/// Checks a registration's fields.
pub fn spec(
    name: &str,
    url: &str,
    username: Option<&str>,
    password: Option<&str>,
    transport: Transport,
    (tls_pin, tls_ca): (Option<&str>, Option<&str>),
) -> Result<DeviceSpec, FieldError> {
    let name = text("name", name, 100)?;
    let url = text("url", url, MAX_URL)?;
    let bad_url = |expected| FieldError::Invalid {
        field: "url",
        expected,
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or(bad_url("an rtsp:// or rtsps:// URL"))?;
    let secure = match scheme.to_ascii_lowercase().as_str() {
        "rtsp" => false,
        "rtsps" => true,
        _ => return Err(bad_url("an rtsp:// or rtsps:// URL")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad_url(
            "a URL without credentials (give them as username and password)",
        ));
    }
    if authority.is_empty()
        || authority.starts_with(':')
        || authority.chars().any(char::is_whitespace)
    {
        return Err(bad_url("a URL naming the device's host"));
    }
    let username = optional_text("username", username, 128)?;
    // A password is taken as given (spaces may be part of it), within bounds.
    let password = match password {
        Some("") => None,
        Some(p) if p.chars().count() > 256 || p.chars().any(char::is_control) => {
            return Err(FieldError::Invalid {
                field: "password",
                expected: "at most 256 characters, none of them control characters",
            });
        }
        other => other.map(str::to_owned),
    };
    if password.is_some() && username.is_none() {
        return Err(FieldError::Invalid {
            field: "username",
            expected: "given with a password",
        });
    }
    let tls_pin = match tls_pin.map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(_) if !secure => {
            return Err(FieldError::Invalid {
                field: "tls_pin",
                expected: "given only for an rtsps:// URL",
            });
        }
        Some(p) if p.len() == 64 && p.chars().all(|c| c.is_ascii_hexdigit()) => {
            Some(p.to_ascii_lowercase())
        }
        Some(_) => {
            return Err(FieldError::Invalid {
                field: "tls_pin",
                expected: "the certificate's SHA-256 as 64 hex digits",
            });
        }
    };
    let tls_ca = match tls_ca.map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(_) if !secure => {
            return Err(FieldError::Invalid {
                field: "tls_ca",
                expected: "given only for an rtsps:// URL",
            });
        }
        Some(_) if tls_pin.is_some() => {
            return Err(FieldError::Invalid {
                field: "tls_ca",
                expected: "not given with a tls_pin (one or the other)",
            });
        }
        Some(p) if p.len() <= MAX_CA_PEM && p.contains("-----BEGIN CERTIFICATE-----") => {
            Some(format!("{p}\n"))
        }
        Some(_) => {
            return Err(FieldError::Invalid {
                field: "tls_ca",
                expected: "a PEM certificate (-----BEGIN CERTIFICATE-----) of at most 16 KiB",
            });
        }
    };
    Ok(DeviceSpec {
        name,
        url,
        username,
        password,
        transport,
        tls_pin,
        tls_ca,
    })
}

/// How a device's media reaches the hearing.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum MediaPath {
    /// Re-packetised as it comes: no decoding, no added delay, nothing lost.
    PassThrough,
    /// Decoded and encoded once into what browsers take (B-frames removed, H.265 to H.264, or
    /// AAC/G.711 to Opus).
    Transcode,
}

/// H.264 profiles WebRTC receivers are offered as they are: constrained baseline, which all
/// decode, and main and high, which most do (a receiver that does not gets a baseline
/// rendition, transcoded once for all such receivers while one watches).
const PASSABLE_H264: [&str; 4] = ["constrained-baseline", "baseline", "main", "high"];

/// The path of a device's video: H.264 in one of those profiles and without B-frames passes
/// through; anything else (B-frames, H.265, high 10 or 4:2:2) is transcoded once.
pub fn video_path(encoding: &str, profile: Option<&str>, b_frames: bool) -> MediaPath {
    let passable = encoding.eq_ignore_ascii_case("H264")
        && profile.is_some_and(|p| PASSABLE_H264.contains(&p))
        && !b_frames;
    if passable {
        MediaPath::PassThrough
    } else {
        MediaPath::Transcode
    }
}

/// The path of a device's audio: Opus passes through; AAC, G.711 and the rest become Opus.
pub fn audio_path(encoding: &str) -> MediaPath {
    if encoding.eq_ignore_ascii_case("OPUS") {
        MediaPath::PassThrough
    } else {
        MediaPath::Transcode
    }
}

/// How long to wait before pulling a device again after its `failures`-th failure in a row
/// (0: it just dropped after running). Short at first, so a camera that blinked is back in
/// about a second; at most 4 s, so a device that comes back is in the hearing again within
/// 10 s (the probe takes the rest); and never a storm of connections at a device that is down.
pub fn retry_after(failures: u32) -> std::time::Duration {
    let ms = 500u64.saturating_mul(1 << failures.min(3));
    std::time::Duration::from_millis(ms.min(4_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_start_fast_and_settle_at_four_seconds() {
        let secs: Vec<f64> = (0..6).map(|n| retry_after(n).as_secs_f64()).collect();
        assert_eq!(secs, [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]);
        assert_eq!(retry_after(u32::MAX).as_secs(), 4);
    }

    fn ok(url: &str) -> Result<DeviceSpec, FieldError> {
        spec(
            "Bench camera",
            url,
            None,
            None,
            Transport::Tcp,
            (None, None),
        )
    }

    #[test]
    fn an_rtsp_camera_with_credentials_as_fields_is_accepted() {
        let d = spec(
            " Courtroom 3 — bench camera ",
            "rtsp://10.0.3.21:554/stream1",
            Some("court"),
            Some("s3cret pass"),
            Transport::Udp,
            (None, None),
        )
        .expect("valid");
        assert_eq!(d.name, "Courtroom 3 — bench camera");
        assert_eq!(d.password.as_deref(), Some("s3cret pass"));
        assert_eq!(d.transport, Transport::Udp);
        assert!(ok("rtsps://cam.court.example/live").is_ok());
    }

    #[test]
    fn credentials_in_the_url_and_other_schemes_are_refused() {
        for url in [
            "rtsp://admin:pw@10.0.3.21/stream",
            "rtsp://admin@10.0.3.21/stream",
            "http://10.0.3.21/stream",
            "10.0.3.21/stream",
            "rtsp:///stream",
            "rtsp://:554/stream",
            "rtsp://ca m/stream",
        ] {
            let e = ok(url).expect_err(url);
            assert_eq!(e.field(), "url", "{url}");
        }
        assert!(ok(&format!("rtsp://h/{}", "a".repeat(MAX_URL))).is_err());
    }

    #[test]
    fn a_pin_is_a_sha256_and_only_for_rtsps() {
        let pin = "AB".repeat(32);
        let d = spec(
            "c",
            "rtsps://cam/x",
            None,
            None,
            Transport::Tcp,
            (Some(&pin), None),
        )
        .unwrap();
        assert_eq!(d.tls_pin, Some("ab".repeat(32)));
        let e = spec(
            "c",
            "rtsp://cam/x",
            None,
            None,
            Transport::Tcp,
            (Some(&pin), None),
        )
        .unwrap_err();
        assert_eq!(e.field(), "tls_pin");
        let e = spec(
            "c",
            "rtsps://cam/x",
            None,
            None,
            Transport::Tcp,
            (Some("abc"), None),
        )
        .unwrap_err();
        assert_eq!(e.field(), "tls_pin");
    }

    #[test]
    fn an_authority_is_a_pem_certificate_only_for_rtsps_and_not_with_a_pin() {
        let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let tcp = Transport::Tcp;
        let d = spec("c", "rtsps://cam/x", None, None, tcp, (None, Some(ca))).unwrap();
        assert!(d.tls_ca.is_some());
        for (url, pin, ca) in [
            ("rtsp://cam/x", None, Some(ca)),
            ("rtsps://cam/x", Some("ab".repeat(32)), Some(ca)),
            ("rtsps://cam/x", None, Some("not a certificate")),
        ] {
            let e = spec("c", url, None, None, tcp, (pin.as_deref(), ca)).unwrap_err();
            assert_eq!(e.field(), "tls_ca", "{url} {ca:?}");
        }
        let big = format!("-----BEGIN CERTIFICATE-----{}", "A".repeat(MAX_CA_PEM));
        let e = spec("c", "rtsps://cam/x", None, None, tcp, (None, Some(&big))).unwrap_err();
        assert_eq!(e.field(), "tls_ca");
    }

    #[test]
    fn a_password_needs_a_user_and_is_bounded() {
        let e = spec(
            "c",
            "rtsp://cam/x",
            None,
            Some("pw"),
            Transport::Tcp,
            (None, None),
        )
        .unwrap_err();
        assert_eq!(e.field(), "username");
        let long = "p".repeat(257);
        let e = spec(
            "c",
            "rtsp://cam/x",
            Some("u"),
            Some(&long),
            Transport::Tcp,
            (None, None),
        )
        .unwrap_err();
        assert_eq!(e.field(), "password");
    }

    #[test]
    fn only_h264_profiles_browsers_take_without_b_frames_and_opus_pass_through() {
        use MediaPath::{PassThrough, Transcode};
        assert_eq!(
            video_path("H264", Some("constrained-baseline"), false),
            PassThrough
        );
        assert_eq!(
            video_path("H264", Some("constrained-baseline"), true),
            Transcode
        );
        assert_eq!(video_path("H264", Some("high"), false), PassThrough);
        assert_eq!(video_path("H264", Some("main"), false), PassThrough);
        assert_eq!(video_path("H264", Some("high"), true), Transcode);
        assert_eq!(video_path("H264", Some("high-4:2:2"), false), Transcode);
        assert_eq!(video_path("H264", None, false), Transcode);
        assert_eq!(video_path("H265", Some("main"), false), Transcode);
        assert_eq!(audio_path("OPUS"), PassThrough);
        assert_eq!(audio_path("MPEG4-GENERIC"), Transcode);
        assert_eq!(audio_path("PCMU"), Transcode);
    }

    #[test]
    fn transports_round_trip_their_stored_names() {
        for t in [Transport::Tcp, Transport::Udp] {
            assert_eq!(Transport::parse(t.as_str()), Some(t));
        }
        assert_eq!(Transport::parse("quic"), None);
    }
}
