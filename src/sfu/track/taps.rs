//! What a published track's packets are handed to besides subscribers: the recorder, the
//! transcriber and the main view, each set and cleared while the track forwards.

use std::sync::Arc;

use super::PublishedTrack;

impl PublishedTrack {
    /// Starts (or, with `None`, stops) feeding the recorder; `payload_type` is the one its
    /// pipeline was set up for.
    pub fn set_tap(&self, tap: Option<gavel_media_pipelines::recorder::Tap>, payload_type: u8) {
        if tap.is_some() {
            self.record.restart();
        }
        self.tap.store(tap.map(|t| Arc::new((t, payload_type))));
    }

    /// Starts (or, with `None`, stops) feeding the transcriber.
    pub fn set_listener(
        &self,
        tap: Option<gavel_media_pipelines::recorder::Tap>,
        payload_type: u8,
    ) {
        self.listen.store(tap.map(|t| Arc::new((t, payload_type))));
    }

    /// Starts feeding a main view's input `tap` (set up for `payload_type`); returns what to
    /// give [`Self::unfeed_mix`] to stop.
    pub fn feed_mix(
        &self,
        tap: gavel_media_pipelines::recorder::Tap,
        payload_type: u8,
    ) -> Arc<(gavel_media_pipelines::recorder::Tap, u8)> {
        let fed = Arc::new((tap, payload_type));
        self.mix.store(Some(fed.clone()));
        fed
    }

    /// Stops feeding the main view's input `fed`, if it is still the one fed (a newer main
    /// view's is left alone).
    pub fn unfeed_mix(&self, fed: &Arc<(gavel_media_pipelines::recorder::Tap, u8)>) {
        let current = self.mix.load();
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, fed)) {
            self.mix.compare_and_swap(&current, None);
        }
    }

    /// The recorder, transcriber and main view taking this track now, loaded once per packet.
    pub(super) fn taps(&self) -> Taps {
        Taps([self.tap.load(), self.listen.load(), self.mix.load()])
    }
}

/// What a track's packets are handed to besides subscribers: the recorder, the transcriber and
/// the main view (each with the payload type its pipeline was set up for).
pub(super) struct Taps([arc_swap::Guard<Option<Arc<TapInto>>>; 3]);

/// A pipeline's input and the payload type it was set up for.
pub(super) type TapInto = (gavel_media_pipelines::recorder::Tap, u8);

impl Taps {
    pub(super) fn is_empty(&self) -> bool {
        self.0.iter().all(|t| t.is_none())
    }

    /// Hands `packet` to each (one marshalling per packet, never blocking).
    pub(super) fn push(&self, packet: &rtc::rtp::Packet) {
        use rtc::shared::marshal::Marshal;
        if self.is_empty() {
            return;
        }
        let Ok(bytes) = packet.marshal() else {
            return;
        };
        for t in self.0.iter().filter_map(|t| t.as_ref()) {
            let mut rtp = Vec::<u8>::from(bytes.as_ref());
            // The payload type the pipeline was set up for (byte 1, below the marker bit).
            if let Some(b) = rtp.get_mut(1) {
                *b = (*b & 0x80) | (t.1 & 0x7f);
            }
            t.0.push(rtp);
        }
    }
}
