//! Who is speaking: picks the active speaker from RFC 6464 audio levels, with hysteresis so the
//! highlight does not flicker between people talking over each other.
//!
//! Levels are as RFC 6464 sends them: 0 is the loudest (0 dBov), 127 silence. A participant
//! speaks when their level is at or below [`SPEAKING_LEVEL`]. The current speaker keeps the
//! highlight for at least [`HOLD`], and loses it early only when they fall silent. Pure.

use std::time::{Duration, Instant};

use crate::domain::ParticipantId;

/// Loudest level (in -dBov) that still counts as silence: quieter than -50 dBov is not speech.
pub const SPEAKING_LEVEL: u8 = 50;
/// Shortest time the highlight stays on one speaker.
pub const HOLD: Duration = Duration::from_millis(1500);

/// The active-speaker state of one room.
#[derive(Debug, Clone, Default)]
pub struct SpeakerDetector {
    current: Option<ParticipantId>,
    since: Option<Instant>,
}

impl SpeakerDetector {
    /// The current active speaker.
    pub fn current(&self) -> Option<&str> {
        self.current.as_ref().map(ParticipantId::as_str)
    }

    /// Feeds the loudest recent level of each participant; returns the new speaker when it
    /// changed.
    pub fn update(
        &mut self,
        now: Instant,
        levels: &[(ParticipantId, u8)],
    ) -> Option<ParticipantId> {
        let loudest = levels
            .iter()
            .filter(|(_, l)| *l <= SPEAKING_LEVEL)
            .min_by_key(|(id, l)| (*l, id.clone()))
            .map(|(id, _)| id.clone());
        let current_speaking = self
            .current
            .as_ref()
            .is_some_and(|c| levels.iter().any(|(id, l)| id == c && *l <= SPEAKING_LEVEL));
        let held = self.since.is_some_and(|s| now.duration_since(s) < HOLD);
        let candidate = loudest?;
        if Some(&candidate) == self.current.as_ref() || (current_speaking && held) {
            return None;
        }
        self.current = Some(candidate.clone());
        self.since = Some(now);
        Some(candidate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(id: &str, level: u8) -> (ParticipantId, u8) {
        (id.into(), level)
    }

    #[test]
    fn the_loudest_speaker_is_chosen_and_silence_chooses_no_one() {
        let t0 = Instant::now();
        let mut d = SpeakerDetector::default();
        assert_eq!(
            d.update(t0, &[l("a", 127), l("b", 90)]),
            None,
            "nobody speaks"
        );
        assert_eq!(d.update(t0, &[l("a", 30), l("b", 20)]), Some("b".into()));
        assert_eq!(d.current(), Some("b"));
    }

    #[test]
    fn the_highlight_holds_while_the_speaker_talks_and_moves_when_they_stop() {
        let t0 = Instant::now();
        let mut d = SpeakerDetector::default();
        d.update(t0, &[l("a", 30)]);
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(
            d.update(t1, &[l("a", 40), l("b", 10)]),
            None,
            "held: a still talks"
        );
        let t2 = t0 + Duration::from_millis(1600);
        assert_eq!(
            d.update(t2, &[l("a", 40), l("b", 10)]),
            Some("b".into()),
            "after the hold"
        );
        let t3 = t2 + Duration::from_millis(100);
        assert_eq!(
            d.update(t3, &[l("a", 20), l("b", 127)]),
            Some("a".into()),
            "b fell silent"
        );
    }
}
