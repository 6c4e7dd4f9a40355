//! Hearings recorded by the server: two participants publishing the real clip, recorded per
//! track into segments whose manifest verifies and whose files play with the right codecs.

use std::path::Path;
use std::time::Duration;

use gavel_signaling::{ClientMessage, MediaKind};

use crate::media_peer::peer;
use crate::support::{Backend, TestApp, wait_for};

fn codec_of(file: &Path) -> String {
    let out = std::process::Command::new("gst-discoverer-1.0")
        .arg(file)
        .output()
        .expect("gst-discoverer-1.0 (make setup)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_is_recorded_per_track_into_a_verifiable_directory() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    judge.publish_clip().await;
    party.publish_clip().await;
    // About three seconds of the hearing, measured by what the party receives.
    party.wait_received(&judge.id, MediaKind::Video, 300).await;
    judge.send(ClientMessage::EndHearing { req: Some(1) }).await;

    // Ending the hearing closes every open segment into the manifest.
    let dir = app.config.server.data_dir.join("recordings").join(&hearing);
    let manifest = dir.join("manifest.jsonl");
    let lines = wait_for(Duration::from_secs(20), "four closed segments", || async {
        let text = std::fs::read_to_string(&manifest).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (lines.len() >= 4).then_some(lines)
    })
    .await;
    match gavel::recording::verify_dir(&dir).unwrap() {
        gavel::recording::Verdict::Intact { segments, .. } => assert!(segments >= 4),
        gavel::recording::Verdict::Broken(f) => panic!("{f:?}"),
    }
    for who in [&judge.id, &party.id] {
        for (track, codec) in [("microphone", "Opus"), ("camera", "VP8")] {
            let entry = lines
                .iter()
                .find(|l| l["participant"] == **who && l["track"] == track)
                .unwrap_or_else(|| panic!("{who} {track} recorded: {lines:?}"));
            let text = codec_of(&dir.join(entry["file"].as_str().unwrap()));
            assert!(text.contains(codec), "{who} {track}: {text}");
        }
    }
}
