//! The web client end to end in Debian's Chromium (headless, fake camera and microphone),
//! driven by playwright-core from `web-client/e2e/hearing.mjs` against this real server. The
//! script checks what participants would notice; this test gives it the join links and the
//! output directory, and fails with its message. Screenshots go to `test-output/browser/`.

use std::path::Path;
use std::time::Duration;

use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn judge_admits_a_party_calls_a_witness_and_a_dropped_socket_reconnects_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let e2e = root.join("web-client/e2e");
    assert!(
        Path::new("/usr/bin/chromium").exists()
            && e2e.join("node_modules/playwright-core").exists(),
        "Chromium and playwright-core are installed by `make setup` (scripts/setup-system.sh, scripts/setup-e2e.sh)"
    );
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
    let out = root.join("test-output/browser");
    let cfg = serde_json::json!({"links": links, "ids": ids, "out": out});
    let run = tokio::process::Command::new("node")
        .arg("hearing.mjs")
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
    let result: serde_json::Value = serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("no result line; stdout: {stdout}\nstderr: {stderr}"));
    assert!(
        output.status.success() && result["ok"] == true,
        "{result}\nstderr: {stderr}"
    );
}
