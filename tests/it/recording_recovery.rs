//! A recording survives what goes wrong: a recorder that fails is restarted, recorded as a
//! fault and told to those who control the recording, while the hearing goes on; a server
//! killed mid-recording closes the open segments into the manifest when it starts again.

use std::path::Path;
use std::time::Duration;

use gavel_signaling::{ClientMessage, MediaKind, ServerMessage};

use crate::media_peer::peer;
use crate::recording::{codec_of, entries, verify};
use crate::recording_archive::{audited, seconds, span_secs};
use crate::support::{Backend, TestApp, wait_for};

/// Files in `dir` whose names start with `prefix` and end with `suffix`.
fn files(dir: &Path, prefix: &str, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix) && n.ends_with(suffix))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn told_fault(m: &ServerMessage) -> bool {
    matches!(m, ServerMessage::Notice { code, .. } if code == "recording.fault")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_recorder_is_restarted_recorded_as_a_fault_and_told_to_the_judge_and_clerk() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.signaling.lobby_kinds.clear();
        c.recording.segment_secs = 2;
    })
    .await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut clerk = peer(&app, &hearing, "clerk").await;
    let mut party = peer(&app, &hearing, "party").await;
    judge.publish_clip().await;
    party.publish_clip().await;
    let dir = app.config.server.data_dir.join("recordings").join(&hearing);

    // The storage refuses the party's camera's next segment: where the file would go there is
    // a directory, so the pipeline fails when it opens it.
    let camera = format!("{}-camera-", party.id);
    let first = wait_for(
        Duration::from_secs(10),
        "the party's camera recorded",
        || async { files(&dir, &camera, "-00000.mkv").pop() },
    )
    .await;
    // The next few (a loaded machine may have rolled over already).
    for i in 1..=3 {
        let _ = std::fs::create_dir(dir.join(first.replace("-00000.mkv", &format!("-{i:05}.mkv"))));
    }

    judge.expect(told_fault).await;
    clerk.expect(told_fault).await;
    wait_for(Duration::from_secs(10), "a fault record", || async {
        (app.count("faults").await >= 1).then_some(())
    })
    .await;
    let mut db = app.db().await;
    let (component, faulted, detail): (String, Option<String>, String) =
        sqlx::query_as("SELECT component, hearing_id, detail FROM faults")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(
        (component.as_str(), faulted.as_deref()),
        ("recording", Some(hearing.as_str()))
    );
    assert!(detail.contains("restarted"), "{detail}");
    assert!(audited(&app, "fault.recorded").await >= 1);
    // The recorder was restarted: a later run of the same camera closes segments.
    let run = first.trim_end_matches("-00000.mkv").to_owned();
    let manifest = dir.join(gavel::recording::MANIFEST);
    wait_for(
        Duration::from_secs(20),
        "the restarted run's segment",
        || async {
            entries(&manifest)
                .iter()
                .any(|l| {
                    l["participant"] == *party.id
                        && l["track"] == "camera"
                        && !l["file"].as_str().unwrap().starts_with(&run)
                })
                .then_some(())
        },
    )
    .await;
    // The hearing went on throughout.
    let n = judge.received(&party.id, MediaKind::Video).packets;
    judge
        .wait_received(&party.id, MediaKind::Video, n + 30)
        .await;
    while let Ok(m) = party.events.try_recv() {
        assert!(!told_fault(&m), "the party is not told of the fault");
    }

    judge.send(ClientMessage::EndHearing { req: None }).await;
    if let gavel::recording::Verdict::Broken(f) = verify(&app, &dir).await {
        panic!("{f:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_recording_enters_its_open_segments_cut_short_on_restart() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut child = app
        // Segments long enough that the open ones still hold seconds of media at the kill,
        // however the test's steps are delayed on a loaded machine.
        .serve_child("[signaling]\nlobby_kinds = []\n\n[recording]\nsegment_secs = 8\n")
        .await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    judge.publish_clip().await;
    party.publish_clip().await;
    let dir = app.config.server.data_dir.join("recordings").join(&hearing);
    let manifest = dir.join(gavel::recording::MANIFEST);

    // Each of the four tracks closed a segment, and the open ones have media in them.
    let before = wait_for(Duration::from_secs(40), "closed segments", || async {
        let lines = entries(&manifest);
        let closed = |who: &str, track: &str| {
            lines
                .iter()
                .any(|l| l["participant"] == who && l["track"] == track)
        };
        (closed(&judge.id, "microphone")
            && closed(&judge.id, "camera")
            && closed(&party.id, "microphone")
            && closed(&party.id, "camera"))
        .then_some(lines)
    })
    .await;
    let listed_early: Vec<String> = before
        .iter()
        .map(|l| l["file"].as_str().unwrap().to_owned())
        .collect();
    wait_for(
        Duration::from_secs(10),
        "media in the open segments",
        || async {
            let open: Vec<String> = files(&dir, "", ".mkv")
                .into_iter()
                .filter(|f| !listed_early.contains(f))
                .collect();
            let sized = |who: &str, track: &str, bytes: u64| {
                open.iter().any(|f| {
                    f.starts_with(&format!("{who}-{track}-"))
                        && std::fs::metadata(dir.join(f)).map_or(0, |m| m.len()) >= bytes
                })
            };
            (sized(&party.id, "camera", 100_000) && sized(&party.id, "microphone", 8_000))
                .then_some(())
        },
    )
    .await;

    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "killed, not stopped: {status}");
    let party_id = party.id.clone();
    drop((judge, party));
    let text_before = std::fs::read_to_string(&manifest).unwrap();
    // What the manifest held when the server died: segments keep closing between the wait
    // above and the kill, so only the manifest read after the kill says which were open.
    let before = entries(&manifest);
    let listed: Vec<String> = before
        .iter()
        .map(|l| l["file"].as_str().unwrap().to_owned())
        .collect();
    // What the kill left on disk, unlisted: the open segments, byte for byte.
    let open: Vec<(String, Vec<u8>)> = files(&dir, "", ".mkv")
        .into_iter()
        .filter(|f| !listed.contains(f))
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).unwrap();
            (f, bytes)
        })
        .collect();

    // Restart: recovery runs before the server listens.
    app.start_again().await;
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        text.starts_with(&text_before),
        "the entries written before the crash are kept as they were"
    );
    let after = entries(&manifest);
    let entry = |file: &str| {
        after
            .iter()
            .find(|l| l["file"] == file)
            .unwrap_or_else(|| panic!("{file} is in the manifest"))
    };
    let mut repaired_tracks = Vec::new();
    for (file, bytes) in &open {
        let l = entry(file);
        assert_eq!(l["cut_short"], true, "{l}");
        assert_eq!(
            &std::fs::read(dir.join(file)).unwrap(),
            bytes,
            "{file}: kept as it reached the disk"
        );
        // It continues its run: it starts where the run's last listed segment ended.
        let run = &file[..file.len() - "-00000.mkv".len()];
        if let Some(prev) = before
            .iter()
            .filter(|p| p["file"].as_str().unwrap().starts_with(run))
            .map(|p| p["end_ms"].as_i64().unwrap())
            .max()
            && !after.iter().any(|o| {
                o["cut_short"] == true
                    && o["file"].as_str().unwrap().starts_with(run)
                    && o["file"].as_str().unwrap() < file.as_str()
            })
        {
            assert_eq!(l["start_ms"].as_i64().unwrap(), prev, "{file}");
        }
        if bytes.is_empty() {
            // Opened just before the kill, nothing written yet: entered, with no length.
            assert_eq!(span_secs(l), 0.0, "{l}");
            continue;
        }
        // Beside it, a complete copy that plays, as long as the manifest says (a segment
        // opened just before the kill may hold only headers: nothing to repair).
        let fixed = file.replace(".mkv", ".repaired.mkv");
        let Some(r) = after.iter().find(|l| l["file"] == fixed.as_str()) else {
            assert!(
                bytes.len() < 16_384,
                "{file} ({} bytes) has a repaired copy",
                bytes.len()
            );
            continue;
        };
        assert_eq!(
            (r["cut_short"].clone(), r["track"].clone()),
            (true.into(), l["track"].clone())
        );
        let codec = if l["track"] == "camera" {
            "VP8"
        } else {
            "Opus"
        };
        assert!(
            codec_of(&dir.join(&fixed)).contains(codec),
            "{fixed} plays as {codec}"
        );
        let secs = seconds(&dir.join(&fixed));
        assert!(
            (secs - span_secs(r)).abs() <= 0.5,
            "{fixed}: {secs:.2} s in the file, {:.2} s in the manifest",
            span_secs(r)
        );
        if secs > 0.5 {
            repaired_tracks.push((l["participant"].clone(), l["track"].clone()));
        }
    }
    for track in ["camera", "microphone"] {
        assert!(
            repaired_tracks.contains(&(party_id.clone().into(), track.into())),
            "the party's open {track} segment kept its media: {repaired_tracks:?}"
        );
    }
    let mut db = app.db().await;
    // The recovery's own fault record (a busy machine may add a recorder's, as the party's
    // peer finds the restarted server: that is not what this test is about).
    let (component, faulted, detail): (String, Option<String>, String) = sqlx::query_as(
        "SELECT component, hearing_id, detail FROM faults WHERE component = 'recovery'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(
        (component.as_str(), faulted.as_deref()),
        ("recovery", Some(hearing.as_str()))
    );
    // It counts the segments that were open, not the repaired copies made of them.
    assert!(
        detail.contains(&format!("{} open segment(s)", open.len())),
        "{detail}: {} were open",
        open.len()
    );

    // The platform closes the hearing with nobody connected: the recording is sealed.
    for to in ["open", "closed"] {
        app.post_ok(
            &format!("/api/v1/hearings/{hearing}/transitions"),
            serde_json::json!({"to": to, "reason": "ended after an outage"}),
            200,
        )
        .await;
    }
    match verify(&app, &dir).await {
        gavel::recording::Verdict::Intact { segments, .. } => assert_eq!(segments, after.len()),
        gavel::recording::Verdict::Broken(f) => panic!("{f:?}"),
    }
}
