//! "What should run": the one rule recorders and caption listeners share. Each runs per
//! published track of someone the room has on the record (caption listeners only for audio);
//! when tracks or the record change, the running set is brought to the wanted one: what is no
//! longer wanted stops (it finishes its last segment or utterance), what is new starts, and
//! what runs already is left alone. Pure: tracks are compared by identity.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The tracks that should run: those of `recorded` publishers, in `tracks` (by publisher),
/// that `keep` accepts.
pub(super) fn wanted<K: Eq + std::hash::Hash, T>(
    tracks: &HashMap<K, Vec<Arc<T>>>,
    recorded: &HashSet<K>,
    keep: impl Fn(&T) -> bool,
) -> Vec<Arc<T>> {
    tracks
        .iter()
        .filter(|(publisher, _)| recorded.contains(*publisher))
        .flat_map(|(_, list)| list.iter().filter(|t| keep(t)).cloned())
        .collect()
}

/// What runs per track (a recording, a caption listener), to be brought to a wanted set.
#[derive(Debug)]
pub(super) struct Running<T, R> {
    items: Vec<(Arc<T>, R)>,
}

impl<T, R> Default for Running<T, R> {
    fn default() -> Self {
        Self { items: Vec::new() }
    }
}

impl<T, R> Running<T, R> {
    /// Brings the running set to `wanted`: returns what must stop (no longer wanted), and
    /// starts each new track with `start` (which may decline, `None`).
    pub(super) fn sync(
        &mut self,
        wanted: &[Arc<T>],
        mut start: impl FnMut(&Arc<T>) -> Option<R>,
    ) -> Vec<R> {
        let (keep, stop): (Vec<_>, Vec<_>) = std::mem::take(&mut self.items)
            .into_iter()
            .partition(|(t, _)| wanted.iter().any(|w| Arc::ptr_eq(w, t)));
        self.items = keep;
        for t in wanted {
            if !self.items.iter().any(|(r, _)| Arc::ptr_eq(r, t))
                && let Some(r) = start(t)
            {
                self.items.push((t.clone(), r));
            }
        }
        stop.into_iter().map(|(_, r)| r).collect()
    }

    /// Takes everything that runs (to stop it all).
    pub(super) fn take(&mut self) -> Vec<R> {
        std::mem::take(&mut self.items)
            .into_iter()
            .map(|(_, r)| r)
            .collect()
    }

    /// How many run.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Track {
        audio: bool,
    }

    fn track(audio: bool) -> Arc<Track> {
        Arc::new(Track { audio })
    }

    #[test]
    fn only_the_tracks_of_those_on_the_record_are_wanted() {
        let (a, v, other) = (track(true), track(false), track(true));
        let tracks = HashMap::from([
            ("judge".to_owned(), vec![a.clone(), v.clone()]),
            ("caucus".to_owned(), vec![other]),
        ]);
        let recorded = HashSet::from(["judge".to_owned()]);
        let all = wanted(&tracks, &recorded, |_| true);
        assert_eq!(all.len(), 2);
        let audio = wanted(&tracks, &recorded, |t| t.audio);
        assert!(audio.len() == 1 && Arc::ptr_eq(&audio[0], &a));
    }

    #[test]
    fn new_tracks_start_gone_ones_stop_and_running_ones_are_left_alone() {
        let (a, b, c) = (track(true), track(true), track(true));
        let mut running = Running::default();
        let mut started = 0;
        let stopped = running.sync(&[a.clone(), b.clone()], |_| {
            started += 1;
            Some(started)
        });
        assert!(stopped.is_empty());
        assert_eq!(running.len(), 2);
        let stopped = running.sync(&[b.clone(), c.clone()], |_| {
            started += 1;
            Some(started)
        });
        assert_eq!(stopped, vec![1], "a's run stops");
        assert_eq!(started, 3, "only c started; b kept its run");
        assert_eq!(running.len(), 2);
        assert_eq!(running.take().len(), 2);
        assert_eq!(running.len(), 0);
    }

    #[test]
    fn a_start_that_declines_is_tried_again_next_time() {
        let a = track(true);
        let mut running: Running<Track, ()> = Running::default();
        running.sync(std::slice::from_ref(&a), |_| None);
        assert_eq!(running.len(), 0);
        running.sync(std::slice::from_ref(&a), |_| Some(()));
        assert_eq!(running.len(), 1);
    }
}
