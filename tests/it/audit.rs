//! The audit log records every change, verifies, and names the first tampered entry.

use reqwest::Method;
use serde_json::json;
use sqlx::Row;

use crate::both_backends;
use crate::support::{Backend, TestApp};
use gavel::audit::{AuditVerdict, verify};

async fn every_change_is_audited_and_a_tampered_row_is_found(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let party = app.participant(&hearing, "party").await;
    app.join_token(&hearing, &party).await;
    app.post_ok(
        &format!("/api/v1/hearings/{hearing}/transitions"),
        json!({"to": "open", "reason": "ready"}),
        200,
    )
    .await;
    let res = app
        .call(
            Method::POST,
            &format!("/api/v1/hearings/{hearing}/transitions"),
            Some(json!({"to": "recess"})),
        )
        .await;
    assert_eq!(res.status(), 409);

    let mut c = app.db().await;
    let rows = sqlx::query("SELECT seq, actor, action, subject FROM audit_log ORDER BY seq")
        .fetch_all(&mut c)
        .await
        .unwrap();
    let actions: Vec<String> = rows.iter().map(|r| r.get::<String, _>("action")).collect();
    assert_eq!(
        actions,
        [
            "apikey.create",
            "docket.create",
            "hearing.create",
            "participant.create",
            "join_link.issue",
            "hearing.transition"
        ],
        "refused requests write nothing"
    );
    assert_eq!(rows[1].get::<String, _>("actor"), "apikey:court-platform");
    assert_eq!(
        rows[5].get::<String, _>("subject"),
        format!("hearing:{hearing}")
    );

    app.stop().await;
    let (db, _) = gavel::app::open(&app.config).await.unwrap();
    match verify(&db).await.unwrap() {
        AuditVerdict::Intact { entries, head } => {
            assert_eq!(entries, 6);
            assert_eq!(head.len(), 64);
        }
        broken => panic!("expected an intact chain, got {broken:?}"),
    }

    // Someone edits entry 3 in the database: verify names it.
    let original: String = sqlx::query_scalar("SELECT details FROM audit_log WHERE seq = 3")
        .fetch_one(&mut c)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET details = '{\"kind\":\"mediation\"}' WHERE seq = 3")
        .execute(&mut c)
        .await
        .unwrap();
    assert!(matches!(
        verify(&db).await.unwrap(),
        AuditVerdict::Broken { seq: 3, .. }
    ));

    // Deleting an entry is found at the next one.
    sqlx::query("UPDATE audit_log SET details = $1 WHERE seq = 3")
        .bind(&original)
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = 4")
        .execute(&mut c)
        .await
        .unwrap();
    let v = verify(&db).await.unwrap();
    assert!(matches!(v, AuditVerdict::Broken { seq: 5, .. }), "{v:?}");
    db.close().await;
}
both_backends!(every_change_is_audited_and_a_tampered_row_is_found);

/// `gavel audit verify` on the test server's data and database: exit code and output.
async fn audit_verify(app: &TestApp, extra: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(["audit", "verify", "--data-dir"])
        .arg(app.data_dir())
        .args(extra)
        .env_remove("GAVEL_CONFIG")
        .env("GAVEL__DATABASE__URL", &app.db_url)
        .env("GAVEL_LOG", "warn")
        .output()
        .await
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_cut_short_or_rehashed_fails_against_the_signed_checkpoints() {
    use crate::support::wait_for;
    use crate::webhooks::{Receiver, bound_socket};
    use gavel::domain::audit::AuditEntry;
    use std::time::Duration;

    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let (sock, addr) = bound_socket();
    let hook = Receiver::start(sock, Default::default()).await;
    app.post_ok(
        "/api/v1/webhooks",
        json!({"url": format!("http://{addr}/hook"), "events": ["audit.checkpoint"]}),
        201,
    )
    .await;
    let (_, hearing) = app.docket_and_hearing().await;
    for to in ["open", "closed"] {
        app.post_ok(
            &format!("/api/v1/hearings/{hearing}/transitions"),
            json!({ "to": to }),
            200,
        )
        .await;
    }
    // The close is anchored at once: in the file beside the keys and at the platform.
    let entries = app.count("audit_log").await;
    let file = app.data_dir().join(gavel::checkpoint::FILE);
    wait_for(
        Duration::from_secs(10),
        "a checkpoint of the close",
        || async {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let last: Option<serde_json::Value> = text
                .lines()
                .last()
                .and_then(|l| serde_json::from_str(l).ok());
            last.filter(|c| c["entries"] == entries).map(|_| ())
        },
    )
    .await;
    let platform = wait_for(
        Duration::from_secs(10),
        "the audit.checkpoint webhook",
        || async {
            let got = hook.got.lock().unwrap();
            got.iter().find_map(|(_, body)| {
                let v: serde_json::Value = serde_json::from_slice(body).ok()?;
                (v["type"] == "audit.checkpoint" && v["data"]["entries"] == entries)
                    .then(|| v["data"].to_string())
            })
        },
    )
    .await;
    app.stop().await;
    let copy = app.data_dir().join("platform-checkpoints.jsonl");
    std::fs::write(&copy, platform + "\n").unwrap();
    let (code, text) = audit_verify(&app, &[]).await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("intact") && text.contains("signed checkpoint"),
        "{text}"
    );

    // Entry 3 edited and every later entry hashed again with plain SHA-256: the chain holds,
    // the checkpoint (here the platform's copy) does not.
    let mut c = app.db().await;
    let rows =
        sqlx::query("SELECT seq, at, actor, action, subject, details FROM audit_log ORDER BY seq")
            .fetch_all(&mut c)
            .await
            .unwrap();
    let mut prev: gavel_recordings::Digest = hex::decode(
        sqlx::query_scalar::<_, String>("SELECT prev_hash FROM audit_log WHERE seq = 3")
            .fetch_one(&mut c)
            .await
            .unwrap(),
    )
    .unwrap()
    .try_into()
    .unwrap();
    for r in rows.iter().skip(2) {
        let mut entry = AuditEntry {
            seq: r.get("seq"),
            at_ms: r.get("at"),
            actor: r.get("actor"),
            action: r.get("action"),
            subject: r.get("subject"),
            details: r.get("details"),
        };
        if entry.seq == 3 {
            entry.details = "{\"kind\":\"mediation\"}".into();
        }
        let hash = entry.hash_after(&prev);
        sqlx::query("UPDATE audit_log SET details = $1, prev_hash = $2, hash = $3 WHERE seq = $4")
            .bind(&entry.details)
            .bind(hex::encode(prev))
            .bind(hex::encode(hash))
            .bind(entry.seq)
            .execute(&mut c)
            .await
            .unwrap();
        prev = hash;
    }
    let (code, text) = audit_verify(&app, &["--checkpoints", copy.to_str().unwrap()]).await;
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("intact") && text.contains(&format!("REWRITTEN: entry {entries}")),
        "{text}"
    );

    // The last two entries cut off: a shorter chain, still valid, but not what was signed.
    sqlx::query("DELETE FROM audit_log WHERE seq > $1")
        .bind(entries - 2)
        .execute(&mut c)
        .await
        .unwrap();
    let (code, text) = audit_verify(&app, &[]).await;
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("intact")
            && text.contains("TRUNCATED: the checkpoint of ")
            && text.contains(&format!(
                "entries {} to {entries} were removed",
                entries - 1
            )),
        "{text}"
    );
}
