//! The web client end to end in Debian's Chromium (headless, fake camera and microphone),
//! driven by playwright-core from `web-client/e2e/*.mjs` against this real server. The scripts
//! check what participants would notice; these tests set up the hearing, give the scripts
//! their links and the output directory, and fail with their message. Screenshots go to
//! `test-output/browser/`.

use std::path::Path;
use std::time::Duration;

use gavel_signaling::MediaKind;
use serde_json::{Value, json};

use crate::media_peer::peer;
use crate::support::{Backend, TestApp, wait_for};

/// Runs `script` with `cfg` (plus the screenshot directory); returns its result line.
async fn run_script(script: &str, mut cfg: Value) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let e2e = root.join("web-client/e2e");
    assert!(
        Path::new("/usr/bin/chromium").exists()
            && e2e.join("node_modules/playwright-core").exists(),
        "Chromium and playwright-core are installed by `make setup` (scripts/setup-system.sh, scripts/setup-e2e.sh)"
    );
    cfg["out"] = json!(root.join("test-output/browser"));
    let run = tokio::process::Command::new("node")
        .arg(script)
        .current_dir(&e2e)
        .env("GAVEL_E2E", cfg.to_string())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(150), run)
        .await
        .expect("the browser test finishes in 150 s")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The measurements (join time, check results, screenshot paths) belong in the test log.
    #[allow(clippy::print_stdout)]
    {
        println!("{stdout}");
    }
    let last = stdout.lines().last().unwrap_or_default();
    let result: Value = serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("no result line; stdout: {stdout}\nstderr: {stderr}"));
    assert!(
        output.status.success() && result["ok"] == true,
        "{result}\nstderr: {stderr}"
    );
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn judge_admits_a_party_calls_a_witness_and_a_dropped_socket_reconnects_in_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut links = serde_json::Map::new();
    let mut ids = serde_json::Map::new();
    for role in ["judge", "party", "witness"] {
        let id = app.participant(&hearing, role).await;
        let token = app.join_token(&hearing, &id).await;
        links.insert(
            role.into(),
            format!("{}/join/{hearing}#token={token}", app.base).into(),
        );
        ids.insert(role.into(), id.into());
    }
    run_script("hearing.mjs", json!({"links": links, "ids": ids})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clerk_reviews_plays_and_corrects_the_transcript_in_chromium() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.signaling.lobby_kinds.clear();
        c.recording.segment_secs = 2;
    })
    .await;
    let (_, hearing) = app.docket_and_hearing().await;
    let judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    party.publish_clip().await;
    judge.wait_received(&party.id, MediaKind::Audio, 10).await;
    // The party's microphone, recorded: its first closed segment.
    let recording = format!("/api/v1/hearings/{hearing}/recording");
    let seg = wait_for(Duration::from_secs(20), "a recorded segment", || async {
        let v = app.get_ok(&recording).await;
        v["segments"].as_array()?.iter().find_map(|s| {
            (s["participant_id"] == party.id.as_str() && s["track"] == "microphone")
                .then(|| s.clone())
        })
    })
    .await;
    let seg_start = seg["start_ms"].as_i64().unwrap();

    // Two lines the party said, stored as the worker stores them; the first 0.7 s into it.
    let db = gavel::db::Db::connect(&app.db_url.clone().into(), 1)
        .await
        .unwrap();
    for (at, text) in [
        (700, "I signed the lease in March."),
        (4_000, "Then I moved out."),
    ] {
        let e = gavel::transcribe::live::CaptionEvent::Caption {
            participant: party.id.clone(),
            start_ms: seg_start + at,
            end_ms: seg_start + at + 1_000,
            text: text.into(),
            confidence: 0.9,
            spoken_at: std::time::Instant::now(),
        };
        gavel::transcribe::store::store(&db, &hearing, &e, gavel::clock::now_ms())
            .await
            .unwrap();
    }
    let transcript = app
        .get_ok(&format!("/api/v1/hearings/{hearing}/transcript"))
        .await;
    let line = transcript["lines"][0]["id"].as_str().unwrap().to_owned();
    let clerk = app.participant(&hearing, "clerk").await;
    let token = app.join_token(&hearing, &clerk).await;
    let reason = "the recording says May";
    run_script(
        "review.mjs",
        json!({
            "url": format!("{}/review/{hearing}#token={token}", app.base),
            "line": line, "file": seg["file"], "offset": 0.7, "rows": 2,
            "speaker": "Test party", "corrected": "I signed the lease in May.", "reason": reason,
        }),
    )
    .await;

    // The correction is a version with who and why; the words heard are kept.
    let v = app
        .get_ok(&format!(
            "/api/v1/hearings/{hearing}/transcript/lines/{line}/versions"
        ))
        .await;
    assert_eq!(v["versions"][0]["text"], "I signed the lease in March.");
    assert_eq!(v["versions"][1]["text"], "I signed the lease in May.");
    assert_eq!(v["versions"][1]["reason"], reason);
    assert_eq!(v["versions"][1]["by"], format!("participant:{clerk}"));

    // The hearing ends; the clerk finalises in the page, and the party signs from the link
    // the court sends after the hearing (it opens the record, not the hearing). The judge's
    // link from before leads there too.
    let judge_token = app.join_token(&hearing, &judge.id).await;
    for to in ["open", "in_session", "closed"] {
        app.post_ok(
            &format!("/api/v1/hearings/{hearing}/transitions"),
            json!({"to": to}),
            200,
        )
        .await;
    }
    let link = app
        .post_ok(
            &format!(
                "/api/v1/hearings/{hearing}/participants/{}/join-links",
                party.id
            ),
            json!({"ttl_seconds": 3600}),
            201,
        )
        .await;
    let party_url = link["url"].as_str().unwrap();
    assert!(
        party_url.contains(&format!("/review/{hearing}#token=")),
        "{party_url}"
    );
    let signed = run_script(
        "sign.mjs",
        json!({
            "clerk": format!("{}/review/{hearing}#token={token}", app.base),
            "party": party_url, "party_id": party.id, "corrected": "I signed the lease in May.",
            "judge_join": format!("{}/join/{hearing}#token={judge_token}", app.base),
        }),
    )
    .await;
    let docs = app
        .get_ok(&format!("/api/v1/hearings/{hearing}/transcript/documents"))
        .await;
    assert_eq!(docs[0]["sha256"], signed["sha256"]);
    let doc = app
        .get_ok(&format!(
            "/api/v1/hearings/{hearing}/transcript/documents/{}",
            docs[0]["id"].as_str().unwrap()
        ))
        .await;
    let party_row = doc["signers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["participant_id"] == party.id.as_str())
        .unwrap();
    assert_eq!(party_row["decision"], "signed");
}
