//! The written record (Art. 25, 36) through the real server: the clerk corrects the live
//! transcript (each correction a version with who, when and why; the words heard kept),
//! finalises it once the hearing has ended; every required signer signs or refuses with a
//! reason; the platform's real webhook receiver hears `transcript.signed`; the signed file
//! verifies offline with `gavel verify transcript` and fails when one character of the
//! document or of a signature changes; the public copy shields ID and phone numbers, which the
//! court's own copy keeps.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::signaling::join;
use crate::support::{Backend, TestApp, wait_for};
use crate::webhooks::{Receiver, bound_socket};
use gavel::transcribe::live::CaptionEvent;

/// Requests with one participant's join token; each gives the status and the body text.
pub(crate) struct As<'a> {
    pub(crate) app: &'a TestApp,
    pub(crate) token: String,
}

impl As<'_> {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, String) {
        let mut req = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        self.send(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (u16, String) {
        self.send(Method::POST, path, Some(body)).await
    }
}

/// Stores `text` as `who` said it `at` ms into the hearing (started at `t0`) for 3 s, as the
/// caption worker stores a line.
pub(crate) async fn store_said(
    db: &gavel::db::Db,
    hearing: &str,
    who: &str,
    t0: i64,
    at: i64,
    text: &str,
) {
    let e = CaptionEvent::Caption {
        participant: who.to_owned().into(),
        start_ms: t0 + at,
        end_ms: t0 + at + 3_000,
        text: text.into(),
        confidence: 0.8,
        spoken_at: std::time::Instant::now(),
    };
    gavel::transcribe::store::store(db, hearing, &e, t0)
        .await
        .unwrap();
}

/// The judge ends the hearing; returns once the record says it is closed.
pub(crate) async fn end_hearing(app: &TestApp, judge: &mut crate::signaling::Peer, hearing: &str) {
    judge
        .ws
        .send(&gavel_signaling::ClientMessage::EndHearing { req: None })
        .await
        .unwrap();
    wait_for(Duration::from_secs(10), "the hearing closed", || async {
        let h = app.get_ok(&format!("/api/v1/hearings/{hearing}")).await;
        (h["state"] == "closed").then_some(())
    })
    .await;
}

pub(crate) fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Runs `gavel ARGS` against the test server's data directory.
pub(crate) async fn gavel(app: &TestApp, args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(args)
        .arg("--data-dir")
        .arg(&app.config.server.data_dir)
        .env_remove("GAVEL_CONFIG")
        .env("GAVEL_LOG", "warn")
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn the_clerk_corrects_finalises_and_every_signer_signs_or_refuses(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (sock, addr) = bound_socket();
    let hook = Receiver::start(sock, Default::default()).await;
    app.post_ok(
        "/api/v1/webhooks",
        json!({"url": format!("http://{addr}/hook"), "events": ["transcript.signed"]}),
        201,
    )
    .await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = join(&app, &hearing, "judge").await;
    let clerk = join(&app, &hearing, "clerk").await;
    let party = join(&app, &hearing, "party").await;
    let observer = join(&app, &hearing, "observer").await;
    let expert = join(&app, &hearing, "expert").await;
    // Registered but never there: not asked to sign what they did not hear.
    app.participant(&hearing, "counsel").await;
    let token = |id: String| {
        let app = &app;
        let hearing = hearing.clone();
        async move { app.join_token(&hearing, &id).await }
    };
    let as_ = |token| As { app: &app, token };
    let as_clerk = as_(token(clerk.id.clone()).await);
    let as_party = as_(token(party.id.clone()).await);
    let as_observer = as_(token(observer.id.clone()).await);

    // The live transcript, stored as the worker stores it.
    let db = gavel::db::Db::connect(&app.db_url.clone().into(), 1)
        .await
        .unwrap();
    let t0 = gavel::clock::now_ms();
    let said = [
        (
            &party.id,
            0,
            "My ID number is 11010519491231002X and my phone is 13800138000.",
        ),
        (&party.id, 4_000, "I was at hone that evening."),
    ];
    for (who, at, text) in said {
        store_said(&db, &hearing, who, t0, at, text).await;
    }
    let gap = CaptionEvent::Gap {
        participant: judge.id.clone().into(),
        start_ms: t0 + 8_000,
        end_ms: t0 + 9_000,
        why: gavel::transcribe::live::GapReason::Behind,
    };
    gavel::transcribe::store::store(&db, &hearing, &gap, t0)
        .await
        .unwrap();

    // A line from someone the hearing does not know is refused, not stored without a role.
    let stranger = CaptionEvent::Caption {
        participant: uuid::Uuid::new_v4().to_string().into(),
        start_ms: t0,
        end_ms: t0 + 1_000,
        text: "Who am I?".into(),
        confidence: 0.5,
        spoken_at: std::time::Instant::now(),
    };
    assert!(
        gavel::transcribe::store::store(&db, &hearing, &stranger, t0)
            .await
            .is_err()
    );

    let transcript = format!("/api/v1/hearings/{hearing}/transcript");
    let (s, body) = as_clerk.get(&transcript).await;
    assert_eq!(s, 200, "{body}");
    let t = json_of(&body);
    assert_eq!(t["revision"], 0);
    let lines: Vec<String> = t["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lines.len(), 3, "{t}");

    // Corrections: the clerk's alone, each a version; the words heard are kept.
    let versions = |line: &str| format!("{transcript}/lines/{line}/versions");
    let fix = json!({"text": "I was at home that evening.", "reason": "misheard: the recording says home"});
    let (s, _) = as_party.post(&versions(&lines[1]), fix.clone()).await;
    assert_eq!(s, 403, "a party may not correct the record");
    let (s, body) = as_clerk.post(&versions(&lines[1]), fix).await;
    assert_eq!(s, 201, "{body}");
    let v = json_of(&body);
    assert_eq!(v["versions"][0]["text"], "I was at hone that evening.");
    assert_eq!(v["versions"][1]["text"], "I was at home that evening.");
    assert_eq!(v["versions"][1]["revision"], 1);
    assert_eq!(v["versions"][1]["by"], format!("participant:{}", clerk.id));
    assert_eq!(
        v["versions"][1]["reason"],
        "misheard: the recording says home"
    );
    for bad in [
        json!({"text": " ", "reason": "x"}),
        json!({"text": "x"}),
        json!({"text": "x", "reason": "y", "z": 1}),
    ] {
        let (s, _) = as_clerk.post(&versions(&lines[1]), bad).await;
        assert_eq!(s, 422);
    }
    let unknown = versions(&uuid::Uuid::new_v4().to_string());
    let (s, _) = as_clerk
        .post(&unknown, json!({"text": "x", "reason": "y"}))
        .await;
    assert_eq!(s, 404);
    // The clerk fills the gap from the recording.
    let fill = json!({"text": "The judge asked the witness to step closer.", "reason": "from the recording"});
    let (s, _) = as_clerk.post(&versions(&lines[2]), fill).await;
    assert_eq!(s, 201);
    let t = app.get_ok(&transcript).await;
    assert_eq!(t["revision"], 2);
    assert_eq!(t["lines"][1]["text"], "I was at home that evening.");
    assert_eq!(t["lines"][1]["heard"], "I was at hone that evening.");
    assert_eq!(t["lines"][1]["corrections"], 1);
    assert_eq!(t["lines"][0]["corrections"], 0);

    // Finalised only once the hearing has ended, and only the revision now current.
    let documents = format!("{transcript}/documents");
    let (s, body) = as_clerk.post(&documents, json!({"revision": 2})).await;
    assert_eq!(s, 409, "{body}");
    end_hearing(&app, &mut judge, &hearing).await;
    // Links minted after the hearing open its record (the judge signs from one).
    let as_judge = as_(token(judge.id.clone()).await);
    let (s, _) = as_clerk.post(&documents, json!({"revision": 1})).await;
    assert_eq!(
        s, 409,
        "a revision other than the current one is not finalised"
    );
    let (s, _) = as_party.post(&documents, json!({"revision": 2})).await;
    assert_eq!(s, 403);
    let (s, body) = as_clerk.post(&documents, json!({"revision": 2})).await;
    assert_eq!(s, 201, "{body}");
    let doc = json_of(&body);
    assert_eq!(doc["state"], "awaiting_signatures");
    let mut signers: Vec<&str> = doc["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["participant_id"].as_str().unwrap())
        .collect();
    signers.sort_unstable();
    let mut want = vec![
        judge.id.as_str(),
        clerk.id.as_str(),
        party.id.as_str(),
        expert.id.as_str(),
    ];
    want.sort_unstable();
    assert_eq!(
        signers, want,
        "those who took part and sign; no observer, no absentee"
    );
    // A repeated request changes nothing; once a signer is removed, the revision is finalised
    // again with the signers as they are now, and the older document can no longer be signed.
    let again = || as_clerk.post(&documents, json!({"revision": 2}));
    assert_eq!(again().await.0, 409, "finalised once");
    let res = app
        .call(
            Method::DELETE,
            &format!("/api/v1/hearings/{hearing}/participants/{}", expert.id),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let old_path = format!("{documents}/{}", doc["id"].as_str().unwrap());
    let (s, body) = as_clerk.post(&documents, json!({"revision": 2})).await;
    assert_eq!(s, 201, "{body}");
    let doc = json_of(&body);
    assert_eq!(doc["signers"].as_array().unwrap().len(), 3, "{doc}");
    let (s, old) = as_clerk.get(&old_path).await;
    assert_eq!(
        (s, json_of(&old)["state"].as_str()),
        (200, Some("superseded"))
    );
    let (s, _) = as_clerk
        .post(
            &format!("{old_path}/signatures"),
            json!({"decision": "signed"}),
        )
        .await;
    assert_eq!(s, 409, "a superseded record is not signed");
    let listed = app.get_ok(&documents).await;
    assert_eq!(listed[0]["id"], doc["id"]);
    assert_eq!(listed[1]["state"], "superseded");
    let doc_path = format!("{documents}/{}", doc["id"].as_str().unwrap());

    // The unmasked record is the court's and the signers'; the public copy shields numbers.
    let (s, _) = as_observer.get(&doc_path).await;
    assert_eq!(s, 403);
    let (s, page) = as_observer.get(&format!("{doc_path}/public")).await;
    assert_eq!(s, 200);
    assert!(
        page.contains("My ID number is [ID number] and my phone is [phone number]."),
        "{page}"
    );
    assert!(!page.contains("11010519491231002X") && !page.contains("13800138000"));
    let (s, page) = as_party.get(&format!("{doc_path}/html")).await;
    assert_eq!(s, 200);
    assert!(page.contains("11010519491231002X") && page.contains("I was at home that evening."));

    // Decisions: each signer once; a refusal needs a reason; the observer has no say.
    let sign = format!("{doc_path}/signatures");
    let signed = json!({"decision": "signed"});
    let (s, _) = as_observer.post(&sign, signed.clone()).await;
    assert_eq!(s, 403);
    let (s, body) = as_clerk.post(&sign, signed.clone()).await;
    assert_eq!(s, 201, "{body}");
    let (s, _) = as_clerk.post(&sign, signed.clone()).await;
    assert_eq!(s, 409, "decided once");
    let (s, _) = as_party.post(&sign, json!({"decision": "refused"})).await;
    assert_eq!(s, 422, "a refusal without a reason");
    let refusal = "line 1: I said I was at home all evening";
    let (s, _) = as_party
        .post(&sign, json!({"decision": "refused", "reason": refusal}))
        .await;
    assert_eq!(s, 201);
    assert!(
        hook.got.lock().unwrap().is_empty(),
        "not complete before the judge decides"
    );
    let (s, body) = as_judge.post(&sign, signed).await;
    assert_eq!(s, 201);
    assert_eq!(json_of(&body)["state"], "complete");
    let event = wait_for(
        Duration::from_secs(10),
        "the transcript.signed webhook",
        || async {
            let got = hook.got.lock().unwrap();
            got.iter().find_map(|(_, body)| {
                let v: Value = serde_json::from_slice(body).ok()?;
                (v["type"] == "transcript.signed").then_some(v)
            })
        },
    )
    .await;
    assert_eq!(event["data"]["document_id"], doc["id"]);
    assert_eq!(event["data"]["refused"][0]["reason"], refusal);
    assert_eq!(event["data"]["signed"].as_array().unwrap().len(), 2);

    // The signed file verifies offline; one changed character anywhere does not.
    let res = app
        .call(Method::GET, &format!("{doc_path}/signed"), None)
        .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("transcript.json");
    std::fs::write(&file, &text).unwrap();
    // Verified elsewhere, with the public keys the server prints.
    let (ok, keys) = gavel(&app, &["keys".as_ref(), "public".as_ref()]).await;
    assert!(ok, "{keys}");
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, keys.trim()).unwrap();
    let verify = |f: std::path::PathBuf| {
        let keys_file = keys_file.clone();
        let app = &app;
        async move {
            let args = [
                "verify".as_ref(),
                "transcript".as_ref(),
                f.as_os_str(),
                "--keys".as_ref(),
                keys_file.as_os_str(),
            ];
            gavel(app, &args).await
        }
    };
    let (ok, out) = verify(file.clone()).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("transcript intact") && out.contains(refusal),
        "{out}"
    );
    assert!(out.contains("status: complete"), "{out}");
    assert_eq!(out.matches("signed: ").count(), 2, "{out}");
    std::fs::write(&file, text.replacen("at home", "at hone", 1)).unwrap();
    let (ok, out) = verify(file.clone()).await;
    assert!(!ok && out.contains("the document was altered"), "{out}");
    let f = json_of(&text);
    let mut forged = f.clone();
    let sig = f["signatures"][1]["signature"].as_str().unwrap();
    let flipped = if sig.starts_with('a') { "b" } else { "a" };
    forged["signatures"][1]["signature"] = json!(format!("{flipped}{}", &sig[1..]));
    std::fs::write(&file, forged.to_string()).unwrap();
    let (ok, out) = verify(file.clone()).await;
    assert!(!ok && out.contains("does not verify"), "{out}");
    // The refusal left out: the completion seal no longer matches.
    let mut cut = f.clone();
    cut["signatures"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["decision"] != "refused");
    std::fs::write(&file, cut.to_string()).unwrap();
    let (ok, out) = verify(file.clone()).await;
    assert!(!ok && out.contains("completion seal"), "{out}");
    // ... and with the seal gone too, the file says it is incomplete, and fails when a
    // complete record is asked for.
    cut.as_object_mut().unwrap().remove("completion");
    std::fs::write(&file, cut.to_string()).unwrap();
    let (ok, out) = verify(file.clone()).await;
    assert!(ok && out.contains("status: INCOMPLETE"), "{out}");
    let (ok, _) = gavel(
        &app,
        &[
            "verify".as_ref(),
            "transcript".as_ref(),
            file.as_os_str(),
            "--keys".as_ref(),
            keys_file.as_os_str(),
            "--complete".as_ref(),
        ],
    )
    .await;
    assert!(!ok, "--complete refuses an incomplete record");
    // A complete record is not finalised again at the same revision.
    let (s, _) = as_clerk.post(&documents, json!({"revision": 2})).await;
    assert_eq!(s, 409);

    // Every change is in the audit log.
    let mut conn = app.db().await;
    let actions: Vec<(String,)> = sqlx::query_as(
        "SELECT action FROM audit_log WHERE action LIKE 'transcript.%' AND action NOT LIKE 'transcript.view%' ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let actions: Vec<&str> = actions.iter().map(|(a,)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "transcript.correct",
            "transcript.correct",
            "transcript.finalise",
            "transcript.finalise",
            "transcript.list",
            "transcript.sign",
            "transcript.refuse",
            "transcript.sign",
            "transcript.download"
        ]
    );
}
both_backends!(the_clerk_corrects_finalises_and_every_signer_signs_or_refuses);
