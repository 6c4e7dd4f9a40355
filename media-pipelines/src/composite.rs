//! The hearing composite: one WebM file (VP8 video, Opus audio) of the whole hearing, rendered
//! after it from the per-track recordings. Every camera and screen gets a tile of a grid with
//! its owner's name and role; every microphone is mixed; a clock on the hearing's time is
//! burned in. Tracks are placed on the hearing clock, so gaps (a caucus, a stopped recording)
//! stay gaps and nothing drifts.
//!
//! Each recorder run (consecutive segments of one track) plays through `splitmuxsrc`, offset to
//! where the run started. A black frame and silence span the whole hearing underneath, so the
//! timeline has its full length even where nobody was recorded.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::recorder::RecorderError;

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// A microphone: mixed.
    Audio,
    /// A camera or screen: a tile.
    Video,
}

/// One track of the hearing (a participant's camera, say), as recorded.
#[derive(Debug, Clone)]
pub struct Source {
    /// Shown on the tile: name and role.
    pub label: String,
    /// Audio or video.
    pub media: Media,
    /// Its runs, each a list of consecutive segment files and where on the composite's
    /// timeline the first one starts.
    pub runs: Vec<(Vec<PathBuf>, Duration)>,
}

/// What to render.
pub struct Composite {
    /// The tracks.
    pub sources: Vec<Source>,
    /// The hearing's length: the composite's duration.
    pub length: Duration,
    /// Frame size and rate.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// The burned-in clock's text at a point of the timeline (the hearing's time of day).
    pub clock: Box<dyn Fn(Duration) -> String + Send + Sync>,
}

impl std::fmt::Debug for Composite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composite")
            .field("sources", &self.sources)
            .field("length", &self.length)
            .field("size", &(self.width, self.height, self.fps))
            .finish_non_exhaustive()
    }
}

/// A tile of the grid: position and size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

/// `n` tiles filling a `width` by `height` frame, row by row: the fewest columns whose rows
/// fit everyone (`ceil(sqrt(n))`), each tile the same size (even sizes, as encoders want).
pub fn grid(n: usize, width: u32, height: u32) -> Vec<Tile> {
    if n == 0 {
        return Vec::new();
    }
    let n32 = u32::try_from(n).unwrap_or(u32::MAX);
    let cols = (1..=n32).find(|c| c * c >= n32).unwrap_or(n32);
    let rows = n32.div_ceil(cols);
    let (w, h) = ((width / cols) & !1, (height / rows) & !1);
    (0..n32)
        .map(|i| Tile {
            x: (i % cols) * w,
            y: (i / cols) * h,
            w,
            h,
        })
        .collect()
}

fn make(factory: &str) -> Result<gst::Element, RecorderError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| RecorderError::Gst(format!("the {factory} element is not installed")))
}

fn gst_err(e: &dyn std::fmt::Display) -> RecorderError {
    RecorderError::Gst(e.to_string())
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Composite {
    /// Renders into `out` (created or replaced), calling `progress` with the share done
    /// (0.0 to 1.0) as it goes. Fails on any pipeline error or after `timeout`.
    pub fn render(
        self,
        out: &std::path::Path,
        progress: impl Fn(f64) + Send + Sync + 'static,
        timeout: Duration,
    ) -> Result<(), RecorderError> {
        gst::init().map_err(|e| gst_err(&e))?;
        let pipeline = gst::Pipeline::new();
        let mux = make("webmmux")?;
        let sink = make("filesink")?;
        sink.set_property("location", out.to_string_lossy().as_ref());
        pipeline.add_many([&mux, &sink]).map_err(|e| gst_err(&e))?;
        mux.link(&sink).map_err(|e| gst_err(&e))?;
        let vmix = self.video_out(&pipeline, &mux, progress)?;
        let amix = self.audio_out(&pipeline, &mux)?;
        let tiles = grid(
            self.sources
                .iter()
                .filter(|s| s.media == Media::Video)
                .count(),
            self.width,
            self.height,
        );
        let mut tiles = tiles.into_iter();
        for source in &self.sources {
            let tile = match source.media {
                Media::Video => tiles.next(),
                Media::Audio => None,
            };
            for (files, offset) in &source.runs {
                let mixer = if tile.is_some() { &vmix } else { &amix };
                add_run(&pipeline, mixer, source, files, *offset, tile)?;
            }
        }
        crate::run_to_end(&pipeline, timeout, "the composite")
    }

    /// Black frames under everything, the compositor, the clock, VP8 into `mux`.
    fn video_out(
        &self,
        pipeline: &gst::Pipeline,
        mux: &gst::Element,
        progress: impl Fn(f64) + Send + Sync + 'static,
    ) -> Result<gst::Element, RecorderError> {
        let frames = (self.length.as_secs_f64() * f64::from(self.fps)).ceil() as i32;
        let caps = gst::Caps::builder("video/x-raw")
            .field("width", i32::try_from(self.width).unwrap_or(1280))
            .field("height", i32::try_from(self.height).unwrap_or(720))
            .field(
                "framerate",
                gst::Fraction::new(i32::try_from(self.fps).unwrap_or(15), 1),
            )
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build();
        let black = make("videotestsrc")?;
        black.set_property_from_str("pattern", "black");
        black.set_property("num-buffers", frames.max(1));
        let black_caps = make("capsfilter")?;
        black_caps.set_property("caps", &caps);
        let vmix = make("compositor")?;
        vmix.set_property_from_str("background", "black");
        let out_caps = make("capsfilter")?;
        out_caps.set_property("caps", &caps);
        let convert = make("videoconvert")?;
        let clock = make("textoverlay")?;
        clock.set_property_from_str("halignment", "right");
        clock.set_property_from_str("valignment", "top");
        clock.set_property("font-desc", "Sans 14");
        clock.set_property("shaded-background", true);
        let enc = make("vp8enc")?;
        enc.set_property("deadline", 1i64);
        enc.set_property("cpu-used", 8i32);
        enc.set_property("threads", 2i32);
        enc.set_property("target-bitrate", 1_200_000i32);
        enc.set_property(
            "keyframe-max-dist",
            i32::try_from(self.fps * 2).unwrap_or(30),
        );
        let queue = make("queue")?;
        let chain = [
            &black,
            &black_caps,
            &vmix,
            &out_caps,
            &convert,
            &clock,
            &enc,
            &queue,
        ];
        pipeline.add_many(chain).map_err(|e| gst_err(&e))?;
        gst::Element::link_many(chain).map_err(|e| gst_err(&e))?;
        link_to_mux(&queue, mux, "video_%u")?;
        // The clock's text follows the timeline; progress is the share of it encoded.
        let length = self.length.as_secs_f64().max(0.001);
        let second = Arc::new(AtomicU64::new(u64::MAX));
        // The clock's text for every second of the timeline, made up front.
        let labels: Vec<String> = (0..=self.length.as_secs())
            .map(|s| (self.clock)(Duration::from_secs(s)))
            .collect();
        let overlay = clock.clone();
        let pad = out_caps
            .static_pad("src")
            .ok_or_else(|| RecorderError::Gst("no compositor pad".into()))?;
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(pts) = info.buffer().and_then(|b| b.pts()) {
                let s = pts.seconds();
                if second.swap(s, Ordering::Relaxed) != s {
                    let label = labels.get(usize::try_from(s).unwrap_or(usize::MAX));
                    if let Some(label) = label {
                        overlay.set_property("text", label);
                    }
                    progress((pts.nseconds() as f64 / 1e9 / length).min(1.0));
                }
            }
            gst::PadProbeReturn::Ok
        });
        Ok(vmix)
    }

    /// Silence under everything, the mixer, Opus into `mux`.
    fn audio_out(
        &self,
        pipeline: &gst::Pipeline,
        mux: &gst::Element,
    ) -> Result<gst::Element, RecorderError> {
        // 20 ms buffers of 48 kHz mono silence, as long as the hearing.
        let buffers = (self.length.as_secs_f64() * 50.0).ceil() as i32;
        let silence = make("audiotestsrc")?;
        silence.set_property_from_str("wave", "silence");
        silence.set_property("samplesperbuffer", 960i32);
        silence.set_property("num-buffers", buffers.max(1));
        let caps = make("capsfilter")?;
        caps.set_property("caps", audio_caps());
        let amix = make("audiomixer")?;
        let convert = make("audioconvert")?;
        let enc = make("opusenc")?;
        let queue = make("queue")?;
        let chain = [&silence, &caps, &amix, &convert, &enc, &queue];
        pipeline.add_many(chain).map_err(|e| gst_err(&e))?;
        gst::Element::link_many(chain).map_err(|e| gst_err(&e))?;
        link_to_mux(&queue, mux, "audio_%u")?;
        Ok(amix)
    }
}

fn audio_caps() -> gst::Caps {
    gst::Caps::builder("audio/x-raw")
        .field("rate", 48_000i32)
        .field("channels", 1i32)
        .build()
}

fn link_to_mux(
    from: &gst::Element,
    mux: &gst::Element,
    template: &str,
) -> Result<(), RecorderError> {
    let sink = mux
        .request_pad_simple(template)
        .ok_or_else(|| RecorderError::Gst(format!("no {template} pad on the muxer")))?;
    let src = from
        .static_pad("src")
        .ok_or_else(|| RecorderError::Gst("no src pad".into()))?;
    src.link(&sink).map_err(|e| gst_err(&e))?;
    Ok(())
}

/// One run of a track: its segments in order, decoded, fitted to its tile (or to the mix's
/// format), into `mixer` at `offset` on the timeline.
fn add_run(
    pipeline: &gst::Pipeline,
    mixer: &gst::Element,
    source: &Source,
    files: &[PathBuf],
    offset: Duration,
    tile: Option<Tile>,
) -> Result<(), RecorderError> {
    let src = make("splitmuxsrc")?;
    let locations: Vec<String> = files
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    src.connect("format-location", false, move |_| {
        Some(locations.to_value())
    });
    let decode = make("decodebin")?;
    // The branch after the decoder: fit, label, into the mixer.
    let mut chain: Vec<gst::Element> = Vec::new();
    match tile {
        Some(t) => {
            let convert = make("videoconvert")?;
            let scale = make("videoscale")?;
            scale.set_property("add-borders", true);
            let caps = make("capsfilter")?;
            caps.set_property(
                "caps",
                gst::Caps::builder("video/x-raw")
                    .field("width", i32::try_from(t.w).unwrap_or(640))
                    .field("height", i32::try_from(t.h).unwrap_or(360))
                    .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                    .build(),
            );
            let label = make("textoverlay")?;
            label.set_property("text", &source.label);
            label.set_property_from_str("halignment", "left");
            label.set_property_from_str("valignment", "bottom");
            label.set_property("font-desc", "Sans 12");
            label.set_property("shaded-background", true);
            let out = make("videoconvert")?;
            chain.extend([convert, scale, caps, label, out]);
        }
        None => {
            let convert = make("audioconvert")?;
            let resample = make("audioresample")?;
            let caps = make("capsfilter")?;
            caps.set_property("caps", audio_caps());
            chain.extend([convert, resample, caps]);
        }
    }
    let queue = make("queue")?;
    chain.push(queue);
    pipeline
        .add_many([&src, &decode])
        .map_err(|e| gst_err(&e))?;
    pipeline.add_many(&chain).map_err(|e| gst_err(&e))?;
    gst::Element::link_many(&chain).map_err(|e| gst_err(&e))?;
    let first = chain[0].clone();
    let last = &chain[chain.len() - 1];
    let pad = mixer
        .request_pad_simple("sink_%u")
        .ok_or_else(|| RecorderError::Gst("no mixer pad".into()))?;
    pad.set_offset(i64::try_from(ns(offset)).unwrap_or(i64::MAX));
    if let Some(t) = tile {
        pad.set_property("xpos", i32::try_from(t.x).unwrap_or(0));
        pad.set_property("ypos", i32::try_from(t.y).unwrap_or(0));
        pad.set_property("zorder", 1u32);
    }
    last.static_pad("src")
        .ok_or_else(|| RecorderError::Gst("no src pad".into()))?
        .link(&pad)
        .map_err(|e| gst_err(&e))?;
    // splitmuxsrc and decodebin both expose their pads once they know the stream.
    let decode_sink = decode.clone();
    src.connect_pad_added(move |_, pad| {
        if let Some(sink) = decode_sink.static_pad("sink")
            && !sink.is_linked()
        {
            let _ = pad.link(&sink);
        }
    });
    decode.connect_pad_added(move |_, pad| {
        if let Some(sink) = first.static_pad("sink")
            && !sink.is_linked()
        {
            let _ = pad.link(&sink);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_fits_everyone_in_the_fewest_columns() {
        assert!(grid(0, 1280, 720).is_empty());
        assert_eq!(
            grid(1, 1280, 720),
            [Tile {
                x: 0,
                y: 0,
                w: 1280,
                h: 720
            }]
        );
        let two = grid(2, 1280, 720);
        assert_eq!(
            two[1],
            Tile {
                x: 640,
                y: 0,
                w: 640,
                h: 720
            }
        );
        let five = grid(5, 1280, 720);
        // 3 columns, 2 rows; even sizes.
        assert_eq!(
            five[4],
            Tile {
                x: 426,
                y: 360,
                w: 426,
                h: 360
            }
        );
        assert!(five.iter().all(|t| t.x + t.w <= 1280 && t.y + t.h <= 720));
    }
}
