//! Hearings recorded by the server: two participants publishing the real clip, recorded per
//! track into segments whose manifest verifies and whose files play with the right codecs.

use std::path::Path;
use std::time::Duration;

use gavel_signaling::{ClientMessage, MediaKind};

use crate::media_peer::peer;
use crate::support::{Backend, TestApp, wait_for};

/// Verifies `dir` with the server's own keys, once the hearing's seal is written.
pub(crate) async fn verify(app: &TestApp, dir: &Path) -> gavel::recording::Verdict {
    wait_for(Duration::from_secs(20), "the recording sealed", || async {
        dir.join(gavel::recording::SEAL).exists().then_some(())
    })
    .await;
    let keys = gavel::auth::keyring::KeyRing::public_keys(&app.config.server.data_dir.join("keys"))
        .unwrap();
    gavel::recording::verify_dir(dir, |kid| {
        keys.iter()
            .find(|(k, _)| k == kid)
            .map(|(_, pk)| pk.clone())
    })
    .unwrap()
}

/// The manifest's entries so far.
pub(crate) fn entries(manifest: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(manifest)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(crate) fn codec_of(file: &Path) -> String {
    let out = std::process::Command::new("gst-discoverer-1.0")
        .arg(file)
        .output()
        .expect("gst-discoverer-1.0 (make setup)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mediation_caucus_is_not_recorded_and_durations_match_the_manifest() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.signaling.lobby_kinds.clear();
        c.recording.kinds = vec![gavel::domain::HearingKind::Mediation];
    })
    .await;
    let (docket, _) = app.docket_and_hearing().await;
    let hearing = app.hearing_of(&docket, "mediation").await;
    let mut mediator = peer(&app, &hearing, "mediator").await;
    let mut a = peer(&app, &hearing, "party").await;
    let mut b = peer(&app, &hearing, "party").await;
    for p in [&mut mediator, &mut a, &mut b] {
        p.publish_clip().await;
    }
    // Joint session (~2 s), a caucus with side A (~3 s), joint again (~2 s); time is
    // measured by the audio B receives from the mediator (50 packets a second).
    let at = |n| b.wait_received(&mediator.id, MediaKind::Audio, n);
    at(100).await;
    mediator
        .send(ClientMessage::CaucusStart {
            req: None,
            participants: vec![a.id.clone()],
        })
        .await;
    let seen = b.received(&mediator.id, MediaKind::Audio).packets;
    // B hears nothing of the caucus; measure by A's audio to the mediator instead.
    mediator
        .wait_received(&a.id, MediaKind::Audio, {
            let s = mediator.received(&a.id, MediaKind::Audio).packets;
            s + 150
        })
        .await;
    mediator.send(ClientMessage::CaucusEnd { req: None }).await;
    b.wait_received(&mediator.id, MediaKind::Audio, seen + 100)
        .await;
    mediator.send(ClientMessage::EndHearing { req: None }).await;

    let dir = app.config.server.data_dir.join("recordings").join(&hearing);
    let manifest = dir.join("manifest.jsonl");
    // A: joint, then again after the caucus (2 runs x 2 tracks); B: one run x 2 tracks.
    let lines = wait_for(Duration::from_secs(20), "the segments closed", || async {
        let lines = entries(&manifest);
        let of = |who: &str| lines.iter().filter(|l| l["participant"] == who).count();
        (of(&a.id) >= 4 && of(&b.id) >= 2 && of(&mediator.id) >= 4).then_some(lines)
    })
    .await;
    if let gavel::recording::Verdict::Broken(f) = verify(&app, &dir).await {
        panic!("{f:?}");
    }
    // A's microphone: two recorder runs with the caucus (about 3 s) between them; B's one run
    // goes on through it. Read on the hearing clock, so no step's delay on a loaded machine
    // can blur it.
    let runs = |who: &str| {
        let mut runs: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        for l in lines
            .iter()
            .filter(|l| l["participant"] == who && l["track"] == "microphone")
        {
            let file = l["file"].as_str().unwrap();
            let run = file[..file.len() - "-00000.mkv".len()].to_owned();
            let (s, e) = (
                l["start_ms"].as_i64().unwrap(),
                l["end_ms"].as_i64().unwrap(),
            );
            let span = runs.entry(run).or_insert((s, e));
            *span = (span.0.min(s), span.1.max(e));
        }
        let mut spans: Vec<(i64, i64)> = runs.into_values().collect();
        spans.sort_unstable();
        spans
    };
    let (a_runs, b_runs) = (runs(&a.id), runs(&b.id));
    assert_eq!(
        (a_runs.len(), b_runs.len()),
        (2, 1),
        "{a_runs:?} {b_runs:?}"
    );
    let caucus = (a_runs[0].1, a_runs[1].0);
    assert!(
        caucus.1 - caucus.0 >= 2_000,
        "the caucus (about 3 s) is missing from A's recording: {a_runs:?}"
    );
    assert!(
        b_runs[0].0 <= caucus.0 && b_runs[0].1 >= caucus.1,
        "B's recording goes on through the caucus: {b_runs:?}, caucus {caucus:?}"
    );

    // The files hold what the manifest says (within half a second per segment).
    for l in &lines {
        let file = dir.join(l["file"].as_str().unwrap());
        let listed =
            (l["end_ms"].as_i64().unwrap() - l["start_ms"].as_i64().unwrap()) as f64 / 1000.0;
        let text = codec_of(&file);
        let d = text
            .lines()
            .find_map(|x| x.trim().strip_prefix("Duration: "))
            .unwrap();
        let p: Vec<f64> = d.split(':').map(|x| x.parse().unwrap()).collect();
        let secs = p[0] * 3600.0 + p[1] * 60.0 + p[2];
        assert!(
            (secs - listed).abs() <= 0.5,
            "{}: {secs:.2} s in the file, {listed:.2} s in the manifest",
            l["file"]
        );
    }
}
