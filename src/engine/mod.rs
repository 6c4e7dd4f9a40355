//! The room engine: one hearing's participants, places and moderator actions, as a pure state
//! machine in the sans-IO style.
//!
//! The driver (`crate::rooms`) feeds it [`Input`]s with the current time, executes every
//! [`Output`] it polls, and calls [`Room::handle_timeout`] at [`Room::poll_timeout`]. It never
//! does I/O, never reads the clock and never fails: a refused action is an `error` message to the
//! client who asked, and the room carries on.
//!
//! Invariants: a participant id maps to at most one member and one live session; every change
//! other members can see is followed by a fresh roster for each connected member; a member whose
//! connection dropped keeps their place for the grace period, unseen by the others (no flap).

mod captions;
mod commands;
#[cfg(test)]
mod device_tests;
mod io;
#[cfg(test)]
mod mute_tests;
mod platform;
mod recording;
pub mod roster;
pub mod speaker;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod viewable_tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use gavel_signaling::{
    ClientMessage, EndReason, ErrorCode, PROTOCOL_VERSION, ParticipantView, Place, ServerMessage,
};

use crate::domain::audit::AuditAction;
use crate::domain::role::capabilities;
use crate::domain::{HearingId, ParticipantId, Role};
pub use io::{
    Allowed, Arrival, AudioVideo, Disconnect, Input, Output, Presence, RoomPolicy, Route, SessionId,
};

#[derive(Debug, Clone)]
struct Member {
    view: ParticipantView,
    role: Role,
    session: Option<SessionId>,
    /// Set while disconnected: when the place is given up.
    gone_at: Option<Instant>,
    /// The participant's own microphone and camera state.
    own_muted: AudioVideo,
    /// A moderator's mute: holds until a moderator lifts it.
    held: AudioVideo,
    /// Enters only when called, never by `admit`: witnesses always, an expert once the judge
    /// has sent them out.
    sequestered: bool,
    /// When they came into their current place (captions of speech from before then are not
    /// theirs to read).
    entered: Option<Instant>,
}

impl Member {
    /// The view shows muted when either the participant or a moderator muted.
    fn refresh_mute(&mut self) {
        self.view.audio_muted = self.own_muted.audio || self.held.audio;
        self.view.video_muted = self.own_muted.video || self.held.video;
        (self.view.audio_held, self.view.video_held) = (self.held.audio, self.held.video);
    }
}

/// One hearing's room.
#[derive(Debug)]
pub struct Room {
    hearing: HearingId,
    policy: RoomPolicy,
    members: BTreeMap<ParticipantId, Member>,
    sessions: HashMap<SessionId, ParticipantId>,
    out: VecDeque<Output>,
    /// Active speaker, per place: a caucus has its own, unseen by the joint session.
    speakers: HashMap<Place, speaker::SpeakerDetector>,
    /// Participants a moderator removed: if they come back they wait to be admitted again.
    removed: std::collections::HashSet<ParticipantId>,
    /// Experts the judge sequestered: however they come back, they wait to be called.
    sequestered: std::collections::HashSet<ParticipantId>,
    /// The court's mutes (audio, video) by participant: they hold however the participant
    /// leaves and comes back, until a moderator lifts them.
    court_held: HashMap<ParticipantId, AudioVideo>,
    /// Whether the hearing is being recorded.
    recording: bool,
    /// Live captions are unavailable (no usable model).
    captions_off: bool,
    /// The time of the input being handled.
    now: Option<Instant>,
}

impl Room {
    /// An empty room for `hearing`.
    pub fn new(hearing: HearingId, policy: RoomPolicy) -> Self {
        let recording = policy.record;
        Self {
            hearing,
            policy,
            members: BTreeMap::new(),
            sessions: HashMap::new(),
            out: VecDeque::new(),
            speakers: HashMap::new(),
            removed: std::collections::HashSet::new(),
            sequestered: std::collections::HashSet::new(),
            court_held: HashMap::new(),
            recording,
            captions_off: false,
            now: None,
        }
    }

    /// Whether nobody is present or holding a place (the driver may retire the room).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Processes one input at `now`.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        self.now = Some(now);
        match input {
            Input::Join {
                session,
                who,
                media_resumed,
            } => self.join(session, who, media_resumed),
            Input::Disconnected { session, why } => self.disconnected(now, session, why),
            Input::AudioLevels(levels) => self.audio_levels(now, &levels),
            Input::HearingClosed => self.end_all(None, "hearing closed"),
            Input::HearingStateChanged(state) => {
                let sessions: Vec<SessionId> = self.sessions.keys().copied().collect();
                for s in sessions {
                    self.send(s, ServerMessage::HearingState { state });
                }
            }
            Input::Revoked { participant } => self.revoked(participant.as_str()),
            Input::RecordingFault {
                participant,
                track,
                restarted,
            } => self.recording_fault(participant.as_str(), track, restarted),
            Input::Caption {
                participant,
                text,
                start_ms,
                end_ms,
                spoken_at,
            } => self.caption(participant.as_str(), text, (start_ms, end_ms), spoken_at),
            Input::CaptionGap { participant, ms } => self.caption_gap(participant.as_str(), ms),
            Input::CaptionsUnavailable => self.captions_unavailable(),
            Input::DeviceLink { participant, up } => self.device_link(participant.as_str(), up),
            Input::Message { session, msg } => {
                let Some(id) = self.sessions.get(&session).cloned() else {
                    return; // a session already replaced or removed: ignore its leftovers
                };
                self.message(session, id.as_str(), msg);
            }
        }
    }

    /// Gives up the places of members who did not come back in time.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        let expired: Vec<ParticipantId> = self
            .members
            .iter()
            .filter(|(_, m)| m.gone_at.is_some_and(|t| t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.members.remove(id);
            self.audit(
                None,
                AuditAction::ParticipantLeft,
                id.as_str(),
                serde_json::json!({"reason": "connection lost"}),
                Some(Presence::Left),
            );
        }
        if !expired.is_empty() {
            self.broadcast_roster();
        }
    }

    /// When [`Room::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.members.values().filter_map(|m| m.gone_at).min()
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn join(&mut self, session: SessionId, who: Arrival, media_resumed: bool) {
        if let Some(m) = self.members.get_mut(&who.id) {
            // The same person again: resume (after a drop) or replace (a second device).
            if let Some(old) = m.session.replace(session) {
                self.sessions.remove(&old);
                self.out.push_back(Output::End {
                    session: old,
                    reason: EndReason::Replaced,
                });
            }
            m.gone_at = None;
            self.sessions.insert(session, who.id.clone());
            self.welcome(session, who.id.as_str(), media_resumed);
            self.tell_recording(session);
            self.tell_captions(session);
            self.audit(
                Some(who.id.clone()),
                AuditAction::ParticipantReconnected,
                who.id.as_str(),
                serde_json::json!({"hearing_id": self.hearing}),
                None,
            );
            return;
        }
        let sequestered = roster::is_sequestered(who.role) || self.sequestered.contains(&who.id);
        let place = if self.removed.contains(&who.id) || sequestered {
            Place::Waiting
        } else {
            roster::initial_place(who.role, self.policy.lobby)
        };
        let view = ParticipantView {
            id: who.id.to_string(),
            name: who.name,
            role: who.role.as_str().to_owned(),
            place,
            audio_muted: false,
            video_muted: false,
            audio_held: false,
            video_held: false,
        };
        let mut member = Member {
            view,
            role: who.role,
            session: Some(session),
            gone_at: None,
            own_muted: AudioVideo::default(),
            held: self.court_held.get(&who.id).copied().unwrap_or_default(),
            sequestered,
            entered: self.now,
        };
        member.refresh_mute();
        self.members.insert(who.id.clone(), member);
        self.sessions.insert(session, who.id.clone());
        self.welcome(session, who.id.as_str(), false);
        self.tell_recording(session);
        self.tell_captions(session);
        self.audit(
            Some(who.id.clone()),
            AuditAction::ParticipantJoined,
            who.id.as_str(),
            serde_json::json!({"hearing_id": self.hearing, "place": place}),
            Some(Presence::Joined),
        );
        self.broadcast_roster();
    }

    fn welcome(&mut self, session: SessionId, id: &str, media_resumed: bool) {
        let Some(m) = self.members.get(id) else {
            return;
        };
        let caps = capabilities(m.role)
            .to_vec()
            .into_iter()
            .filter_map(|c| serde_json::to_value(c).ok()?.as_str().map(str::to_owned))
            .collect();
        let welcome = ServerMessage::Welcome {
            v: PROTOCOL_VERSION,
            you: m.view.clone(),
            hearing: self.hearing.to_string(),
            capabilities: caps,
            heartbeat_ms: self.policy.heartbeat_ms,
            media_resumed,
        };
        let roster = self.roster_message(id);
        self.send(session, welcome);
        if let Some(r) = roster {
            self.send(session, r);
        }
        self.emit_routes();
    }

    /// Who may receive whom: both in the hearing (never the waiting area), minus media a
    /// moderator muted. Emitted after every change that could alter it.
    pub(super) fn emit_routes(&mut self) {
        let routes = self
            .members
            .values()
            .map(|sub| Route {
                subscriber: sub.view.id.as_str().into(),
                from: self
                    .members
                    .values()
                    .filter(|p| {
                        p.view.id != sub.view.id && roster::receives(sub.view.place, p.view.place)
                    })
                    .map(|p| Allowed {
                        publisher: p.view.id.as_str().into(),
                        media: AudioVideo {
                            audio: !p.view.audio_muted,
                            video: !p.view.video_muted,
                        },
                    })
                    .collect(),
            })
            .collect();
        self.out.push_back(Output::Routes(routes));
        let viewable = self
            .members
            .values()
            .filter(|p| p.view.place == Place::Main)
            .map(|p| Allowed {
                publisher: p.view.id.as_str().into(),
                media: AudioVideo {
                    audio: !p.view.audio_muted,
                    video: !p.view.video_muted,
                },
            })
            .collect();
        self.out.push_back(Output::Viewable(viewable));
        self.emit_recorded();
    }

    /// Updates the active speaker of each place; tells those who hear them when it changes.
    fn audio_levels(&mut self, now: Instant, levels: &[(ParticipantId, u8)]) {
        for place in [Place::Main, Place::Private] {
            // Only people heard in this place count (never the waiting area, never the muted).
            let audible: Vec<(ParticipantId, u8)> = levels
                .iter()
                .filter(|(id, _)| {
                    self.members
                        .get(id)
                        .is_some_and(|m| m.view.place == place && !m.view.audio_muted)
                })
                .cloned()
                .collect();
            let Some(who) = self
                .speakers
                .entry(place)
                .or_default()
                .update(now, &audible)
            else {
                continue;
            };
            let listeners: Vec<SessionId> = self
                .members
                .values()
                .filter(|m| m.view.place == place)
                .filter_map(|m| m.session)
                .collect();
            for s in listeners {
                self.send(
                    s,
                    ServerMessage::ActiveSpeaker {
                        participant: who.to_string(),
                    },
                );
            }
        }
    }

    fn disconnected(&mut self, now: Instant, session: SessionId, why: Disconnect) {
        let Some(id) = self.sessions.remove(&session) else {
            return;
        };
        if let Some(m) = self.members.get_mut(&id) {
            m.session = None;
            m.gone_at = Some(now + self.policy.grace);
        }
        let reason = match why {
            Disconnect::Dropped => "connection lost",
            Disconnect::TooSlow => "not keeping up",
        };
        // Recorded, not announced: the others see no flap unless the place is given up.
        self.audit(
            None,
            AuditAction::ParticipantDisconnected,
            id.as_str(),
            serde_json::json!({"hearing_id": self.hearing, "reason": reason}),
            None,
        );
    }

    fn message(&mut self, session: SessionId, id: &str, msg: ClientMessage) {
        match msg {
            ClientMessage::Join { .. } => self.send(
                session,
                ServerMessage::error(None, ErrorCode::NotJoined, "already joined"),
            ),
            ClientMessage::Ping { id: n } => self.send(session, ServerMessage::Pong { id: n }),
            ClientMessage::Leave => {
                self.sessions.remove(&session);
                self.members.remove(id);
                self.audit(
                    Some(id.into()),
                    AuditAction::ParticipantLeft,
                    id,
                    serde_json::json!({"reason": "left"}),
                    Some(Presence::Left),
                );
                self.broadcast_roster();
            }
            ClientMessage::SetMuted { kind, muted } => {
                if let Some(m) = self.members.get_mut(id) {
                    m.own_muted.set(kind, muted);
                    m.refresh_mute();
                    self.broadcast_roster();
                }
            }
            other => self.command(session, id, other),
        }
    }

    fn send(&mut self, session: SessionId, msg: ServerMessage) {
        self.out.push_back(Output::Send { session, msg });
    }

    fn audit(
        &mut self,
        actor: Option<ParticipantId>,
        action: AuditAction,
        subject: &str,
        details: serde_json::Value,
        presence: Option<Presence>,
    ) {
        self.out.push_back(Output::Audit {
            actor,
            action,
            subject: subject.into(),
            details,
            presence,
        });
    }

    fn roster_message(&self, viewer: &str) -> Option<ServerMessage> {
        let m = self.members.get(viewer)?;
        let participants = roster::roster_for(
            viewer,
            m.role,
            m.view.place,
            self.members.values().map(|x| &x.view),
        );
        Some(ServerMessage::Roster { participants })
    }

    /// Sends every connected member the roster they may see.
    fn broadcast_roster(&mut self) {
        let targets: Vec<(SessionId, ParticipantId)> = self
            .members
            .iter()
            .filter_map(|(id, m)| Some((m.session?, id.clone())))
            .collect();
        for (session, id) in targets {
            if let Some(r) = self.roster_message(id.as_str()) {
                self.send(session, r);
            }
        }
        self.emit_routes();
    }
}
