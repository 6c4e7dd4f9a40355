//! The acceptance run of the recording: a trial with two participants publishing the real clip
//! for about 20 s, recorded per track; after it, the composite is rendered on its own, the
//! platform is told by webhook, the files are served with range requests to those allowed
//! (each access audited), the command line renders a composite again, and verification passes
//! until one byte or one manifest line is changed.

use std::path::Path;
use std::time::Duration;

use gavel_signaling::{ClientMessage, MediaKind};
use reqwest::Method;
use serde_json::Value;

use crate::media_peer::peer;
use crate::recording::{codec_of, entries, verify};
use crate::support::{Backend, TestApp, wait_for};
use crate::webhooks::{Receiver, bound_socket};

/// Seconds of media in `file` by gst-discoverer.
pub(crate) fn seconds(file: &Path) -> f64 {
    let text = codec_of(file);
    let d = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Duration: "))
        .unwrap_or_else(|| panic!("a duration for {}: {text}", file.display()));
    let p: Vec<f64> = d.split(':').map(|x| x.parse().unwrap()).collect();
    p[0] * 3600.0 + p[1] * 60.0 + p[2]
}

pub(crate) fn span_secs(l: &Value) -> f64 {
    (l["end_ms"].as_i64().unwrap() - l["start_ms"].as_i64().unwrap()) as f64 / 1000.0
}

pub(crate) async fn audited(app: &TestApp, action: &str) -> i64 {
    let mut c = app.db().await;
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&mut c)
        .await
        .unwrap()
}

fn broken(v: gavel::recording::Verdict) -> Vec<String> {
    match v {
        gavel::recording::Verdict::Broken(f) => f,
        gavel::recording::Verdict::Intact { .. } => panic!("a changed recording verified"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_is_recorded_composed_served_and_verifiable() {
    let mut app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.signaling.lobby_kinds.clear();
        c.recording.auto_composite = true;
    })
    .await;
    let (sock, addr) = bound_socket();
    let hook = Receiver::start(sock, Default::default()).await;
    app.post_ok(
        "/api/v1/webhooks",
        serde_json::json!({"url": format!("http://{addr}/hook"), "events": ["recording.ready"]}),
        201,
    )
    .await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    judge.publish_clip().await;
    party.publish_clip().await;
    // About 20 s of hearing, measured by the judge's audio the party hears (50 a second).
    for n in [250, 500, 750, 1000] {
        party.wait_received(&judge.id, MediaKind::Audio, n).await;
    }
    // Links minted while the hearing runs (none are minted once it is over).
    let judge_token = app.join_token(&hearing, &judge.id).await;
    let party_token = app.join_token(&hearing, &party.id).await;
    judge.send(ClientMessage::EndHearing { req: None }).await;

    let dir = app.config.server.data_dir.join("recordings").join(&hearing);
    let manifest = dir.join(gavel::recording::MANIFEST);
    if let gavel::recording::Verdict::Broken(f) = verify(&app, &dir).await {
        panic!("{f:?}");
    }
    // The composite renders by itself after the hearing; its progress is in the API.
    let path = format!("/api/v1/hearings/{hearing}/recording");
    let view = wait_for(Duration::from_secs(120), "the composite", || async {
        let v = app.get_ok(&path).await;
        assert_ne!(v["composite"]["state"], "failed", "{v}");
        (v["composite"]["state"] == "done").then_some(v)
    })
    .await;
    let lines: Vec<Value> = entries(&manifest)
        .into_iter()
        .filter(|l| l["track"] != "composite")
        .collect();
    // Every track as received: the codec, and each segment's length as the manifest says.
    for who in [&judge.id, &party.id] {
        for (track, codec) in [("microphone", "Opus"), ("camera", "VP8")] {
            let mine: Vec<&Value> = lines
                .iter()
                .filter(|l| l["participant"] == **who && l["track"] == track)
                .collect();
            assert!(mine.len() >= 2, "{who} {track}: 10 s segments over 20 s");
            let mut total = 0.0;
            for l in mine {
                let file = dir.join(l["file"].as_str().unwrap());
                assert!(codec_of(&file).contains(codec), "{who} {track} is {codec}");
                let secs = seconds(&file);
                assert!(
                    (secs - span_secs(l)).abs() <= 0.5,
                    "{file:?}: {secs:.2} s in the file, {:.2} s in the manifest",
                    span_secs(l)
                );
                total += secs;
            }
            assert!(total >= 18.0, "{who} {track}: {total:.1} s of about 20 s");
        }
    }

    // The platform hears that the recording is ready.
    wait_for(
        Duration::from_secs(10),
        "the recording.ready webhook",
        || async {
            let got = hook.got.lock().unwrap();
            got.iter().find_map(|(_, body)| {
                let v: Value = serde_json::from_slice(body).ok()?;
                (v["type"] == "recording.ready" && v["data"]["hearing_id"] == *hearing)
                    .then_some(())
            })
        },
    )
    .await;

    assert_eq!(view["composite"]["progress"], 1.0);
    assert!(view["sealed_at"].is_string());
    let listed = view["segments"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        lines.len() + 1,
        "every segment and the composite"
    );
    let composite = listed
        .iter()
        .find(|s| s["track"] == "composite")
        .expect("the composite is listed")
        .clone();
    let file = composite["file"].as_str().unwrap().to_owned();
    let text = codec_of(&dir.join(&file));
    assert!(
        text.contains("VP8") && text.contains("Opus") && text.contains("Width: 1280"),
        "{text}"
    );
    let hearing_secs = span_secs(&composite);
    assert!(hearing_secs >= 19.0, "{hearing_secs} s of hearing");
    let secs = seconds(&dir.join(&file));
    assert!(
        (secs - hearing_secs).abs() <= 0.5,
        "the composite plays {secs:.2} s of a {hearing_secs:.2} s hearing"
    );
    // The manifest (with the composite) is sealed again and verifies.
    if let gavel::recording::Verdict::Broken(f) = verify(&app, &dir).await {
        panic!("{f:?}");
    }

    // Served with range requests, each access audited, to the platform and the judge only.
    let url = app.url(&format!("{path}/files/{file}"));
    let bytes = std::fs::read(dir.join(&file)).unwrap();
    let part = app
        .client
        .get(&url)
        .bearer_auth(&app.api_key)
        .header("range", "bytes=100-1099")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap(), &bytes[100..1100]);
    assert_eq!(audited(&app, "recording.view").await, 1);
    let whole = app
        .client
        .get(&url)
        .bearer_auth(&judge_token)
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "video/webm");
    assert_eq!(whole.bytes().await.unwrap(), bytes);
    assert_eq!(audited(&app, "recording.download").await, 1);
    // RFC 9110: a range past the end is a 416 problem document with the file's length; a
    // malformed Range, or a thousand ranges, is ignored and the whole file served.
    let past = app
        .client
        .get(&url)
        .bearer_auth(&app.api_key)
        .header("range", "bytes=999999999-")
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);
    assert_eq!(
        past.headers()["content-range"],
        format!("bytes */{}", bytes.len()).as_str()
    );
    assert_eq!(past.headers()["content-type"], "application/problem+json");
    let problem: Value = past.json().await.unwrap();
    assert_eq!(problem["status"], 416, "{problem}");
    let many = format!("bytes={}", vec!["0-1"; 1000].join(","));
    for range in ["bytes=abc", many.as_str()] {
        let res = app
            .client
            .get(&url)
            .bearer_auth(&app.api_key)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", &range[..range.len().min(20)]);
        assert_eq!(res.bytes().await.unwrap(), bytes);
    }
    let refused = app
        .client
        .get(&url)
        .bearer_auth(&party_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "a party may not take the recording");
    let outside = app
        .call(Method::GET, &format!("{path}/files/..%2Fgavel.db"), None)
        .await;
    assert_eq!(outside.status(), 404, "only listed files are served");

    // The command line renders it again: a second composite, entered and sealed.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(["recording", "compose", &hearing, "--data-dir"])
        .arg(&app.config.server.data_dir)
        .env_remove("GAVEL_CONFIG")
        .env("GAVEL__DATABASE__URL", &app.db_url)
        .env("GAVEL_LOG", "warn")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("added to the manifest and sealed"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    match verify(&app, &dir).await {
        gavel::recording::Verdict::Intact { segments, .. } => {
            assert_eq!(segments, lines.len() + 2);
        }
        gavel::recording::Verdict::Broken(f) => panic!("{f:?}"),
    }

    // One flipped byte in the composite fails verification, naming it.
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x01;
    std::fs::write(dir.join(&file), &flipped).unwrap();
    let failures = broken(verify(&app, &dir).await);
    assert!(failures.iter().any(|f| f.contains(&file)), "{failures:?}");
    std::fs::write(dir.join(&file), &bytes).unwrap();
    // So does an edited manifest line, naming the line.
    let text = std::fs::read_to_string(&manifest).unwrap();
    let edited = text.replacen("\"track\":\"camera\"", "\"track\":\"screen\"", 1);
    std::fs::write(&manifest, edited).unwrap();
    let failures = broken(verify(&app, &dir).await);
    assert!(
        failures.iter().any(|f| f.contains("manifest line")),
        "{failures:?}"
    );
    std::fs::write(&manifest, &text).unwrap();

    // Entries cut off the end leave a chain that holds together; the seal catches it, and a
    // restart does not seal over it (it records a fault instead).
    let shorter: String = text
        .lines()
        .take(text.lines().count() - 1)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&manifest, shorter).unwrap();
    let failures = broken(verify(&app, &dir).await);
    assert!(
        failures[0].contains("does not match its seal"),
        "{failures:?}"
    );
    let faults = app.count("faults").await;
    app.restart().await;
    let failures = broken(verify(&app, &dir).await);
    assert!(
        failures[0].contains("does not match its seal"),
        "{failures:?}"
    );
    assert_eq!(
        app.count("faults").await,
        faults + 1,
        "the mismatch is a fault on record"
    );
}
