//! Crashes at the moments that matter to the record, hit exactly with crash points
//! (`GAVEL_CRASH_AT`, a real `gavel serve` or `gavel recording compose` process dying as if
//! killed): start-up recovery between a cut-short original and its repaired copy, a closed
//! hearing just before its seal, and a composite render half done. After each restart the
//! manifest, the database index, the composite's state and the files on disk agree.

use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use gavel::crashpoint;
use serde_json::Value;

use crate::media_peer::peer;
use crate::recording::{entries, verify};
use crate::support::{Backend, TestApp, wait_for};

/// Segments long enough that the open ones still hold media when the server is killed,
/// however the test's steps are delayed on a loaded machine.
const CHILD: &str = "[signaling]\nlobby_kinds = []\n\n[recording]\nsegment_secs = 8\n";

/// Runs `gavel <args>` on the test's data and database with the crash point `at`, and waits
/// for it to die there.
async fn crash_at(app: &TestApp, at: &str, args: &[&str]) -> ExitStatus {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(args)
        .arg("--data-dir")
        .arg(app.data_dir())
        .env_remove("GAVEL_CONFIG")
        .env("GAVEL__DATABASE__URL", &app.db_url)
        .env("GAVEL_LOG", "warn")
        .env(crashpoint::ENV, at)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the process reaches its crash point in time")
        .unwrap();
    // Died there, not of something else (which would say what went wrong instead).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("crash point reached"),
        "{at}: the process should have died there: {} {stderr}",
        out.status
    );
    out.status
}

fn file(l: &Value) -> &str {
    l["file"].as_str().unwrap()
}

/// Every file on disk that looks like a part of the recording (segments, composites,
/// temporary files), by name.
fn on_disk(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".mkv") || n.ends_with(".webm") || n.ends_with(".tmp"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_during_recovery_sealing_and_rendering_leave_a_complete_record() {
    let mut app = TestApp::spawn_with(Backend::Sqlite, |c| c.recording.auto_composite = true).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut child = app.serve_child(CHILD).await;
    let mut party = peer(&app, &hearing, "party").await;
    party.publish_clip().await;
    let dir = app.data_dir().join("recordings").join(&hearing);
    let manifest = dir.join(gavel::recording::MANIFEST);
    // Recorded a while, with media in the open segments of both tracks.
    wait_for(
        Duration::from_secs(45),
        "media in open segments",
        || async {
            let listed: Vec<String> = entries(&manifest)
                .iter()
                .map(|l| file(l).to_owned())
                .collect();
            let sized = |track: &str, bytes: u64| {
                on_disk(&dir).iter().any(|f| {
                    !listed.contains(f)
                        && f.starts_with(&format!("{}-{track}-", party.id))
                        && std::fs::metadata(dir.join(f)).map_or(0, |m| m.len()) >= bytes
                })
            };
            (!listed.is_empty() && sized("camera", 50_000) && sized("microphone", 4_000))
                .then_some(())
        },
    )
    .await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    drop(party);

    // 1. Recovery dies after entering a cut-short original, before entering its repaired copy.
    crash_at(
        &app,
        crashpoint::RECOVERY_ORIGINAL_ENTERED,
        &[
            "serve",
            "--config",
            app.data_dir().join("child.toml").to_str().unwrap(),
        ],
    )
    .await;
    let listed: Vec<Value> = entries(&manifest);
    let names: Vec<&str> = listed.iter().map(file).collect();
    let stranded: Vec<&Value> = listed
        .iter()
        .filter(|l| l["cut_short"] == true && !file(l).ends_with(".repaired.mkv"))
        .filter(|l| {
            let copy = file(l).replace(".mkv", ".repaired.mkv");
            dir.join(&copy).exists() && !names.contains(&copy.as_str())
        })
        .collect();
    assert_eq!(
        stranded.len(),
        1,
        "one original entered, its copy not: {listed:?}"
    );
    let stranded = stranded[0].clone();

    // 2. Started again (to die later, before a seal): recovery finishes what it began.
    let mut child = app
        .serve_child_with(CHILD, &[(crashpoint::ENV, crashpoint::BEFORE_SEAL)])
        .await;
    let after = entries(&manifest);
    let copy = file(&stranded).replace(".mkv", ".repaired.mkv");
    let entered = after
        .iter()
        .find(|l| file(l) == copy)
        .unwrap_or_else(|| panic!("{copy} is entered after the restart: {after:?}"));
    assert_eq!(
        (
            &entered["cut_short"],
            &entered["start_ms"],
            &entered["end_ms"],
            &entered["track"]
        ),
        (
            &true.into(),
            &stranded["start_ms"],
            &stranded["end_ms"],
            &stranded["track"]
        ),
        "the copy is entered as its original's"
    );
    let mut names: Vec<&str> = after.iter().map(file).collect();
    names.sort_unstable();
    let unique = names.len();
    names.dedup();
    assert_eq!(unique, names.len(), "nothing entered twice: {after:?}");
    assert_eq!(
        on_disk(&dir),
        names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        "every file on disk is in the manifest"
    );
    let mut db = app.db().await;
    let details: Vec<String> = sqlx::query_scalar("SELECT detail FROM faults ORDER BY at")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert!(
        details
            .iter()
            .any(|d| d.contains("repaired copies an interrupted recovery")),
        "{details:?}"
    );

    // 3. The platform closes the hearing with nobody in the room; the server dies just
    //    before the seal (the answer may never come).
    for to in ["open", "closed"] {
        let _ = app
            .client
            .post(app.url(&format!("/api/v1/hearings/{hearing}/transitions")))
            .bearer_auth(&app.api_key)
            .json(&serde_json::json!({"to": to, "reason": "ended after an outage"}))
            .send()
            .await;
    }
    let died = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the server dies before the seal")
        .unwrap();
    assert!(!died.success(), "{died}");
    assert!(!dir.join(gavel::recording::SEAL).exists(), "not sealed yet");

    // 4. Started again: recovery seals the closed hearing's recording, and its composite is
    //    made like any other's.
    app.start_again().await;
    let path = format!("/api/v1/hearings/{hearing}/recording");
    let started = std::time::Instant::now();
    let view = wait_for(Duration::from_secs(180), "the composite", || async {
        let v = app.get_ok(&path).await;
        assert_ne!(v["composite"]["state"], "failed", "{v}");
        // The job is queued at start-up and marks itself running a moment later.
        assert!(
            v["composite"]["state"] != "none" || started.elapsed() < Duration::from_secs(15),
            "a job for the recovered seal: {v}"
        );
        (v["composite"]["state"] == "done").then_some(v)
    })
    .await;
    let sealed = entries(&manifest);
    assert!(
        sealed.iter().any(|l| l["track"] == "composite"),
        "{sealed:?}"
    );
    assert_eq!(
        view["segments"].as_array().unwrap().len(),
        sealed.len(),
        "the index lists what the manifest lists"
    );
    match verify(&app, &dir).await {
        gavel::recording::Verdict::Intact { segments, .. } => assert_eq!(segments, sealed.len()),
        gavel::recording::Verdict::Broken(f) => panic!("{f:?}"),
    }

    // 5. A composite render dies half done: its temporary file is left, and the next start
    //    removes it.
    app.stop().await;
    crash_at(
        &app,
        crashpoint::COMPOSITE_MIDWAY,
        &["recording", "compose", &hearing],
    )
    .await;
    let half: Vec<String> = on_disk(&dir)
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert_eq!(
        half.len(),
        1,
        "the half-written render: {:?}",
        on_disk(&dir)
    );
    app.start_again().await;
    assert!(
        !on_disk(&dir).iter().any(|n| n.ends_with(".tmp")),
        "{:?}",
        on_disk(&dir)
    );
    assert_eq!(
        gavel::recording::unlisted(&dir).unwrap(),
        Vec::<String>::new(),
        "nothing beside the record"
    );
    match verify(&app, &dir).await {
        gavel::recording::Verdict::Intact { segments, .. } => assert_eq!(segments, sealed.len()),
        gavel::recording::Verdict::Broken(f) => panic!("{f:?}"),
    }
}
