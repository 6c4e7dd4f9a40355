//! Captions in the room: a transcribed utterance goes to everyone in the place where it was
//! spoken (never the waiting area, never the other side of a caucus), marked unofficial.
//! Those who keep the record (roles that control the recording or edit the transcript) are
//! told when captions are unavailable, and when speech went untranscribed.

use std::time::Instant;

use gavel_signaling::{Place, ServerMessage};

use super::{Room, SessionId};
use crate::domain::Capability;
use crate::domain::role::capabilities;

impl Room {
    /// Sends a caption of `participant`'s utterance to those who heard it: the people in the
    /// hearing itself (only the hearing is transcribed) who were there when it was spoken.
    /// Never anyone waiting outside, and never someone who came in after (a witness called
    /// in must not read the testimony before theirs).
    pub(super) fn caption(
        &mut self,
        participant: &str,
        text: String,
        span: (i64, i64),
        spoken_at: Instant,
    ) {
        if !self.members.contains_key(participant) {
            return;
        }
        let listeners: Vec<SessionId> = self
            .members
            .values()
            .filter(|m| m.view.place == Place::Main)
            .filter(|m| m.entered.is_some_and(|e| e <= spoken_at))
            .filter_map(|m| m.session)
            .collect();
        for s in listeners {
            self.send(
                s,
                ServerMessage::Caption {
                    participant: participant.to_owned(),
                    text: text.clone(),
                    is_final: true,
                    start_ms: Some(span.0),
                    end_ms: Some(span.1),
                    unofficial: true,
                },
            );
        }
    }

    /// Tells the record keepers that `participant`'s speech (of `ms`) was not transcribed.
    pub(super) fn caption_gap(&mut self, participant: &str, ms: i64) {
        let name = self
            .members
            .get(participant)
            .map_or("a participant", |m| m.view.name.as_str());
        let text = if ms == 0 {
            format!(
                "{name} can no longer be transcribed (their audio could not be decoded); the gap is marked in the transcript."
            )
        } else {
            format!(
                "About {} s of speech by {name} could not be transcribed; the gap is marked in the transcript.",
                (ms + 999) / 1000
            )
        };
        self.tell_keepers(ServerMessage::Notice {
            level: "warning".into(),
            code: "captions.gap".into(),
            text,
            participant: None,
        });
    }

    /// Captions are unavailable for this hearing (no usable model): the record keepers are
    /// told now and whenever one of them joins.
    pub(super) fn captions_unavailable(&mut self) {
        self.captions_off = true;
        self.tell_keepers(captions_off_notice());
    }

    /// Tells a joining record keeper that captions are off, if they are.
    pub(super) fn tell_captions(&mut self, session: SessionId) {
        let keeper = self
            .sessions
            .get(&session)
            .and_then(|id| self.members.get(id))
            .is_some_and(|m| keeps_record(m.role));
        if self.captions_off && keeper {
            self.send(session, captions_off_notice());
        }
    }

    fn tell_keepers(&mut self, notice: ServerMessage) {
        let keepers: Vec<SessionId> = self
            .members
            .values()
            .filter(|m| keeps_record(m.role))
            .filter_map(|m| m.session)
            .collect();
        for s in keepers {
            self.send(s, notice.clone());
        }
    }
}

fn keeps_record(role: crate::domain::Role) -> bool {
    let c = capabilities(role);
    c.allows(Capability::ControlRecording) || c.allows(Capability::EditTranscript)
}

fn captions_off_notice() -> ServerMessage {
    ServerMessage::Notice {
        level: "warning".into(),
        code: "captions_unavailable".into(),
        text: "Live captions are unavailable; the hearing continues.".into(),
        participant: None,
    }
}

#[cfg(test)]
mod tests {
    use gavel_signaling::{ClientMessage, ServerMessage};

    use crate::domain::Role;
    use crate::engine::Input;
    use crate::engine::tests::{Sim, sent_to};

    fn captions(out: &[crate::engine::Output], s: u64) -> Vec<String> {
        sent_to(out, s)
            .iter()
            .filter_map(|m| match m {
                ServerMessage::Caption {
                    text, unofficial, ..
                } => {
                    assert!(*unofficial);
                    Some(text.clone())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn captions_reach_those_who_hear_the_speaker_and_never_the_waiting_area() {
        let mut sim = Sim::with(true, true);
        sim.join(1, "judge", Role::Judge);
        sim.join(2, "party", Role::Party);
        sim.msg(
            1,
            ClientMessage::Admit {
                req: None,
                participant: "party".into(),
            },
        );
        sim.join(3, "witness", Role::Witness);
        let spoken_at = sim.now;
        let caption = |text: &str| Input::Caption {
            participant: "party".into(),
            text: text.into(),
            start_ms: 1_000,
            end_ms: 2_000,
            spoken_at,
        };
        let out = sim.input(caption("I was there."));
        assert_eq!(captions(&out, 1), ["I was there."]);
        assert_eq!(captions(&out, 2), ["I was there."]);
        assert!(
            captions(&out, 3).is_empty(),
            "the waiting witness hears nothing"
        );

        // The witness called in a moment later never reads what was said before they came.
        sim.now += std::time::Duration::from_secs(1);
        sim.msg(
            1,
            ClientMessage::CallWitness {
                req: None,
                participant: "witness".into(),
            },
        );
        let out = sim.input(caption("Before the witness came in."));
        assert_eq!(captions(&out, 1), ["Before the witness came in."]);
        assert!(
            captions(&out, 3).is_empty(),
            "spoken before the witness entered"
        );
        // Sent out again, they read nothing in the waiting area.
        sim.msg(
            1,
            ClientMessage::DismissWitness {
                req: None,
                participant: "witness".into(),
            },
        );
        let out = sim.input(caption("Late."));
        assert!(
            captions(&out, 3).is_empty(),
            "nothing reaches the waiting area"
        );
    }

    #[test]
    fn record_keepers_hear_of_missing_captions_and_gaps() {
        let mut sim = Sim::with(false, true);
        sim.join(1, "judge", Role::Judge);
        sim.join(2, "party", Role::Party);
        let out = sim.input(Input::CaptionsUnavailable);
        let told = |out: &[crate::engine::Output], s, code: &str| {
            sent_to(out, s)
                .iter()
                .any(|m| matches!(m, ServerMessage::Notice { code: c, .. } if c == code))
        };
        assert!(told(&out, 1, "captions_unavailable"));
        assert!(!told(&out, 2, "captions_unavailable"));
        let out = sim.join(3, "clerk", Role::Clerk);
        assert!(told(&out, 3, "captions_unavailable"), "told on joining too");
        let out = sim.input(Input::CaptionGap {
            participant: "party".into(),
            ms: 4_200,
        });
        assert!(told(&out, 1, "captions.gap") && told(&out, 3, "captions.gap"));
        assert!(!told(&out, 2, "captions.gap"));
    }
}
