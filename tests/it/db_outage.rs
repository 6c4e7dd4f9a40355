//! A database outage during a recorded hearing, on a PostgreSQL server of the test's own
//! (stopped as abruptly as a crash, then started again): liveness answers at once, the API
//! answers 503 problem documents within seconds, media and recording go on, and once the
//! database is back the index holds exactly what the manifest (the record) holds, with the
//! outage written as a fault.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use gavel_signaling::{ClientMessage, MediaKind};
use serde_json::Value;

use crate::media_peer::peer;
use crate::recording::{entries, verify};
use crate::support::{Backend, TestApp, wait_for};

/// A PostgreSQL server of the test's own, in a temporary directory.
struct PrivatePg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePg {
    fn as_postgres(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        // PostgreSQL refuses to run as root.
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL (make setup installs it)")
            .map(|e| e.unwrap().path().join("bin"))
            .max()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Self { dir, bin, port };
        let data = pg.dir.path().join("data");
        let ok = pg
            .as_postgres("initdb")
            .args([
                "-U",
                "gavel",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "initdb");
        pg.up();
        pg
    }

    fn up(&self) {
        let ok = self
            .as_postgres("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port,
                self.dir.path().display()
            ))
            .arg("start")
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "pg_ctl start");
    }

    /// Stops the server at once, as a crash would (no shutdown checkpoint, clients cut off).
    fn down(&self) {
        let ok = self
            .as_postgres("pg_ctl")
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.dir.path().join("data"))
            .arg("stop")
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "pg_ctl stop");
    }

    fn url(&self) -> String {
        format!("postgres://gavel@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = self
            .as_postgres("pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.path().join("data"))
            .arg("stop")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_at_once_loses_no_segment_and_is_a_fault() {
    let pg = PrivatePg::start();
    let url = pg.url();
    let mut app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.signaling.lobby_kinds.clear();
        c.recording.segment_secs = 2;
        c.database.url = Some(url.clone().into());
    })
    .await;
    app.db_url = url;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    judge.publish_clip().await;
    party.publish_clip().await;
    let dir = app.data_dir().join("recordings").join(&hearing);
    let manifest = dir.join(gavel::recording::MANIFEST);
    wait_for(Duration::from_secs(30), "segments indexed", || async {
        (entries(&manifest).len() >= 4).then_some(())
    })
    .await;

    pg.down();
    let before = entries(&manifest).len();
    // Liveness answers at once; readiness and the API say the database is unavailable.
    let t = Instant::now();
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    for path in ["/readyz".to_owned(), format!("/api/v1/hearings/{hearing}")] {
        let t = Instant::now();
        let res = app
            .client
            .get(app.url(&path))
            .bearer_auth(&app.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 503, "{path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert!(
            t.elapsed() < Duration::from_secs(8),
            "{path}: {:?}",
            t.elapsed()
        );
    }
    // The judge mutes the party during the outage: it takes effect, and its audit entry waits
    // for the database.
    let muted_at = gavel::clock::now_ms();
    judge
        .send(ClientMessage::Mute {
            req: None,
            participant: party.id.clone(),
            kind: MediaKind::Audio,
            muted: Some(true),
        })
        .await;
    // The hearing goes on: media flows and segments keep closing into the manifest.
    let heard = party.received(&judge.id, MediaKind::Audio).packets;
    party
        .wait_received(&judge.id, MediaKind::Audio, heard + 100)
        .await;
    wait_for(
        Duration::from_secs(20),
        "segments recorded during the outage",
        || async { (entries(&manifest).len() >= before + 4).then_some(()) },
    )
    .await;

    pg.up();
    wait_for(Duration::from_secs(30), "the database back", || async {
        let res = app.client.get(app.url("/readyz")).send().await.ok()?;
        (res.status() == 200).then_some(())
    })
    .await;
    judge.send(ClientMessage::EndHearing { req: None }).await;
    match verify(&app, &dir).await {
        gavel::recording::Verdict::Intact { .. } => {}
        gavel::recording::Verdict::Broken(f) => panic!("{f:?}"),
    }
    // The index lists exactly what the manifest lists, and the outage is a fault.
    let listed = wait_for(Duration::from_secs(20), "the index reconciled", || async {
        let v: Value = app
            .get_ok(&format!("/api/v1/hearings/{hearing}/recording"))
            .await;
        let n = v["segments"].as_array()?.len();
        (n == entries(&manifest).len() && v["sealed_at"].is_string()).then_some(n)
    })
    .await;
    assert!(listed >= before + 4);
    let mut db = app.db().await;
    // The fault is written just after the index is put right.
    wait_for(Duration::from_secs(10), "the outage as a fault", || async {
        let faults: Vec<String> =
            sqlx::query_scalar("SELECT detail FROM faults WHERE component = 'recording'")
                .fetch_all(&mut app.db().await)
                .await
                .unwrap();
        faults
            .iter()
            .any(|f| f.contains("indexed again from the manifest"))
            .then_some(())
    })
    .await;
    // The mute made during the outage is in the audit log, at its own time, and the chain holds.
    let at: Option<i64> = sqlx::query_scalar("SELECT at FROM audit_log WHERE action = 'room.mute'")
        .fetch_optional(&mut db)
        .await
        .unwrap();
    let at = at.expect("the mute made during the outage is audited");
    assert!(
        (at - muted_at).abs() < 2_000,
        "at {at}, muted at {muted_at}"
    );
    let (pool, _) = gavel::app::open(&app.config).await.unwrap();
    assert!(matches!(
        gavel::audit::verify(&pool).await.unwrap(),
        gavel::audit::AuditVerdict::Intact { .. }
    ));
}
