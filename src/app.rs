//! Wiring: opens the database and keys, starts the HTTPS server and the webhook worker, and
//! shuts them down in order. Shared by `gavel serve` and the integration tests, so the tests
//! run exactly what operators run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::auth::keyring::{KeyError, KeyRing, KeyStore};
use crate::clock::now_ms;
use crate::config::{Config, ConfigError};
use crate::db::{Db, DbError};
use crate::http::AppState;
use crate::http::tls::{TlsError, ensure_certificate};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Database unreachable or schema failure.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Signing keys unreadable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// TLS certificate problem.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The data directory or listener could not be set up.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Makes `ring` the TLS crypto provider for the whole process (server and webhook client).
pub fn install_crypto_provider() {
    // Err only means a provider is already installed (e.g. a second server in one test binary).
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Creates the data directory (mode 0700) and opens the database and signing keys.
pub async fn open(config: &Config) -> Result<(Db, KeyRing), StartError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = &config.server.data_dir;
    let io = |what: &str| {
        let what = format!("{what} {}", dir.display());
        move |source| StartError::Io { what, source }
    };
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(io("creating data directory"))?;
        // Only a directory we created is restricted; an operator's existing one keeps its mode.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io("restricting data directory"))?;
    }
    let db = Db::connect(&config.database_url(), config.database.max_connections).await?;
    let keys = KeyRing::load_or_create(&config.keys_dir(), now_ms())?;
    Ok((db, keys))
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    handle: Handle<SocketAddr>,
    serve: JoinHandle<std::io::Result<()>>,
    worker: JoinHandle<()>,
    /// Signs checkpoints of the audit log's head.
    checkpointer: JoinHandle<()>,
    db: Db,
    grace: Duration,
    rooms: Arc<crate::rooms::Rooms>,
    courtroom: Arc<crate::courtroom::Courtroom>,
}

impl Server {
    /// Validates `config`, opens everything and starts listening.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        config.validate()?;
        install_crypto_provider();
        let (db, keys) = open(&config).await?;
        let (cert, key) = ensure_certificate(&config.server)?;
        let tls = RustlsConfig::from_pem_file(&cert, &key)
            .await
            .map_err(|source| StartError::Io {
                what: format!("loading TLS certificate {}", cert.display()),
                source,
            })?;
        let listen = config.server.listen;
        let io_err = |source| StartError::Io {
            what: format!("listening on {listen}"),
            source,
        };
        // Bind before building the state, so join links carry the real port even for port 0.
        let listener = std::net::TcpListener::bind(listen).map_err(io_err)?;
        listener.set_nonblocking(true).map_err(io_err)?;
        let addr = listener.local_addr().map_err(io_err)?;
        let mut config = config;
        config.resolve(Some(addr.port()));
        let outbox = Arc::new(Notify::new());
        let worker = tokio::spawn(tracing::Instrument::instrument(
            crate::webhook::delivery::run(db.clone(), config.webhooks.clone(), outbox.clone()),
            tracing::info_span!("webhooks"),
        ));
        let grace = Duration::from_secs(config.server.shutdown_grace_secs);
        let keys = Arc::new(KeyStore::new(config.keys_dir(), keys));
        let recordings = config.recordings_dir();
        // Segments a crash left open are closed into their manifests before any room runs.
        let index = crate::recording::index::Index {
            db: db.clone(),
            outbox: outbox.clone(),
        };
        let recovered =
            crate::recording::recover::recover_all(&recordings, &index, &keys.ring()).await;
        if recovered.segments > 0 {
            tracing::warn!(
                recovered = recovered.segments,
                "open recording segments recovered after a crash"
            );
        }
        // Every sealed recording gets its composite (or a fault saying why not), also when
        // recovery sealed it or a crash came between the seal and the render; one that failed
        // for itself keeps its failure (it is rendered again on request).
        let resume = crate::recording::compose::never_finished(&db, recovered.uncomposed).await;
        crate::recording::compose::interrupted(&db).await;
        let composer =
            crate::recording::compose::Composer::new(index, recordings.clone(), keys.clone());
        if config.recording.auto_composite {
            for hearing in resume {
                composer.start(hearing);
            }
        }
        let rooms = Arc::new(crate::rooms::Rooms::new(
            db.clone(),
            outbox.clone(),
            config.signaling.clone(),
            config.recording.clone(),
            keys.clone(),
            composer.clone(),
            config
                .transcription
                .live
                .then(|| crate::transcribe::captioners::Captioners::start(&config.transcription)),
        ));
        let shield = crate::written::shield::Shield::new(&config.shielding)
            .map_err(crate::config::ConfigError::from)?;
        let checkpointer = tokio::spawn(tracing::Instrument::instrument(
            crate::checkpoint::run(
                db.clone(),
                keys.clone(),
                config.server.data_dir.clone(),
                outbox.clone(),
                Duration::from_secs(config.audit.checkpoint_secs),
            ),
            tracing::info_span!("audit-checkpoints"),
        ));
        let courtroom = Arc::new(crate::courtroom::Courtroom::new(db.clone(), rooms.clone()));
        {
            // The devices of hearings that were live when the server stopped come back.
            let courtroom = courtroom.clone();
            tokio::spawn(async move { courtroom.sync_all().await });
        }
        let plane = start_plane(&config.media).map_err(|e| StartError::Io {
            what: "starting the media plane".into(),
            source: match e {
                crate::sfu::plane::PlaneError::Io(e) => e,
                e => std::io::Error::other(e.to_string()),
            },
        })?;
        let sfu = crate::sfu::PeerFactory::new(config.media.udp_addrs.clone())
            .with_port_range(config.media.port_range.map(|[a, b]| a..=b))
            .with_announced_ip(config.media.announce_ip)
            // The plane names one address; subscribers reachable at several keep
            // connections of their own, which gather them all.
            .with_plane(plane.clone().filter(|_| config.media.udp_addrs.len() == 1));
        let state = AppState {
            rooms: rooms.clone(),
            courtroom: courtroom.clone(),
            whip: Arc::new(crate::whip::Whip::new(rooms.clone(), sfu.clone(), plane)),
            composer,
            shield: Arc::new(shield),
            sfu,
            db: db.clone(),
            keys,
            config: Arc::new(config),
            outbox,
        };
        let app = crate::http::router(state, crate::docket::router());
        let handle = Handle::new();
        let server = match axum_server::from_tcp_rustls(listener, tls) {
            Ok(s) => s,
            Err(e) => {
                worker.abort();
                checkpointer.abort();
                return Err(io_err(e));
            }
        };
        let serve = tokio::spawn(server.handle(handle.clone()).serve(app.into_make_service()));
        tracing::info!(%addr, "listening (HTTPS)");
        Ok(Self {
            addr,
            handle,
            serve,
            worker,
            checkpointer,
            db,
            grace,
            rooms,
            courtroom,
        })
    }

    /// Hearing rooms currently live (a room retires when its hearing ends).
    pub fn live_rooms(&self) -> usize {
        self.rooms.live()
    }

    /// Serves until `shutdown` completes, then shuts down gracefully. Returns an error if the
    /// listener stops on its own first.
    pub async fn run_until(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        tokio::select! {
            () = shutdown => {
                self.shutdown().await;
                Ok(())
            }
            ended = &mut self.serve => {
                self.worker.abort();
                self.checkpointer.abort();
                self.db.close().await;
                match ended {
                    Ok(Err(e)) => Err(e),
                    Ok(Ok(())) => Err(std::io::Error::other("the HTTPS listener stopped unexpectedly")),
                    Err(e) => Err(std::io::Error::other(e)),
                }
            }
        }
    }

    /// The bound address (useful when listening on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish within the grace period, then closes
    /// the database. Queued webhook events stay in the outbox for the next start.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(self.grace));
        if let Err(e) = self.serve.await {
            tracing::warn!(error = %e, "server task ended abnormally");
        }
        self.courtroom.stop_all().await;
        self.worker.abort();
        self.checkpointer.abort();
        let _ = self.worker.await;
        let _ = self.checkpointer.await;
        self.db.close().await;
        tracing::info!("shut down");
    }
}

/// Starts the media plane as `media` configures it: none when it is off, or when its address
/// is a wildcard with nothing to announce (it could not name an address to clients).
fn start_plane(
    media: &crate::config::MediaConfig,
) -> Result<Option<crate::sfu::plane::Plane>, crate::sfu::plane::PlaneError> {
    if !media.plane {
        return Ok(None);
    }
    let Some(mut addr) = media
        .udp_addrs
        .first()
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
    else {
        tracing::warn!("media.udp_addrs names no ip:port; the media plane stays off");
        return Ok(None);
    };
    if addr.ip().is_unspecified() && media.announce_ip.is_none() {
        tracing::warn!(
            "the media plane needs a specific address (media.udp_addrs) or media.announce_ip; \
             it stays off"
        );
        return Ok(None);
    }
    // Inside the firewall's range when there is one (its connections take the other ports).
    let port = match (media.plane_port, media.port_range) {
        (0, Some([first, _])) => first,
        (port, _) => port,
    };
    addr.set_port(port);
    let plane = crate::sfu::plane::Plane::start_announcing(addr, media.announce_ip, None)?;
    tracing::info!(addr = %plane.addr(), "media plane started");
    Ok(Some(plane))
}
