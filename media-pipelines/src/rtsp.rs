//! An e-courtroom device's RTSP stream, looked at before it joins a hearing: does it answer,
//! do its credentials work, and what does it send. The ingest decides from this, from the
//! stream itself and not from what the device claims, whether its H.264 can be passed through
//! (no B-frames, a profile browsers take) or must be transcoded once, and whether its audio
//! must become Opus.
//!
//! Credentials are set as element properties, never written into the URL or a launch line
//! (both end up in logs and error messages).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

/// How RTP travels from the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtspTransport {
    /// Interleaved in the RTSP TCP connection.
    Tcp,
    /// RTP over UDP.
    Udp,
}

/// Where a device's stream is, and how to open it.
#[derive(Clone)]
pub struct RtspSource {
    /// `rtsp://` or `rtsps://` URL, without credentials.
    pub url: String,
    /// RTSP user, if the device asks for one.
    pub user: Option<String>,
    /// RTSP password (a secret: never printed, see `Debug`).
    pub password: Option<String>,
    /// How RTP travels.
    pub transport: RtspTransport,
    /// RTSPS: the SHA-256 (hex) of the only certificate the device may present.
    pub tls_pin: Option<String>,
    /// RTSPS: the authority (PEM) that must have signed the device's certificate, instead of
    /// the system's.
    pub tls_ca: Option<String>,
}

impl std::fmt::Debug for RtspSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtspSource")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<secret>"))
            .field("transport", &self.transport)
            .field("tls_pin", &self.tls_pin)
            .field("tls_ca", &self.tls_ca.as_ref().map(|_| "<pem>"))
            .finish()
    }
}

/// Why a device's stream could not be looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtspError {
    /// The device refused the credentials (RTSP 401).
    #[error("the device refused the credentials")]
    Unauthorized,
    /// The device could not be reached or refused the stream (its text, no credentials).
    #[error("the device's stream could not be opened: {0}")]
    Unreachable(String),
    /// Nothing usable arrived in time.
    #[error("the device sent no media in time")]
    NoMedia,
    /// The device presented a certificate other than the pinned one.
    #[error("the device's certificate does not match its pin")]
    CertificateRefused,
    /// GStreamer could not build the pipeline.
    #[error("pipeline: {0}")]
    Gst(String),
}

/// What a device's video is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoInfo {
    /// The RTP encoding name, e.g. `H264`.
    pub encoding: String,
    /// The H.264 profile `h264parse` read from the stream (e.g. `constrained-baseline`).
    pub profile: Option<String>,
    /// Frames came out of decode order (presentation times going backwards): B-frames, which
    /// WebRTC receivers do not take.
    pub b_frames: bool,
    /// Frames looked at.
    pub frames: usize,
}

/// What a device sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probed {
    /// Its video, if any.
    pub video: Option<VideoInfo>,
    /// Its audio's RTP encoding name (e.g. `MPEG4-GENERIC` for AAC, `PCMU`, `OPUS`), if any.
    pub audio: Option<String>,
}

/// Frames of video looked at before deciding (B-frames show within a GOP or two).
const FRAMES: usize = 45;

#[derive(Default)]
struct Seen {
    video_encoding: Option<String>,
    audio: Option<String>,
    profile: Option<String>,
    pts: Vec<u64>,
}

/// Opens `src` and looks at what it sends, for at most `within`.
pub fn probe(src: &RtspSource, within: Duration) -> Result<Probed, RtspError> {
    let gst_err = |e: &dyn std::fmt::Display| RtspError::Gst(e.to_string());
    gst::init().map_err(|e| gst_err(&e))?;
    let pipeline = gst::Pipeline::new();
    let (rtspsrc, refusal) = source_element(src)?;
    pipeline.add(&rtspsrc).map_err(|e| gst_err(&e))?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let on_pad = seen.clone();
    let bin = pipeline.downgrade();
    rtspsrc.connect_pad_added(move |_, pad| {
        let Some(pipeline) = bin.upgrade() else {
            return;
        };
        let Some((media, encoding)) = pad_media(pad) else {
            return;
        };
        if let Err(e) = attach(&pipeline, pad, &media, &encoding, &on_pad) {
            gst::warning!(gst::CAT_DEFAULT, "rtsp probe: {e}");
        }
    });
    let outcome = watch(&pipeline, &seen, within);
    let _ = pipeline.set_state(gst::State::Null);
    if outcome.is_err() && refusal.refused() {
        return Err(RtspError::CertificateRefused);
    }
    outcome?;
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    if seen.video_encoding.is_none() && seen.audio.is_none() {
        return Err(RtspError::NoMedia);
    }
    let video = seen.video_encoding.clone().map(|encoding| VideoInfo {
        encoding,
        profile: seen.profile.clone(),
        b_frames: seen.pts.windows(2).any(|w| w[1] < w[0]),
        frames: seen.pts.len(),
    });
    Ok(Probed {
        video,
        audio: seen.audio.clone(),
    })
}

/// What a new pad of `rtspsrc` carries: its RTP `media` (`video`, `audio`) and encoding name.
pub(crate) fn pad_media(pad: &gst::Pad) -> Option<(String, String)> {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let s = caps.structure(0)?;
    let field = |name| s.get::<&str>(name).unwrap_or_default().to_owned();
    Some((field("media"), field("encoding-name")))
}

/// The `rtspsrc` of `src`, its credentials set as properties.
pub(crate) fn source_element(
    src: &RtspSource,
) -> Result<(gst::Element, crate::tls_pin::PinRefusal), RtspError> {
    let rtspsrc = gst::ElementFactory::make("rtspsrc")
        .property("location", &src.url)
        .property("latency", 200u32)
        .build()
        .map_err(|e| RtspError::Gst(e.to_string()))?;
    rtspsrc.set_property_from_str(
        "protocols",
        match src.transport {
            RtspTransport::Tcp => "tcp",
            RtspTransport::Udp => "udp",
        },
    );
    if let Some(user) = &src.user {
        rtspsrc.set_property("user-id", user);
    }
    if let Some(password) = &src.password {
        rtspsrc.set_property("user-pw", password);
    }
    let secure = src
        .url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("rtsps://"));
    let refusal = match (&src.tls_pin, &src.tls_ca) {
        (Some(pin), _) if secure => crate::tls_pin::pin(&rtspsrc, pin)?,
        (None, Some(ca)) if secure => crate::tls_pin::trust(&rtspsrc, ca)?,
        _ => crate::tls_pin::PinRefusal::default(),
    };
    Ok((rtspsrc, refusal))
}

/// Links a new stream of the device: H.264 video to a parser whose output is watched, anything
/// else to a sink (its encoding is noted).
fn attach(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    media: &str,
    encoding: &str,
    seen: &Arc<Mutex<Seen>>,
) -> Result<(), String> {
    let make = |name: &str| {
        gst::ElementFactory::make(name)
            .build()
            .map_err(|e| e.to_string())
    };
    let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
    if media == "video" && encoding.eq_ignore_ascii_case("H264") {
        s.video_encoding = Some(encoding.to_owned());
        drop(s);
        let depay = make("rtph264depay")?;
        let parse = make("h264parse")?;
        let sink = gst_app::AppSink::builder().sync(false).build();
        let watched = seen.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let mut s = watched.lock().unwrap_or_else(|p| p.into_inner());
                    if s.profile.is_none() {
                        s.profile = sample
                            .caps()
                            .and_then(|c| c.structure(0))
                            .and_then(|st| st.get::<&str>("profile").ok())
                            .map(str::to_owned);
                    }
                    if let Some(pts) = sample.buffer().and_then(|b| b.pts()) {
                        s.pts.push(pts.nseconds());
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        let elements = [&depay, &parse, sink.upcast_ref()];
        pipeline.add_many(elements).map_err(|e| e.to_string())?;
        gst::Element::link_many(elements).map_err(|e| e.to_string())?;
        for e in elements {
            e.sync_state_with_parent().map_err(|e| e.to_string())?;
        }
        pad.link(&depay.static_pad("sink").ok_or("no sink pad")?)
            .map_err(|e| e.to_string())?;
    } else {
        if media == "audio" {
            s.audio = Some(encoding.to_owned());
        }
        drop(s);
        let sink = make("fakesink")?;
        pipeline.add(&sink).map_err(|e| e.to_string())?;
        sink.sync_state_with_parent().map_err(|e| e.to_string())?;
        pad.link(&sink.static_pad("sink").ok_or("no sink pad")?)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Plays the pipeline until enough video was seen (or, without video, a moment after audio
/// appeared), an error, or `within`.
fn watch(
    pipeline: &gst::Pipeline,
    seen: &Arc<Mutex<Seen>>,
    within: Duration,
) -> Result<(), RtspError> {
    let bus = pipeline
        .bus()
        .ok_or_else(|| RtspError::Gst("no bus".into()))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| RtspError::Gst(e.to_string()))?;
    let deadline = Instant::now() + within;
    let mut audio_only_since = None;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let wait = gst::ClockTime::from_mseconds(left.as_millis().min(100) as u64);
        if let Some(msg) = bus.timed_pop_filtered(wait, &[gst::MessageType::Error])
            && let gst::MessageView::Error(e) = msg.view()
        {
            let text = format!("{} {:?}", e.error(), e.debug());
            return Err(if text.contains("Unauthorized") || text.contains("401") {
                RtspError::Unauthorized
            } else {
                RtspError::Unreachable(e.error().to_string())
            });
        }
        let s = seen.lock().unwrap_or_else(|p| p.into_inner());
        if s.video_encoding.is_some() && s.pts.len() >= FRAMES {
            return Ok(());
        }
        if s.video_encoding.is_none() && s.audio.is_some() {
            // Audio only: give a video stream a moment to show up too.
            let since = *audio_only_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(1) {
                return Ok(());
            }
        }
    }
    Ok(())
}
