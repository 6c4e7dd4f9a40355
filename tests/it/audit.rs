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
