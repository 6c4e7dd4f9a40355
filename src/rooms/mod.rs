//! The live rooms of this server: one task per hearing owns its [`engine::Room`], fed through
//! a bounded channel (`task`); it executes the room's outputs (messages to sessions, routing,
//! audit entries and presence webhooks: `record`) and wakes for the room's timeouts. Its media
//! side (`media`) hands each participant's media actor what they may receive, and brings the
//! recorders (`recorders`) and caption listeners (`captions`) to what should run (`running`).
//!
//! Invariants: nothing else touches a room (no shared lock); a session whose outgoing queue is
//! full is disconnected rather than slowing the room; audit and webhook writes are awaited in
//! order, so the record matches what participants saw.
//!
//! A room retires (its task ends) when its hearing ends: a judge ends it in the room, or the
//! platform closes it through the case API. Only a join starts a room again, and joins to a
//! closed hearing are refused before they get here; anything else for a retired room is a
//! leftover of its ended sessions and dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use crate::config::{RecordingConfig, SignalingConfig};
use crate::db::Db;
use crate::domain::{HearingId, HearingKind};
use crate::engine::{Arrival, Input, Presence, Room, RoomPolicy, SessionId};
use crate::recording::compose::Composer;
use crate::recording::manifest_log::ManifestLog;
use crate::sfu::peer::PeerHandle;
use crate::transcribe::captioners::Captioners;

mod captions;
mod main_view;
mod media;
mod record;
mod recorders;
mod running;
mod task;
mod viewers;
use media::MediaRouting;
use task::RoomTask;

pub use crate::sfu::link::{MediaEvent, Outbound, RoomLink};
pub use main_view::MainViewer;
pub use viewers::Viewer;

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
    /// A participant without a socket takes its place: a courtroom device, or an encoder
    /// publishing over WHIP. It receives nothing, and what the room says to its session goes
    /// nowhere.
    JoinSeat {
        /// Its session.
        session: SessionId,
        /// Who.
        who: Arrival,
        /// Fired when the room ends the session (replaced by the same participant joining
        /// elsewhere, removed, the hearing over).
        ended: tokio_util::sync::CancellationToken,
    },
    /// A viewer outside the room (WHEP) starts watching.
    View(Viewer),
    /// A viewer starts watching the hearing's main view.
    ViewMain(MainViewer),
    /// Viewer `owner` stops watching.
    Unview(u64),
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

/// The place in a room of a participant without a socket (a courtroom device, a WHIP
/// encoder).
#[derive(Debug, Clone)]
pub struct Seat {
    tx: mpsc::Sender<RoomMsg>,
    /// Where its tracks are reported.
    pub link: RoomLink,
    /// Its session in the room.
    pub session: SessionId,
    ended: tokio_util::sync::CancellationToken,
}

impl Seat {
    /// Tells the room something about it (a device's stream lost or back, its removal).
    pub async fn tell(&self, input: Input) {
        // overflow: await (the court must be told); a retired room just drops it
        let _ = self.tx.send(RoomMsg::Input(input)).await;
    }

    /// Resolves once the room has retired (its hearing is over).
    pub async fn retired(&self) {
        self.tx.closed().await;
    }

    /// Resolves once the room has ended this session (the participant joined elsewhere, was
    /// removed, or the hearing is over).
    pub async fn ended(&self) {
        self.ended.cancelled().await;
    }
}

/// A viewer's hold on a room.
#[derive(Debug)]
pub struct Watch {
    tx: mpsc::Sender<RoomMsg>,
    owner: u64,
}

impl Watch {
    /// The viewer stops watching.
    pub async fn end(&self) {
        // overflow: await (outlets must come off); a retired room has none left
        let _ = self.tx.send(RoomMsg::Unview(self.owner)).await;
    }

    /// Resolves once the room has retired (its hearing is over).
    pub async fn retired(&self) {
        self.tx.closed().await;
    }
}

/// All live rooms of this server.
#[derive(Debug)]
pub struct Rooms {
    rooms: Mutex<HashMap<HearingId, mpsc::Sender<RoomMsg>>>,
    /// Hearings whose room retired because the hearing is over: never started again (a
    /// device, encoder or viewer arriving late must not open a room for a closed hearing).
    over: Arc<Mutex<std::collections::HashSet<HearingId>>>,
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
    captioners: Option<Arc<Captioners>>,
}

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
        captioners: Option<Arc<Captioners>>,
    ) -> Self {
        Self {
            rooms: Mutex::new(HashMap::new()),
            over: Arc::default(),
            next_session: AtomicU64::new(1),
            db,
            outbox,
            config,
            recording,
            keys,
            composer,
            captioners,
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

    /// Whether `hearing`'s room retired because the hearing is over.
    pub fn is_over(&self, hearing: &str) -> bool {
        let over = self.over.lock().unwrap_or_else(|p| p.into_inner());
        over.contains(hearing)
    }

    /// The queue of `hearing`'s room, started if needed (or if the last one retired for want
    /// of people). A hearing that is over gets a closed queue: what is sent to it is dropped,
    /// and whoever waits for it to retire stops at once.
    fn queue(&self, hearing: &str, kind: HearingKind) -> mpsc::Sender<RoomMsg> {
        if self.is_over(hearing) {
            tracing::debug!(hearing, "the hearing is over; no room");
            return mpsc::channel(1).0;
        }
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = rooms.get(hearing)
            && !tx.is_closed()
        {
            return tx.clone();
        }
        // Starting a room (rare): forget every retired one while here.
        rooms.retain(|_, tx| !tx.is_closed());
        let tx = self.spawn(hearing, kind);
        rooms.insert(HearingId::from(hearing), tx.clone());
        tx
    }

    /// Delivers `msg` to the room of `hearing`. Only a join (authorised against an open
    /// hearing) starts a room; anything else for a retired room is a leftover and dropped.
    pub async fn send(&self, hearing: &str, kind: HearingKind, msg: RoomMsg) {
        let tx = if matches!(msg, RoomMsg::Join { .. } | RoomMsg::JoinSeat { .. }) {
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

    /// Seats `who`, a participant without a socket (a courtroom device, a WHIP encoder), in the
    /// room of `hearing` (started if needed): its way to publish into it, and to know when the
    /// room retires.
    pub async fn seat(&self, hearing: &str, kind: HearingKind, who: Arrival) -> Seat {
        let tx = self.queue(hearing, kind);
        let session = self.new_session();
        let ended = tokio_util::sync::CancellationToken::new();
        // overflow: await (a join must not be lost)
        let _ = tx
            .send(RoomMsg::JoinSeat {
                session,
                who,
                ended: ended.clone(),
            })
            .await;
        Seat {
            link: media_link(tx.clone()),
            tx,
            session,
            ended,
        }
    }

    /// Lets `viewer` watch in the room of `hearing` (started if needed); returns the way to
    /// tell the room it stopped, and to know when the room retires.
    pub async fn view(&self, hearing: &str, kind: HearingKind, viewer: Viewer) -> Watch {
        let tx = self.queue(hearing, kind);
        let owner = viewer.owner;
        // overflow: await (must not be lost)
        let _ = tx.send(RoomMsg::View(viewer)).await;
        Watch { tx, owner }
    }

    /// Viewer `viewer` watches the main view of `hearing` (the room starts if it is not live).
    pub async fn view_main(&self, hearing: &str, kind: HearingKind, viewer: MainViewer) -> Watch {
        let tx = self.queue(hearing, kind);
        let owner = viewer.owner;
        // overflow: await (must not be lost)
        let _ = tx.send(RoomMsg::ViewMain(viewer)).await;
        Watch { tx, owner }
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
        let target = crate::recording::writer::Target {
            log: ManifestLog::new(dir, hearing.to_owned(), Some(index)),
            segment: Duration::from_secs(self.recording.segment_secs),
            faults,
        };
        let task = RoomTask {
            hearing: hearing.into(),
            room: Room::new(hearing.into(), policy),
            sessions: HashMap::new(),
            seats: HashMap::new(),
            media: MediaRouting::recording_into(target),
            db: self.db.clone(),
            outbox: self.outbox.clone(),
            retiring: false,
            over: self.over.clone(),
            held: record::HeldAudit::default(),
            keys: self.keys.clone(),
            composer: self.recording.auto_composite.then(|| self.composer.clone()),
        };
        let span = tracing::info_span!("room", hearing = %hearing);
        tokio::spawn(tracing::Instrument::instrument(
            task.run(
                rx,
                fault_rx,
                (self.captioners.clone(), captions, caption_rx),
            ),
            span,
        ));
        tx
    }
}
