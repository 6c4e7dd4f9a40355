//! Drives the room engine: one task per hearing owns its [`engine::Room`], fed through a
//! bounded channel; it executes the room's outputs (messages to sessions, audit entries,
//! presence webhooks) and wakes for the room's timeouts.
//!
//! Invariants: nothing else touches a room (no shared lock); a session whose outgoing queue is
//! full is disconnected rather than slowing the room; audit and webhook writes are awaited in
//! order, so the record matches what participants saw.
//!
//! A room retires (its task ends) when its hearing ends: a judge ends it in the room, or the
//! platform closes it through the case API. A message for a retired room starts a new one,
//! which refuses nobody by itself: joins to a closed hearing are refused before they get here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gavel_signaling::{ErrorCode, ServerMessage};
use tokio::sync::{Notify, mpsc};

use crate::auth::Actor;
use crate::config::{RecordingConfig, SignalingConfig};
use crate::db::Db;
use crate::domain::HearingKind;
use crate::engine::{Arrival, Disconnect, Input, Output, Presence, Room, RoomPolicy, SessionId};
use crate::fault::Component;
use crate::hearing::TransitionError;
use crate::recording::compose::Composer;
use crate::recording::manifest_log::ManifestLog;
use crate::recording::writer::Fault;
use crate::sfu::peer::PeerHandle;
use crate::transcribe::live::{CaptionEvent, Captioner};

mod media;
mod record;
use media::MediaRouting;

pub use crate::sfu::link::{MediaEvent, Outbound, RoomLink};

/// What a session (or the server) sends to a room.
#[derive(Debug)]
pub enum RoomMsg {
    /// A verified participant joins with a new session and its outgoing queue.
    Join {
        /// The session.
        session: SessionId,
        /// Who.
        who: Arrival,
        /// Where the room sends this session's messages.
        tx: mpsc::Sender<Outbound>,
        /// A fresh media actor for the session.
        media: PeerHandle,
        /// The client asks to keep its previous session's media.
        resume: bool,
        /// Where the room says which media actor the session uses.
        reply: tokio::sync::oneshot::Sender<PeerHandle>,
    },
    /// Anything else for the engine.
    Input(Input),
    /// Tracks appearing and ending.
    Media(MediaEvent),
}

/// Media events enter the room's one queue, in order with everything else it is told.
fn media_link(tx: mpsc::Sender<RoomMsg>) -> RoomLink {
    RoomLink::new(move |ev| {
        let tx = tx.clone();
        async move {
            // overflow: await (track lifecycle must not be lost)
            let _ = tx.send(RoomMsg::Media(ev)).await;
        }
    })
}

/// All live rooms of this server.
#[derive(Debug)]
pub struct Rooms {
    rooms: Mutex<HashMap<String, mpsc::Sender<RoomMsg>>>,
    next_session: AtomicU64,
    db: Db,
    outbox: Arc<Notify>,
    config: SignalingConfig,
    /// Which hearings are recorded from the start, where, in segments of what length.
    recording: RecordingConfig,
    /// Seal recordings when hearings close.
    keys: Arc<crate::auth::keyring::KeyStore>,
    /// Renders composites of sealed recordings (when the court wants them at once).
    composer: Arc<Composer>,
    /// Live captions (none: turned off in the configuration).
    captioner: Option<Arc<Captioner>>,
}

/// A judge's request to move the hearing: session, request number, actor, state.
type Transition = (
    SessionId,
    Option<u32>,
    String,
    gavel_signaling::HearingPhase,
);

/// Messages queued per room before senders wait. Control traffic only (not media).
const ROOM_QUEUE: usize = 1024;

impl Rooms {
    /// No rooms yet.
    pub fn new(
        db: Db,
        outbox: Arc<Notify>,
        config: SignalingConfig,
        recording: RecordingConfig,
        keys: Arc<crate::auth::keyring::KeyStore>,
        composer: Arc<Composer>,
        captioner: Option<Arc<Captioner>>,
    ) -> Self {
        Self {
            rooms: Mutex::new(HashMap::new()),
            next_session: AtomicU64::new(1),
            db,
            outbox,
            config,
            recording,
            keys,
            composer,
            captioner,
        }
    }

    /// A fresh session number.
    pub fn new_session(&self) -> SessionId {
        SessionId(self.next_session.fetch_add(1, Ordering::Relaxed))
    }

    /// The room of `hearing` as its media actors reach it, started if needed.
    pub fn link(&self, hearing: &str, kind: HearingKind) -> RoomLink {
        media_link(self.queue(hearing, kind))
    }

    /// The queue of `hearing`'s room, started if needed (or if the last one retired).
    fn queue(&self, hearing: &str, kind: HearingKind) -> mpsc::Sender<RoomMsg> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = rooms.get(hearing)
            && !tx.is_closed()
        {
            return tx.clone();
        }
        // Starting a room (rare): forget every retired one while here.
        rooms.retain(|_, tx| !tx.is_closed());
        let tx = self.spawn(hearing, kind);
        rooms.insert(hearing.to_owned(), tx.clone());
        tx
    }

    /// Delivers `msg` to the room of `hearing`. Only a join (authorised against an open
    /// hearing) starts a room; anything else for a retired room is a leftover and dropped.
    pub async fn send(&self, hearing: &str, kind: HearingKind, msg: RoomMsg) {
        let tx = if matches!(msg, RoomMsg::Join { .. }) {
            self.queue(hearing, kind)
        } else {
            let rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
            match rooms.get(hearing) {
                Some(tx) => tx.clone(),
                None => return,
            }
        };
        // overflow: await (control messages must not be lost)
        if tx.send(msg).await.is_err() {
            // The room retired meanwhile: only leftovers of its ended sessions arrive late.
            tracing::debug!(hearing = %hearing, "room retired; message dropped");
        }
    }

    /// Tells the room of `hearing`, if one is live, what the platform changed.
    pub async fn notify(&self, hearing: &str, input: Input) {
        let tx = {
            let rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
            rooms.get(hearing).cloned()
        };
        match tx {
            // overflow: await (the platform's change must reach the room)
            Some(tx) => drop(tx.send(RoomMsg::Input(input)).await),
            // Closed with nobody in the room (after a crash, say): the room would have sealed
            // the recording, so it is sealed here.
            None if matches!(input, Input::HearingClosed) => self.seal_unattended(hearing).await,
            None => {}
        }
    }

    /// Seals the recording of `hearing`, closed while no room ran, if it has one.
    async fn seal_unattended(&self, hearing: &str) {
        let dir = self.recording.dir.clone().unwrap_or_default().join(hearing);
        if !dir.join(crate::recording::MANIFEST).exists() {
            return;
        }
        let log = ManifestLog::new(dir, hearing.to_owned(), Some(self.index()));
        let composer = self.recording.auto_composite.then_some(&self.composer);
        record::seal(&log, &self.keys, composer, &self.db).await;
    }

    /// The database index of recordings.
    fn index(&self) -> crate::recording::index::Index {
        crate::recording::index::Index {
            db: self.db.clone(),
            outbox: self.outbox.clone(),
        }
    }

    /// How many rooms are live.
    pub fn live(&self) -> usize {
        let rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        rooms.values().filter(|tx| !tx.is_closed()).count()
    }

    fn spawn(&self, hearing: &str, kind: HearingKind) -> mpsc::Sender<RoomMsg> {
        let (tx, rx) = mpsc::channel(ROOM_QUEUE);
        let policy = RoomPolicy {
            lobby: self.config.lobby_kinds.contains(&kind),
            grace: Duration::from_millis(self.config.grace_ms),
            heartbeat_ms: self.config.heartbeat_ms,
            record: self.recording.kinds.contains(&kind),
        };
        let index = self.index();
        let dir = self.recording.dir.clone().unwrap_or_default().join(hearing);
        // overflow: drop (see the recording writer: faults beyond this are logged only)
        let (faults, fault_rx) = mpsc::channel(16);
        // overflow: await (the workers wait for the room; captions are never dropped)
        let (captions, caption_rx) = mpsc::channel(256);
        let unavailable = self
            .captioner
            .as_ref()
            .and_then(|c| c.why_unavailable().map(str::to_owned));
        let target = crate::recording::writer::Target {
            log: ManifestLog::new(dir, hearing.to_owned(), Some(index)),
            segment: Duration::from_secs(self.recording.segment_secs),
            faults,
        };
        let task = RoomTask {
            hearing: hearing.to_owned(),
            room: Room::new(hearing.to_owned(), policy),
            sessions: HashMap::new(),
            media: match self
                .captioner
                .as_ref()
                .filter(|c| c.why_unavailable().is_none())
            {
                Some(c) => MediaRouting::recording_into(target).captioned(c.clone(), captions),
                None => MediaRouting::recording_into(target),
            },
            db: self.db.clone(),
            outbox: self.outbox.clone(),
            retiring: false,
            held: record::HeldAudit::default(),
            keys: self.keys.clone(),
            composer: self.recording.auto_composite.then(|| self.composer.clone()),
        };
        let span = tracing::info_span!("room", hearing = %hearing);
        tokio::spawn(tracing::Instrument::instrument(
            task.run(rx, fault_rx, caption_rx, unavailable),
            span,
        ));
        tx
    }
}

struct RoomTask {
    hearing: String,
    room: Room,
    sessions: HashMap<SessionId, mpsc::Sender<Outbound>>,
    media: MediaRouting,
    db: Db,
    outbox: Arc<Notify>,
    /// The hearing is over: stop after this round.
    retiring: bool,
    /// Seal the recording when the hearing is over.
    keys: Arc<crate::auth::keyring::KeyStore>,
    /// Renders the composite once the recording is sealed (none: only on request).
    composer: Option<Arc<Composer>>,
    /// Audit entries the database could not take (an outage), in order, written before the
    /// next one.
    held: record::HeldAudit,
}

impl RoomTask {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<RoomMsg>,
        mut faults: mpsc::Receiver<Fault>,
        mut captions: mpsc::Receiver<CaptionEvent>,
        unavailable: Option<String>,
    ) {
        if let Some(why) = unavailable {
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
                            .then(|| self.media.resume(&who.id, session, tx.clone()))
                            .flatten();
                        let media_resumed = kept.is_some();
                        let used = match kept {
                            Some(kept) => {
                                media.close();
                                kept
                            }
                            None => {
                                self.media.attach(&who.id, session, media.clone());
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
        let (session, req, actor, to) = t;
        let state = match to {
            HearingPhase::InSession => crate::domain::HearingState::InSession,
            HearingPhase::Recess => crate::domain::HearingState::Recess,
            _ => return, // refused by the protocol's validation
        };
        let result = crate::hearing::transition::apply(
            &self.db,
            &self.outbox,
            &self.hearing,
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
                } => transitions.push((session, req, actor, to)),
                Output::End { session, reason } => {
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
            self.record(actor, action, &subject, details, presence)
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
