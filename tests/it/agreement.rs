//! The mediation agreement (Art. 16) through the real server, on SQLite and PostgreSQL: the
//! mediator drafts it, each side that took part signs or refuses with a reason, the platform's
//! real webhook receiver hears `mediation.agreement_signed`, and the signed file verifies
//! offline with `gavel verify agreement` and fails when one byte of its terms changes. A
//! refused agreement is followed by a new draft; one signed by every side stands.

use std::time::Duration;

use serde_json::{Value, json};

use crate::both_backends;
use crate::signaling::join;
use crate::support::{Backend, TestApp, wait_for};
use crate::webhooks::{Receiver, bound_socket};
use crate::written::{As, gavel, json_of};

const TERMS: &str = "1. Wang pays Li 12,000 yuan by 31 January 2027.\n\
                     2. Li withdraws the claim within seven days of payment.\n\
                     3. Each side bears its own costs.";

/// Waits until the room has written each participant's join to the audit log (it does so just
/// after welcoming them): only those who took part are asked to sign.
pub(crate) async fn joined(app: &TestApp, ids: &[&str]) {
    wait_for(
        Duration::from_secs(10),
        "the joins in the audit log",
        || async {
            let mut conn = app.db().await;
            let subjects: Vec<(String,)> =
                sqlx::query_as("SELECT subject FROM audit_log WHERE action = 'participant.joined'")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            ids.iter()
                .all(|id| {
                    subjects
                        .iter()
                        .any(|(s,)| *s == format!("participant:{id}"))
                })
                .then_some(())
        },
    )
    .await;
}

/// The `n`th `mediation.agreement_signed` event the receiver got (1-based).
async fn event(hook: &Receiver, n: usize) -> Value {
    wait_for(
        Duration::from_secs(10),
        "the mediation.agreement_signed webhook",
        || async {
            let got = hook.got.lock().unwrap();
            got.iter()
                .filter_map(|(_, body)| serde_json::from_slice::<Value>(body).ok())
                .filter(|v| v["type"] == "mediation.agreement_signed")
                .nth(n - 1)
        },
    )
    .await
}

async fn the_mediator_drafts_each_side_signs_or_refuses_and_the_agreement_verifies_offline(
    b: Backend,
) {
    let app = TestApp::spawn(b).await;
    let (sock, addr) = bound_socket();
    let hook = Receiver::start(sock, Default::default()).await;
    app.post_ok(
        "/api/v1/webhooks",
        json!({"url": format!("http://{addr}/hook"), "events": ["mediation.agreement_signed"]}),
        201,
    )
    .await;
    let (docket, trial) = app.docket_and_hearing().await;
    let hearing = app.hearing_of(&docket, "mediation").await;
    let mediator = join(&app, &hearing, "mediator").await;
    let li = join(&app, &hearing, "party").await;
    let wang = join(&app, &hearing, "party").await;
    let counsel = join(&app, &hearing, "counsel").await;
    let observer = join(&app, &hearing, "observer").await;
    // Registered but never there: not asked to sign what they did not take part in.
    app.participant(&hearing, "party").await;
    joined(
        &app,
        &[&mediator.id, &li.id, &wang.id, &counsel.id, &observer.id],
    )
    .await;
    let as_ = |id: &str| {
        let (app, hearing, id) = (&app, hearing.clone(), id.to_owned());
        async move {
            As {
                app,
                token: app.join_token(&hearing, &id).await,
            }
        }
    };
    let as_mediator = as_(&mediator.id).await;
    let as_li = as_(&li.id).await;
    let as_wang = as_(&wang.id).await;
    let as_counsel = as_(&counsel.id).await;
    let as_observer = as_(&observer.id).await;
    let agreements = format!("/api/v1/hearings/{hearing}/agreements");

    // Only the mediator drafts, only in a mediation, and only what can be shown as it is.
    let (s, _) = as_li.post(&agreements, json!({"text": TERMS})).await;
    assert_eq!(s, 403, "a party does not draft");
    let trial_mediator = app.participant(&trial, "mediator").await;
    let in_trial = As {
        app: &app,
        token: app.join_token(&trial, &trial_mediator).await,
    };
    let (s, body) = in_trial
        .post(
            &format!("/api/v1/hearings/{trial}/agreements"),
            json!({"text": TERMS}),
        )
        .await;
    assert_eq!(
        (s, json_of(&body)["type"].as_str().unwrap_or("")),
        (409, "/problems/not-a-mediation"),
        "{body}"
    );
    for bad in [
        json!({"text": "  \n "}),
        json!({"text": "Wang pays Li 1\u{202e}000 yuan"}),
        json!({"text": "x".repeat(10_001)}),
        json!({"text": TERMS, "signers": []}),
        json!({}),
    ] {
        let (s, body) = as_mediator.post(&agreements, bad).await;
        assert_eq!(s, 422, "{body}");
    }
    assert!(app.get_ok(&agreements).await.as_array().unwrap().is_empty());

    // The first draft: the sides who took part sign; nobody else.
    let (s, body) = as_mediator.post(&agreements, json!({"text": TERMS})).await;
    assert_eq!(s, 201, "{body}");
    let v1 = json_of(&body);
    assert_eq!(
        (v1["version"].as_u64(), v1["state"].as_str()),
        (Some(1), Some("awaiting_signatures"))
    );
    assert_eq!(v1["text"], TERMS);
    let mut signers: Vec<&str> = v1["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["participant_id"].as_str().unwrap())
        .collect();
    signers.sort_unstable();
    let mut want = vec![li.id.as_str(), wang.id.as_str(), counsel.id.as_str()];
    want.sort_unstable();
    assert_eq!(
        signers, want,
        "the sides who took part: no mediator, observer or absentee"
    );
    let v1_path = format!("{agreements}/{}", v1["id"].as_str().unwrap());
    let (s, _) = as_observer.get(&v1_path).await;
    assert_eq!(s, 403, "an observer does not read the agreement");
    let (s, _) = as_observer.get(&agreements).await;
    assert_eq!(s, 403);
    let (s, body) = as_wang.get(&v1_path).await;
    assert_eq!(
        (s, json_of(&body)["sha256"].clone()),
        (200, v1["sha256"].clone())
    );

    // Decisions: each side once; a refusal needs a reason; the mediator and observer have no say.
    let sign = format!("{v1_path}/signatures");
    let signed = json!({"decision": "signed"});
    for who in [&as_observer, &as_mediator] {
        let (s, _) = who.post(&sign, signed.clone()).await;
        assert_eq!(s, 403);
    }
    let (s, body) = as_li.post(&sign, signed.clone()).await;
    assert_eq!(s, 201, "{body}");
    let (s, _) = as_li.post(&sign, signed.clone()).await;
    assert_eq!(s, 409, "decided once");
    let (s, _) = as_wang.post(&sign, json!({"decision": "refused"})).await;
    assert_eq!(s, 422, "a refusal without a reason");
    let refusal = "clause 1: the sum was 10,000 yuan";
    let (s, _) = as_wang
        .post(&sign, json!({"decision": "refused", "reason": refusal}))
        .await;
    assert_eq!(s, 201);
    assert!(
        hook.got.lock().unwrap().is_empty(),
        "no event before every side has decided"
    );
    let (s, body) = as_counsel.post(&sign, signed.clone()).await;
    assert_eq!(s, 201, "{body}");
    let done = json_of(&body);
    assert_eq!(
        (done["state"].as_str(), done["all_signed"].as_bool()),
        (Some("complete"), Some(false))
    );
    let e = event(&hook, 1).await;
    assert_eq!(e["data"]["agreement_id"], v1["id"]);
    assert_eq!(e["data"]["all_signed"], false);
    assert_eq!(e["data"]["refused"][0]["participant_id"], wang.id.as_str());
    assert_eq!(e["data"]["refused"][0]["reason"], refusal);
    assert_eq!(e["data"]["signed"].as_array().unwrap().len(), 2);

    // The signed file verifies offline; one byte of its terms changed does not.
    let res = app
        .call(reqwest::Method::GET, &format!("{v1_path}/signed"), None)
        .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ok, keys) = gavel(&app, &["keys".as_ref(), "public".as_ref()]).await;
    assert!(ok, "{keys}");
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, keys.trim()).unwrap();
    let file = dir.path().join("agreement.json");
    let verify = |kind: &'static str| {
        let (app, file, keys_file) = (&app, file.clone(), keys_file.clone());
        async move {
            let args = [
                "verify".as_ref(),
                kind.as_ref(),
                file.as_os_str(),
                "--keys".as_ref(),
                keys_file.as_os_str(),
                "--complete".as_ref(),
            ];
            gavel(app, &args).await
        }
    };
    std::fs::write(&file, &text).unwrap();
    let (ok, out) = verify("agreement").await;
    assert!(ok, "{out}");
    assert!(
        out.contains("agreement intact") && out.contains("version 1"),
        "{out}"
    );
    assert!(
        out.contains("  2. Li withdraws the claim"),
        "the terms are shown: {out}"
    );
    assert!(
        out.contains(refusal) && out.contains("status: complete"),
        "{out}"
    );
    assert_eq!(out.matches("signed: ").count(), 2, "{out}");
    let (ok, out) = verify("transcript").await;
    assert!(!ok && out.contains("not a signed transcript file"), "{out}");
    std::fs::write(&file, text.replacen("12,000", "13,000", 1)).unwrap();
    let (ok, out) = verify("agreement").await;
    assert!(!ok && out.contains("was altered"), "{out}");

    // Refused, so the mediator drafts again; a draft not yet decided is superseded by the
    // next, and can no longer be signed; the refused one stays as it was.
    let terms2 = TERMS.replace("12,000", "11,000");
    let (s, body) = as_mediator.post(&agreements, json!({"text": terms2})).await;
    assert_eq!(s, 201, "{body}");
    let v2 = json_of(&body);
    assert_eq!(v2["version"], 2);
    let (s, body) = as_mediator
        .post(&agreements, json!({"text": terms2.replace("seven", "ten")}))
        .await;
    assert_eq!(s, 201, "{body}");
    let v3 = json_of(&body);
    let v2_path = format!("{agreements}/{}", v2["id"].as_str().unwrap());
    let (s, body) = as_li
        .post(&format!("{v2_path}/signatures"), signed.clone())
        .await;
    assert_eq!(s, 409, "a superseded draft is not signed: {body}");
    let listed = app.get_ok(&agreements).await;
    let states: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["awaiting_signatures", "superseded", "complete"]);
    let v3_sign = format!("{agreements}/{}/signatures", v3["id"].as_str().unwrap());
    for who in [&as_li, &as_wang, &as_counsel] {
        let (s, body) = who.post(&v3_sign, signed.clone()).await;
        assert_eq!(s, 201, "{body}");
    }
    let e = event(&hook, 2).await;
    assert_eq!(
        (
            e["data"]["version"].as_u64(),
            e["data"]["all_signed"].as_bool()
        ),
        (Some(3), Some(true))
    );
    // Signed by every side: it stands.
    let (s, body) = as_mediator.post(&agreements, json!({"text": TERMS})).await;
    assert_eq!(s, 409, "{body}");
    assert!(body.contains("agreement-signed"), "{body}");

    // Every change and read is in the audit log.
    let mut conn = app.db().await;
    let actions: Vec<(String,)> = sqlx::query_as(
        "SELECT action FROM audit_log WHERE action LIKE 'agreement.%' \
         AND action NOT IN ('agreement.view', 'agreement.download') ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let actions: Vec<&str> = actions.iter().map(|(a,)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "agreement.draft",
            "agreement.sign",
            "agreement.refuse",
            "agreement.sign",
            "agreement.draft",
            "agreement.draft",
            "agreement.sign",
            "agreement.sign",
            "agreement.sign",
        ]
    );
}
both_backends!(the_mediator_drafts_each_side_signs_or_refuses_and_the_agreement_verifies_offline);
