//! The database handle: one pool over SQLite or PostgreSQL chosen by URL, and write
//! transactions that keep the audit chain linear.
//!
//! All SQL in Gavel is written once, portable between both backends (`$1` placeholders, TEXT
//! and BIGINT only), and runs through `sqlx::Any`. Every state change goes through
//! [`Db::begin_write`], which serialises writers so that the change and its audit entry commit
//! together or not at all and no two entries claim the same place in the chain.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// Connecting or a query failed.
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// Applying the schema failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row the write depends on is not there (nothing was written).
    #[error("database: no such {0}")]
    Missing(&'static str),
}

impl DbError {
    /// Whether the database could not be reached (down, restarting, unreachable, the pool
    /// waiting in vain), as opposed to a query it refused: callers answer "try again".
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Sqlx(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed,
            ) => true,
            // PostgreSQL classes 08 (connection exception) and 57 (operator intervention: a
            // server shutting down).
            Self::Sqlx(sqlx::Error::Database(d)) => d
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57")),
            _ => false,
        }
    }
}

/// How long a request waits for a database connection. Short: when the database is down the
/// caller is told so (503) at once instead of hanging for sqlx's default 30 s.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Which engine the URL selected; a few statements (locks, pragmas) differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Backend {
    fn of(url: &str) -> Self {
        if url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// A cloneable handle to the pool.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    writer: Arc<Mutex<()>>,
}

/// A transaction that holds the writer slot until it is committed or dropped.
#[derive(Debug)]
pub struct WriteTx {
    /// The open transaction.
    pub tx: Transaction<'static, Any>,
    _writer: OwnedMutexGuard<()>,
}

impl WriteTx {
    /// Commits the change and its audit entries together.
    pub async fn commit(self) -> Result<(), DbError> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// The schema, embedded so the binary needs no files beside it.
fn migrator() -> Migrator {
    let step = |version, name: &str, sql: &'static str| {
        Migration::new(
            version,
            name.to_owned().into(),
            MigrationType::Simple,
            sqlx::SqlSafeStr::into_sql_str(sql),
            false,
        )
    };
    Migrator::with_migrations(vec![
        step(
            1,
            "case api",
            include_str!("docket/migrations/0001_case_api.sql"),
        ),
        step(
            2,
            "recordings",
            include_str!("docket/migrations/0002_recordings.sql"),
        ),
        step(
            3,
            "transcripts",
            include_str!("docket/migrations/0003_transcripts.sql"),
        ),
        step(
            4,
            "written record",
            include_str!("docket/migrations/0004_written_record.sql"),
        ),
        step(
            5,
            "courtroom devices",
            include_str!("docket/migrations/0005_devices.sql"),
        ),
        step(
            6,
            "device checks",
            include_str!("docket/migrations/0006_device_checks.sql"),
        ),
        step(
            7,
            "whip devices",
            include_str!("docket/migrations/0007_whip_devices.sql"),
        ),
        step(
            8,
            "device authorities",
            include_str!("docket/migrations/0008_device_authorities.sql"),
        ),
        step(
            9,
            "hearing language",
            include_str!("docket/migrations/0009_hearing_language.sql"),
        ),
        step(
            10,
            "mediation agreements",
            include_str!("docket/migrations/0010_mediation_agreements.sql"),
        ),
    ])
}

impl Db {
    /// Connects and brings the schema up to date.
    pub async fn connect(url: &SecretString, max_connections: u32) -> Result<Self, DbError> {
        install_default_drivers();
        let url = url.expose_secret();
        let backend = Backend::of(url);
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        if backend == Backend::Sqlite {
            // WAL lets the CLI read while the server writes; it persists in the file.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        migrator().run(&pool).await?;
        Ok(Self {
            pool,
            backend,
            writer: Arc::new(Mutex::new(())),
        })
    }

    /// Connects to an existing database without changing it: no migrations, no pragmas. For
    /// checks like `gavel audit verify`, which must not create what they are asked to inspect.
    pub async fn connect_read_only(url: &SecretString) -> Result<Self, DbError> {
        install_default_drivers();
        let url = url.expose_secret();
        let backend = Backend::of(url);
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?;
        Ok(Self {
            pool,
            backend,
            writer: Arc::new(Mutex::new(())),
        })
    }

    /// The pool, for reads.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction for a state change. Writers in this process queue here; writers in
    /// other processes (the CLI, a second server) are kept out of the audit chain by a table
    /// lock on PostgreSQL and by SQLite's single-writer rule.
    pub async fn begin_write(&self) -> Result<WriteTx, DbError> {
        let guard = self.writer.clone().lock_owned().await;
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        if self.backend == Backend::Postgres {
            sqlx::query("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        Ok(WriteTx { tx, _writer: guard })
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
