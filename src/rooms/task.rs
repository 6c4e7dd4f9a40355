//! One room's task: it owns the hearing's [`Room`] engine, feeds it what sessions, media
//! actors, recorders and captioners report (with the current time), wakes for its timeouts, and
//! carries out its outputs: messages to sessions first, then routing, then the record (which
//! waits on the database, so a slow database never delays a court rule).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gavel_signaling::{ErrorCode, ServerMessage};
use tokio::sync::{Notify, mpsc};

use super::media::MediaRouting;
use super::{Outbound, RoomMsg, record};
use crate::auth::Actor;
use crate::db::Db;
use crate::domain::{HearingId, ParticipantId};
use crate::engine::{Disconnect, Input, Output, Room, SessionId};
use crate::fault::Component;
use crate::hearing::TransitionError;
use crate::recording::compose::Composer;
use crate::recording::writer::Fault;
use crate::transcribe::captioners::Captioners;
use crate::transcribe::live::CaptionEvent;

/// The court's captioners (none: live captions are off), and the room's caption channel.
pub(super) type CaptionWiring = (
    Option<Arc<Captioners>>,
    mpsc::Sender<CaptionEvent>,
    mpsc::Receiver<CaptionEvent>,
);

/// A judge's request to move the hearing, waiting for the record.
struct Transition {
    /// The asking session.
    session: SessionId,
    /// Its request number.
    req: Option<u32>,
    /// The judge.
    actor: ParticipantId,
    /// The state asked for.
    to: gavel_signaling::HearingPhase,
}

/// The task that owns one room.
pub(super) struct RoomTask {
    pub(super) hearing: HearingId,
    pub(super) room: Room,
    pub(super) sessions: HashMap<SessionId, mpsc::Sender<Outbound>>,
    /// Participants without a socket (devices, WHIP encoders): told when the room ends them.
    pub(super) seats: HashMap<SessionId, tokio_util::sync::CancellationToken>,
    pub(super) media: MediaRouting,
    pub(super) db: Db,
    pub(super) outbox: Arc<Notify>,
    /// The hearing is over: stop after this round.
    pub(super) retiring: bool,
    /// Hearings over, server-wide: this one joins them when it retires.
    pub(super) over: Arc<std::sync::Mutex<std::collections::HashSet<HearingId>>>,
    /// Seal the recording when the hearing is over.
    pub(super) keys: Arc<crate::auth::keyring::KeyStore>,
    /// Renders the composite once the recording is sealed (none: only on request).
    pub(super) composer: Option<Arc<Composer>>,
    /// Audit entries the database could not take (an outage), in order, written before the
    /// next one.
    pub(super) held: record::HeldAudit,
}

impl RoomTask {
    /// Captions the hearing in its language (the case API's, else the court's) before anyone
    /// joins; returns why captions are unavailable, when they are (the hearing runs on).
    async fn start_captions(
        &mut self,
        captioners: Option<Arc<Captioners>>,
        out: mpsc::Sender<CaptionEvent>,
    ) -> Option<String> {
        let captioners = captioners?;
        let language = match crate::hearing::load(self.db.pool(), self.hearing.as_str()).await {
            Ok(h) => h.and_then(|h| h.language),
            Err(e) => {
                // The court's language stands in (the warning says why).
                tracing::warn!(error = %e, "the hearing's language could not be read");
                None
            }
        };
        let captioner = captioners.language(language.as_deref());
        if let Some(why) = captioner.why_unavailable() {
            return Some(why.to_owned());
        }
        let media = std::mem::take(&mut self.media);
        self.media = media.captioned(captioner, out);
        None
    }

    /// Runs the room until its hearing is over and its record is closed.
    pub(super) async fn run(
        mut self,
        mut rx: mpsc::Receiver<RoomMsg>,
        mut faults: mpsc::Receiver<Fault>,
        (captioners, caption_tx, mut captions): CaptionWiring,
    ) {
        if let Some(why) = self.start_captions(captioners, caption_tx).await {
            // The hearing runs on without captions; the record keepers are told, and the
            // fault is on record once per hearing room.
            let detail = format!("live captions are unavailable: {why}");
            self.fault(Component::Transcription, &detail).await;
            self.room
                .handle_input(Instant::now(), Input::CaptionsUnavailable);
        }
        // Audio levels are sampled, not pushed per packet: the forwarding path only keeps a max.
        let mut levels = tokio::time::interval(Duration::from_millis(250));
        levels.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.room.poll_timeout();
            tokio::select! {
                Some(fault) = faults.recv() => self.recording_failed(fault).await,
                Some(event) = captions.recv() => self.captioned(event).await,
                _ = levels.tick(), if self.media.has_audio() => {
                    let sample = self.media.take_levels();
                    self.room.handle_input(Instant::now(), Input::AudioLevels(sample));
                }
                msg = rx.recv() => match msg {
                    None => break,
                    Some(RoomMsg::Join { session, who, tx, media, resume, reply }) => {
                        let kept = resume
                            .then(|| self.media.resume(who.id.as_str(), session, tx.clone()))
                            .flatten();
                        let media_resumed = kept.is_some();
                        let used = match kept {
                            Some(kept) => {
                                media.close();
                                kept
                            }
                            None => {
                                self.media.attach(who.id.as_str(), session, media.clone());
                                media
                            }
                        };
                        // overflow: none (oneshot); a session gone already just drops it
                        let _ = reply.send(used);
                        self.sessions.insert(session, tx);
                        self.room.handle_input(
                            Instant::now(),
                            Input::Join { session, who, media_resumed },
                        );
                    }
                    Some(RoomMsg::JoinSeat { session, who, ended }) => {
                        self.seats.insert(session, ended);
                        self.room.handle_input(
                            Instant::now(),
                            Input::Join { session, who, media_resumed: false },
                        );
                    }
                    Some(RoomMsg::View(v)) => self.media.view(v),
                    Some(RoomMsg::ViewMain(v)) => self.media.view_main(v),
                    Some(RoomMsg::Unview(owner)) => self.media.unview(owner),
                    Some(RoomMsg::Input(input)) => {
                        if matches!(input, Input::HearingClosed) {
                            self.retiring = true;
                        }
                        if let Input::Disconnected { session, .. } = &input {
                            // The media actor is kept for a resume; it stops when the grace
                            // period ends (the participant leaves the routing table).
                            self.sessions.remove(session);
                        }
                        self.room.handle_input(Instant::now(), input);
                    }
                    Some(RoomMsg::Media(ev)) => self.media.handle(ev),
                },
                () = sleep_until(deadline), if deadline.is_some() => {
                    self.room.handle_timeout(Instant::now());
                }
            }
            self.execute().await;
            if self.retiring {
                tracing::info!("hearing over; room retired");
                self.over
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(self.hearing.clone());
                break;
            }
        }
        // Captions still on their way are stored (the transcript keeps the hearing's last
        // words): the listeners stop, handing over their last utterance, and the room waits
        // until every one is in.
        self.media.stop_captions();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match tokio::time::timeout_at(deadline, captions.recv()).await {
                Ok(Some(event)) => self.store_caption(&event).await,
                Ok(None) => break,
                Err(_) => {
                    let detail = "the transcription of the hearing's last minute may be incomplete";
                    self.fault(Component::Transcription, detail).await;
                    break;
                }
            }
        }
        // What the database could not take during the hearing is written now, or the gap is
        // recorded as a fault.
        self.flush_held().await;
        if !self.held.is_empty() {
            let detail = format!(
                "{} audit entr(ies) of the room could not be written (the database was unavailable)",
                self.held.len()
            );
            self.fault(Component::Audit, &detail).await;
        }
        // Every open segment closed into the manifest; then, the hearing being over, sealed.
        if let Some(log) = self.media.close_recordings().await
            && self.retiring
            && log.entries().await.is_ok_and(|n| n > 0)
        {
            let composer = self.composer.as_ref();
            record::seal(&log, &self.keys, composer, &self.db).await;
        }
    }

    async fn execute(&mut self) {
        loop {
            let transitions = self.execute_outputs().await;
            if transitions.is_empty() {
                break;
            }
            for t in transitions {
                self.transition(t).await;
            }
        }
    }

    /// Moves the hearing in the record as a judge asked, answers them, and tells the room.
    async fn transition(&mut self, t: Transition) {
        use gavel_signaling::HearingPhase;
        let Transition {
            session,
            req,
            actor,
            to,
        } = t;
        let state = match to {
            HearingPhase::InSession => crate::domain::HearingState::InSession,
            HearingPhase::Recess => crate::domain::HearingState::Recess,
            _ => return, // refused by the protocol's validation
        };
        let result = crate::hearing::transition::apply(
            &self.db,
            &self.outbox,
            self.hearing.as_str(),
            state,
            &Actor::Participant { id: actor },
            Some("in the hearing".to_owned()),
        )
        .await;
        let answer = match result {
            Ok(_) => {
                self.room
                    .handle_input(Instant::now(), Input::HearingStateChanged(to));
                req.map(|req| ServerMessage::Ok { req })
            }
            Err(e) => {
                let text = match &e {
                    TransitionError::Illegal(illegal) => illegal.to_string(),
                    other => {
                        tracing::error!(error = %other, "FAULT: hearing state not changed");
                        "the record could not be changed; try again".to_owned()
                    }
                };
                let code = ErrorCode::Conflict;
                Some(ServerMessage::error(req, code, text))
            }
        };
        if let (Some(msg), Some(tx)) = (answer, self.sessions.get(&session)) {
            // overflow: drop (as every room message)
            let _ = tx.try_send(Outbound::Msg(msg));
        }
    }

    /// Carries out the room's outputs; returns the hearing transitions asked for, which need
    /// the record first.
    async fn execute_outputs(&mut self) -> Vec<Transition> {
        // Messages, session ends and routing take effect first; record writes (which wait on the
        // database) come after, so a slow database never delays a court rule.
        let mut records = Vec::new();
        let mut ended = None;
        let mut transitions = Vec::new();
        while let Some(out) = self.room.poll_output() {
            match out {
                Output::Send { session, msg } => {
                    let failed = match self.sessions.get(&session) {
                        // overflow: drop (the session is disconnected below)
                        Some(tx) => match tx.try_send(Outbound::Msg(msg)) {
                            Ok(()) => None,
                            Err(e) => Some(matches!(e, mpsc::error::TrySendError::Full(_))),
                        },
                        None => None,
                    };
                    if let Some(full) = failed {
                        let why = if full {
                            tracing::warn!(
                                session = session.0,
                                "client not keeping up; disconnecting"
                            );
                            // Its media actor holds the last sender of the session's queue:
                            // stopping it closes the socket (a resume starts afresh).
                            self.media.detach(session);
                            Disconnect::TooSlow
                        } else {
                            Disconnect::Dropped
                        };
                        self.sessions.remove(&session);
                        self.room
                            .handle_input(Instant::now(), Input::Disconnected { session, why });
                    }
                }
                Output::Routes(routes) => self.media.set_routes(routes),
                Output::Viewable(list) => self.media.set_viewable(list),
                Output::Recorded(ids) => self.media.set_recorded(ids),
                Output::HearingEnded { actor } => {
                    self.retiring = true;
                    ended = Some(actor);
                }
                Output::HearingTransition {
                    session,
                    req,
                    actor,
                    to,
                } => transitions.push(Transition {
                    session,
                    req,
                    actor,
                    to,
                }),
                Output::End { session, reason } => {
                    if let Some(seat) = self.seats.remove(&session) {
                        seat.cancel();
                    }
                    self.media.detach(session);
                    if let Some(tx) = self.sessions.remove(&session) {
                        // overflow: drop (closing the channel ends the session anyway)
                        let _ = tx.try_send(Outbound::End(reason));
                    }
                }
                Output::Audit {
                    actor,
                    action,
                    subject,
                    details,
                    presence,
                } => records.push((actor, action, subject, details, presence)),
            }
        }
        for (actor, action, subject, details, presence) in records {
            self.audit(actor, action, subject.as_str(), details, presence)
                .await;
        }
        if let Some(actor) = ended {
            self.close_in_record(actor).await;
        }
        transitions
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}
