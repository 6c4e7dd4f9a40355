//! The `gavel` binary as an operator runs it: demo links, API keys, `serve` with a generated
//! certificate, health, graceful shutdown on SIGTERM, and `audit verify`'s exit code.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn gavel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gavel"));
    c.env_remove("GAVEL_CONFIG")
        .env("GAVEL_LOG", "warn")
        .kill_on_drop(true);
    c
}

async fn output(args: &[&str], data: &std::path::Path) -> (i32, String) {
    let out = gavel()
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn help_documents_the_commands_and_defaults() {
    let out = gavel().arg("--help").output().await.unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for cmd in ["serve", "apikey", "keys", "demo", "audit"] {
        assert!(text.contains(cmd), "--help lacks {cmd}");
    }
    let out = gavel().args(["serve", "--help"]).output().await.unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("0.0.0.0:8443") && text.contains("GAVEL_LISTEN"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_links_health_sigterm_and_audit_verify_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let (code, key) = output(&["apikey", "create", "--name", "platform"], &data).await;
    assert_eq!(code, 0);
    assert!(gavel::auth::apikey::looks_like_api_key(key.trim()), "{key}");

    let (code, demo) = output(&["demo"], &data).await;
    let (_, env_demo) = {
        let out = gavel()
            .args(["demo", "--data-dir"])
            .arg(&data)
            .env(
                "GAVEL__SERVER__PUBLIC_URL",
                "https://hearings.court.example",
            )
            .output()
            .await
            .unwrap();
        (out.status, String::from_utf8(out.stdout).unwrap())
    };
    assert!(
        env_demo.contains("https://hearings.court.example/join/"),
        "GAVEL__SECTION__KEY variables configure the server:\n{env_demo}"
    );
    assert_eq!(code, 0);
    let links: Vec<&str> = demo
        .split_whitespace()
        .filter(|w| w.starts_with("https://"))
        .collect();
    assert_eq!(links.len(), 9, "one link per role:\n{demo}");
    for role in ["judge", "clerk", "party", "witness", "mediator", "observer"] {
        assert!(demo.contains(role), "{role} missing:\n{demo}");
    }

    let mut child = gavel()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("GAVEL_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let logs = tokio::spawn(async move {
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text)
            .await
            .unwrap();
        text
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if let Some(rest) = l.strip_prefix("Gavel is running: open ") {
                return rest
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches('/')
                    .to_owned();
            }
        }
        panic!("serve exited without printing its address");
    })
    .await
    .expect("serve printed its address in time");
    let port = url.rsplit(':').next().unwrap();
    // `gavel demo` on the same data directory prints links for the server that runs there (its
    // port is not the default), or for the address it is told.
    let (code, running) = output(&["demo"], &data).await;
    assert_eq!(code, 0, "{running}");
    assert!(
        running.contains(&format!("https://localhost:{port}/join/")),
        "links for the running server on port {port}:\n{running}"
    );
    let (code, told) = output(
        &["demo", "--server-url", "https://court.example:9443/"],
        &data,
    )
    .await;
    assert_eq!(code, 0, "{told}");
    assert!(told.contains("https://court.example:9443/join/"), "{told}");
    let (code, bad) = output(&["demo", "--server-url", "ftp://x"], &data).await;
    assert_ne!(code, 0, "{bad}");
    // A Mandarin demo hearing (captioned in simplified characters); a language Whisper does
    // not know is refused before anything is created.
    let (code, zh) = output(&["demo", "--language", "zh"], &data).await;
    assert_eq!(code, 0, "{zh}");
    assert!(
        zh.contains("held in \"zh\"") && zh.contains("/join/"),
        "{zh}"
    );
    let (code, bad) = output(&["demo", "--language", "klingon"], &data).await;
    assert_ne!(code, 0, "{bad}");

    gavel::app::install_crypto_provider();
    let pem = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let key_pem = data.join("tls/key.pem");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_pem).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap();
    let health = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // The printed demo link (its port is the default; this server is on another) opens the hearing.
    let judge = links[0];
    let (path, fragment) = judge.split_once('#').unwrap();
    let hearing = path.rsplit('/').next().unwrap();
    let token = fragment.strip_prefix("token=").unwrap();
    let res = client
        .get(format!(
            "https://localhost:{port}/api/v1/hearings/{hearing}/session"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let s: serde_json::Value = res.json().await.unwrap();
    assert_eq!(s["role"], "judge");

    // A key rotated while the server runs: links signed with it work at once.
    let (code, _) = output(&["keys", "rotate"], &data).await;
    assert_eq!(code, 0);
    let (_, demo2) = output(&["demo"], &data).await;
    let link2 = demo2
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap();
    let (path2, fragment2) = link2.split_once('#').unwrap();
    let res = client
        .get(format!(
            "https://localhost:{port}/api/v1/hearings/{}/session",
            path2.rsplit('/').next().unwrap()
        ))
        .bearer_auth(fragment2.strip_prefix("token=").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "a link signed by the rotated key opens the hearing"
    );

    // The platform registers someone with contact details; none of the secrets reach the log.
    let key = key.trim();
    let res = client
        .post(format!(
            "https://localhost:{port}/api/v1/hearings/{hearing}/participants"
        ))
        .bearer_auth(key)
        .json(
            &serde_json::json!({"display_name": "Wang Wu", "role": "witness",
            "identity_ref": "idp:777", "contact": "+86 138 0013 8000"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let pid = child.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("server stopped after SIGTERM")
        .unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    let logs = logs.await.unwrap();
    assert!(
        logs.contains("listening"),
        "debug logs were captured:\n{logs}"
    );
    for secret in [key, token, "138 0013 8000"] {
        assert!(!logs.contains(secret), "a secret reached the log:\n{logs}");
    }

    let (code, text) = output(&["audit", "verify"], &data).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("intact"), "{text}");
    let missing = dir.path().join("no-such-dir");
    let (code, _) = output(&["audit", "verify"], &missing).await;
    assert_eq!(code, 1, "verifying a missing database fails");
    assert!(!missing.exists(), "verify must not create what it inspects");

    // Tamper with the database file's audit rows directly; verify must fail and say where.
    sqlx::any::install_default_drivers();
    let db_url = format!("sqlite://{}", data.join("gavel.db").display());
    let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&db_url)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'cli:someone-else' WHERE seq = 2")
        .execute(&mut c)
        .await
        .unwrap();
    let (code, text) = output(&["audit", "verify"], &data).await;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("BROKEN at entry 2"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sfu_benchmark_forwards_a_small_load_without_loss() {
    let summary = small_sfu_bench(&[]).await;
    assert_eq!(summary["transport"], "per-connection", "{summary}");
    // The generator's own load is reported, so an overloaded generator shows.
    assert!(summary["gen_cpu_pct"].as_f64().unwrap() > 0.0, "{summary}");
}

/// `gavel bench sfu` at 2 publishers x 4 subscribers for 5 s with `extra` arguments: every
/// subscriber joined, media flowed, and nothing (beyond what loopback UDP in a loaded debug
/// build may lose, a packet in a thousand) was lost. Returns the JSON summary.
async fn small_sfu_bench(extra: &[&str]) -> serde_json::Value {
    let out = gavel()
        .args(["bench", "sfu", "-p", "2", "-s", "4", "-d", "5", "--json"])
        .args(extra)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    let summary: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["joined_subscribers"], 8, "{summary}");
    assert!(
        summary["forwarded_pps"].as_f64().unwrap() > 1000.0,
        "{summary}"
    );
    assert!(summary["loss_pct"].as_f64().unwrap() <= 0.5, "{summary}");
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_media_plane_benchmark_forwards_a_small_load_without_loss_and_reports_what_it_held() {
    let summary = small_sfu_bench(&["--plane"]).await;
    assert_eq!(summary["transport"], "plane", "{summary}");
    // The plane's own CPU and the latency it added are measured, not assumed.
    assert!(
        summary["server_cpu_us_per_pkt"].as_f64().unwrap() > 0.0,
        "{summary}"
    );
    assert!(
        summary["server_held_ms_p99"].as_f64().is_some()
            && summary["server_audio_held_ms_p99"].as_f64().is_some(),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whep_benchmark_feeds_viewers_on_the_servers_media_plane_without_loss() {
    let summary = small_sfu_bench(&["--whep"]).await;
    assert_eq!(summary["subscribers_over"], "whep", "{summary}");
    assert_eq!(summary["whep_on_plane"], 8, "{summary}");
}

/// The `key=value` pairs of a report's last line.
fn summary(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caption_benchmark_keeps_up_with_two_speakers_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let model = crate::asr::tiny_en(dir.path());
    let out = gavel()
        .args([
            "bench",
            "asr",
            "--threads",
            "1",
            "--concurrent",
            "2",
            "--model",
        ])
        .arg(&model)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&text);
    let num = |k: &str| -> f64 { s[k].parse().unwrap_or(f64::NAN) };
    // Keeping up: no utterance given up, each speaker's ten sentences captioned (one the
    // model hears nothing in may be missing), and as accurately as the offline bar allows.
    assert_eq!(num("gaps"), 0.0, "{text}");
    assert!(num("captions_min") >= 9.0, "{text}");
    assert!(num("live_wer") <= 0.25, "{text}");
    assert!(num("wer") <= 0.20 && num("long_wer") <= 0.25, "{text}");
}

#[tokio::test]
async fn verify_recording_names_a_changed_segment_and_an_edited_manifest() {
    use gavel_recordings::manifest::{Entry, Segment, append};
    let dir = tempfile::tempdir().unwrap();
    let mut last: Option<Entry> = None;
    let mut lines = String::new();
    for (name, content) in [
        ("alice-video-00000.mkv", b"segment one"),
        ("alice-video-00001.mkv", b"segment two"),
    ] {
        std::fs::write(dir.path().join(name), content).unwrap();
        let e = append(
            last.as_ref(),
            Segment {
                file: name.into(),
                participant: "alice".into(),
                track: "video".into(),
                start_ms: 0,
                end_ms: 2000,
                sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, content)),
                cut_short: false,
            },
        );
        lines.push_str(&serde_json::to_string(&e).unwrap());
        lines.push('\n');
        last = Some(e);
    }
    let manifest = dir.path().join("manifest.jsonl");
    std::fs::write(&manifest, &lines).unwrap();
    let d = dir.path().to_str().unwrap();
    let data = tempfile::tempdir().unwrap();
    let (code, text) = output(&["verify", "recording", d], data.path()).await;
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("not sealed"),
        "an unsealed recording does not pass: {text}"
    );

    // Sealed with this server's key (as the server does when the hearing closes).
    let (code, _) = output(&["keys", "rotate"], data.path()).await;
    assert_eq!(code, 0);
    let pk8 = std::fs::read_dir(data.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pk8"))
        .unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(&std::fs::read(pk8).unwrap()).unwrap();
    let kid = {
        use ring::signature::KeyPair;
        hex::encode(ring::digest::digest(
            &ring::digest::SHA256,
            pair.public_key().as_ref(),
        ))[..16]
            .to_owned()
    };
    let head = last.as_ref().unwrap().hash.clone();
    let seal = gavel_recordings::seal::Seal {
        hearing: "h".into(),
        head: head.clone(),
        entries: 2,
        kid,
        signature: hex::encode(pair.sign(&gavel_recordings::seal::message("h", &head, 2))),
    };
    std::fs::write(
        dir.path().join("manifest.seal.json"),
        serde_json::to_string(&seal).unwrap(),
    )
    .unwrap();
    let (code, text) = output(&["verify", "recording", d], data.path()).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("recording intact: 2 segments"), "{text}");
    assert!(!text.contains("WARNING"), "{text}");

    // A file the manifest does not list: the record still verifies, and the examiner is told.
    let stray = dir.path().join("alice-video-00002.mkv");
    std::fs::write(&stray, b"not in the record").unwrap();
    let (code, text) = output(&["verify", "recording", d], data.path()).await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("WARNING: alice-video-00002.mkv is in the directory but not in the manifest"),
        "{text}"
    );
    std::fs::remove_file(&stray).unwrap();

    // One byte flipped in a segment.
    let seg = dir.path().join("alice-video-00001.mkv");
    std::fs::write(&seg, b"segment twp").unwrap();
    let (code, text) = output(&["verify", "recording", d], data.path()).await;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("alice-video-00001.mkv was changed"), "{text}");
    std::fs::write(&seg, b"segment two").unwrap();

    // The manifest edited.
    std::fs::write(
        &manifest,
        lines.replacen("\"end_ms\":2000", "\"end_ms\":1000", 1),
    )
    .unwrap();
    let (code, text) = output(&["verify", "recording", d], dir.path()).await;
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("manifest line 1 (alice-video-00000.mkv) was altered"),
        "{text}"
    );
}

#[test]
fn the_readme_configuration_example_is_valid_configuration() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("## Configuration").nth(1).unwrap();
    let toml = section
        .split("```toml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a TOML example under ## Configuration");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gavel.toml");
    std::fs::write(&file, toml).unwrap();
    let config = gavel::config::Config::load(Some(&file)).expect("the example parses");
    config.validate().expect("the example is valid");
    assert!(config.shielding.id_numbers && config.transcription.language == "zh");
}
