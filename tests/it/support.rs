//! Test harness: `TestApp` runs the real server on port 0 against a fresh SQLite file or a
//! fresh PostgreSQL database, with a trusted HTTPS client and a platform API key.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use gavel::app::Server;
use gavel::config::Config;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use sqlx::Connection;

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one async test body against both backends.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::support::Backend::Postgres).await;
            }
        }
    };
}

/// A running server and everything a test needs to talk to it.
pub(crate) struct TestApp {
    server: Option<Server>,
    pub(crate) config: Config,
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) api_key: String,
    pub(crate) db_url: String,
    _dir: tempfile::TempDir,
}

/// A fresh database URL for `backend`.
async fn fresh_database(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("gavel.db").display()),
        Backend::Postgres => {
            let admin = std::env::var("GAVEL_TEST_PG_URL").expect(
                "GAVEL_TEST_PG_URL must point at a PostgreSQL server (make test starts one \
                 with scripts/test-postgres.sh)",
            );
            let name = format!("gavel_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::Executor::execute(
                &mut conn,
                sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
            )
            .await
            .unwrap();
            let base = admin.rsplit_once('/').unwrap().0;
            format!("{base}/{name}")
        }
    }
}

impl TestApp {
    pub(crate) async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub(crate) async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let db_url = fresh_database(backend, dir.path()).await;
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.server.data_dir = dir.path().join("data");
        config.database.url = Some(secrecy::SecretString::from(db_url.clone()));
        config.server.shutdown_grace_secs = 2;
        config.webhooks.allow_http = true;
        config.webhooks.allow_private_targets = true;
        config.webhooks.retry_base_ms = 50;
        config.webhooks.retry_max_ms = 400;
        config.webhooks.poll_interval_ms = 200;
        config.webhooks.timeout_ms = 2000;
        // Composites render only in the tests about them (they take the CPU for seconds).
        config.recording.auto_composite = false;
        // Live captions only in the tests about them (the model takes the CPU).
        config.transcription.live = false;
        tweak(&mut config);
        gavel::app::install_crypto_provider();
        let (db, _) = gavel::app::open(&config).await.unwrap();
        let api_key = gavel::auth::apikey::create(&db, "court-platform", gavel::clock::now_ms())
            .await
            .unwrap();
        db.close().await;
        let mut app = TestApp {
            server: None,
            config,
            base: String::new(),
            client: reqwest::Client::new(),
            api_key,
            db_url,
            _dir: dir,
        };
        app.start().await;
        app
    }

    async fn start(&mut self) {
        let server = Server::start(self.config.clone()).await.unwrap();
        let port = server.local_addr().port();
        self.base = format!("https://localhost:{port}");
        let pem = std::fs::read(self.config.server.data_dir.join("tls/cert.pem")).unwrap();
        self.client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
            .build()
            .unwrap();
        self.server = Some(server);
    }

    /// Hearing rooms live in the server.
    pub(crate) fn live_rooms(&self) -> usize {
        self.server.as_ref().map_or(0, Server::live_rooms)
    }

    /// Stops the server gracefully and starts it again on the same data (a new port).
    pub(crate) async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    pub(crate) async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    /// Stops the in-process server and runs the same server as its own process (`gavel serve`
    /// on the same data, database and `toml` settings), for tests that kill it. Returns the
    /// child; the server is reached through `self` as before.
    pub(crate) async fn serve_child(&mut self, toml: &str) -> tokio::process::Child {
        self.serve_child_with(toml, &[]).await
    }

    /// `serve_child` with environment variables for the child (a crash point, say).
    pub(crate) async fn serve_child_with(
        &mut self,
        toml: &str,
        envs: &[(&str, &str)],
    ) -> tokio::process::Child {
        self.stop().await;
        let config = self.config.server.data_dir.join("child.toml");
        // Like the in-process server: live captions only where a test asks for them (a machine
        // without an imported model would otherwise record a transcription fault).
        let captions = if toml.contains("[transcription]") {
            ""
        } else {
            "[transcription]\nlive = false\n\n"
        };
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n\n[database]\nurl = \"{}\"\n\n{captions}{toml}",
                self.db_url
            ),
        )
        .unwrap();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gavel"))
            .args(["serve", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&self.config.server.data_dir)
            .env_remove("GAVEL_CONFIG")
            .env("GAVEL_LOG", "warn")
            .envs(envs.iter().copied())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(
            child.stdout.take().unwrap(),
        ));
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(l) = lines.next_line().await.unwrap() {
                if let Some(rest) = l.strip_prefix("Gavel is running: open ") {
                    return rest.split_whitespace().next().unwrap().to_owned();
                }
            }
            panic!("serve exited without printing its address");
        })
        .await
        .expect("serve printed its address in time");
        let port = url
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .unwrap()
            .to_owned();
        self.base = format!("https://localhost:{port}");
        // Keep reading its output, so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        child
    }

    /// Starts the in-process server again (after `serve_child`'s process is gone).
    pub(crate) async fn start_again(&mut self) {
        self.start().await;
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.config.server.data_dir.clone()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the platform API key.
    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.api_key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    /// POST with the API key, asserting the status, returning the JSON body.
    pub(crate) async fn post_ok(&self, path: &str, body: Value, status: u16) -> Value {
        let res = self.call(Method::POST, path, Some(body)).await;
        let got = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(got, status, "POST {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    pub(crate) async fn get_ok(&self, path: &str) -> Value {
        let res = self.call(Method::GET, path, None).await;
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    /// A docket with one trial hearing; returns `(docket_id, hearing_id)`.
    pub(crate) async fn docket_and_hearing(&self) -> (String, String) {
        let case = format!(
            "(2026) Test {}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let d = self
            .post_ok(
                "/api/v1/dockets",
                json!({"case_number": case, "title": "Li v. Wang", "court": "Test Court", "case_type": "civil"}),
                201,
            )
            .await;
        let d = d["id"].as_str().unwrap().to_owned();
        let h = self
            .post_ok(
                &format!("/api/v1/dockets/{d}/hearings"),
                json!({"kind": "trial", "scheduled_start": "2026-12-01T09:30:00+08:00"}),
                201,
            )
            .await;
        (d, h["id"].as_str().unwrap().to_owned())
    }

    /// Another hearing of `kind` (`mediation`, ...) on `docket`; returns its id.
    pub(crate) async fn hearing_of(&self, docket: &str, kind: &str) -> String {
        self.post_ok(
            &format!("/api/v1/dockets/{docket}/hearings"),
            json!({"kind": kind, "scheduled_start": "2026-12-01T09:30:00+08:00"}),
            201,
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Registers a participant with `role`; returns its id.
    pub(crate) async fn participant(&self, hearing: &str, role: &str) -> String {
        let p = self
            .post_ok(
                &format!("/api/v1/hearings/{hearing}/participants"),
                json!({"display_name": format!("Test {role}"), "role": role, "identity_ref": format!("idp:{role}")}),
                201,
            )
            .await;
        p["id"].as_str().unwrap().to_owned()
    }

    /// Mints a join token for a participant.
    pub(crate) async fn join_token(&self, hearing: &str, participant: &str) -> String {
        let l = self
            .post_ok(
                &format!("/api/v1/hearings/{hearing}/participants/{participant}/join-links"),
                json!({}),
                201,
            )
            .await;
        l["token"].as_str().unwrap().to_owned()
    }

    /// `GET .../session` with a join token.
    pub(crate) async fn session(&self, hearing: &str, token: impl std::fmt::Display) -> Response {
        self.client
            .get(self.url(&format!("/api/v1/hearings/{hearing}/session")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// A TLS client configuration trusting this server's certificate.
    pub(crate) fn tls(&self) -> std::sync::Arc<rustls::ClientConfig> {
        let pem = std::fs::read(self.config.server.data_dir.join("tls/cert.pem")).unwrap();
        gavel_signaling::client::trusting(&pem).unwrap()
    }

    /// A signaling connection (not yet joined).
    pub(crate) async fn connect_ws(&self) -> gavel_signaling::client::SignalingClient {
        let port: u16 = self.base.rsplit(':').next().unwrap().parse().unwrap();
        gavel_signaling::client::SignalingClient::connect(
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            "localhost",
            self.tls(),
        )
        .await
        .unwrap()
    }

    /// Opens a direct connection to the test's database (for checks the API does not expose).
    pub(crate) async fn db(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.db_url).await.unwrap()
    }

    /// Number of rows in `table`.
    pub(crate) async fn count(&self, table: &str) -> i64 {
        let mut c = self.db().await;
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&mut c)
            .await
            .unwrap()
    }
}

/// Waits until `cond` yields `Some`, polling every 20 ms, failing after `timeout`.
pub(crate) async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut cond: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = cond().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
