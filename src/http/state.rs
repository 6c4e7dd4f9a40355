//! The state every request handler reads: the server's parts, built once by `app` at start.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::auth::keyring::KeyStore;
use crate::config::Config;
use crate::db::Db;

/// State shared by every request handler. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Join-token signing keys.
    pub keys: Arc<KeyStore>,
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Wakes the webhook worker when events are queued.
    pub outbox: Arc<Notify>,
    /// The live hearing rooms.
    pub rooms: Arc<crate::rooms::Rooms>,
    /// The courtroom devices pulled into live hearings.
    pub courtroom: Arc<crate::courtroom::Courtroom>,
    /// Encoders publishing over WHIP.
    pub whip: Arc<crate::whip::Whip>,
    /// Builds media peer connections.
    pub sfu: crate::sfu::PeerFactory,
    /// Renders hearing composites.
    pub composer: Arc<crate::recording::compose::Composer>,
    /// Masks the public copy of the written record (built once from `[shielding]`).
    pub shield: Arc<crate::written::shield::Shield>,
}
