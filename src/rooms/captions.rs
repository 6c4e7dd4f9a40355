//! The room's caption listeners: one per audio track of everyone on the record, brought to
//! what should run ([`super::running`]) like the recorders; a listener stopped hands over its
//! last utterance.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::running::Running;
use crate::sfu::track::PublishedTrack;
use crate::transcribe::live::{CaptionEvent, Captioner, Demand, Listening};

/// The live captions of one room.
#[derive(Debug, Default)]
pub(super) struct Captions {
    /// The captioner and where its events go (none: no captions here, or no more).
    on: Option<(Arc<Captioner>, mpsc::Sender<CaptionEvent>)>,
    /// The audio tracks being transcribed (dropping one stops it).
    running: Running<PublishedTrack, Listening>,
    /// Keeps the speech model loaded while the room is open.
    demand: Option<Demand>,
}

impl Captions {
    /// Captions through `captioner` into `out`.
    pub(super) fn through(captioner: Arc<Captioner>, out: mpsc::Sender<CaptionEvent>) -> Self {
        Self {
            demand: captioner.demand(),
            on: Some((captioner, out)),
            running: Running::default(),
        }
    }

    /// Transcribes exactly the `wanted` audio tracks (the others stop; their last utterance is
    /// still transcribed).
    pub(super) fn sync(&mut self, wanted: &[Arc<PublishedTrack>]) {
        let Some((captioner, out)) = &self.on else {
            return;
        };
        drop(
            self.running
                .sync(wanted, |t| captioner.listen(t.clone(), out.clone())),
        );
    }

    /// Stops every transcription (each hands over its last utterance) and lets go of the
    /// room's own caption sender, so the caption channel closes once all are in.
    pub(super) fn stop(&mut self) {
        drop(self.running.take());
        self.on = None;
        self.demand = None;
    }
}
