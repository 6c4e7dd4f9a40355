//! E-courtroom devices through the case API (Art. 33): the platform registers a hearing's RTSP
//! cameras with their credentials, which never come back out (not in any answer, not in the
//! audit log), lists and removes them; bad registrations are refused field by field.

use reqwest::Method;
use serde_json::json;
use sqlx::Row;

use crate::both_backends;
use crate::support::{Backend, TestApp};

const PASSWORD: &str = "Sup3r-secret pass";

async fn the_platform_registers_lists_and_removes_a_courtroom_camera(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let path = format!("/api/v1/hearings/{hearing}/devices");
    let created = app
        .post_ok(
            &path,
            json!({
                "name": "Courtroom 3 — bench camera",
                "url": "rtsp://10.0.3.21:554/stream1",
                "username": "court",
                "password": PASSWORD,
            }),
            201,
        )
        .await;
    assert_eq!(created["name"], "Courtroom 3 — bench camera");
    assert_eq!(created["transport"], "tcp", "interleaved by default");
    assert_eq!(created["has_password"], true);
    assert!(!created.to_string().contains(PASSWORD), "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    let pin = "ab".repeat(32);
    app.post_ok(
        &path,
        json!({"name": "Codec", "url": "rtsps://codec.court.example/live", "transport": "udp", "tls_pin": pin}),
        201,
    )
    .await;
    let listed = app.get_ok(&path).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    assert!(!listed.to_string().contains(PASSWORD));
    assert_eq!(listed[1]["tls_pin"], pin.as_str());
    assert_eq!(listed[1]["has_password"], false);

    // The audit log records the registration, never the password.
    let mut db = app.db().await;
    let details: Vec<String> = sqlx::query(
        "SELECT details FROM audit_log WHERE action IN ('device.create', 'device.remove')",
    )
    .fetch_all(&mut db)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>("details"))
    .collect();
    assert_eq!(details.len(), 2);
    assert!(details.iter().all(|d| !d.contains(PASSWORD)), "{details:?}");

    let res = app
        .call(Method::DELETE, &format!("{path}/{id}"), None)
        .await;
    assert_eq!(res.status(), 204);
    let listed = app.get_ok(&path).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let res = app
        .call(Method::DELETE, &format!("{path}/{id}"), None)
        .await;
    assert_eq!(res.status(), 404, "removed once");
    // Its credentials are forgotten with it.
    let kept: Option<String> = sqlx::query_scalar("SELECT password FROM devices WHERE id = $1")
        .bind(&id)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(kept, None);
    assert_eq!(
        app.count("audit_log WHERE action = 'device.remove'").await,
        1
    );
}
both_backends!(the_platform_registers_lists_and_removes_a_courtroom_camera);

async fn a_bad_registration_is_refused_field_by_field_and_nothing_is_stored(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let path = format!("/api/v1/hearings/{hearing}/devices");
    for (body, field) in [
        (
            json!({"name": "c", "url": "rtsp://admin:pw@10.0.3.21/s"}),
            "url",
        ),
        (json!({"name": "c", "url": "http://10.0.3.21/s"}), "url"),
        (json!({"name": "", "url": "rtsp://10.0.3.21/s"}), "name"),
        (
            json!({"name": "c", "url": "rtsp://cam/s", "password": "pw"}),
            "username",
        ),
        (
            json!({"name": "c", "url": "rtsp://cam/s", "tls_pin": "ab".repeat(32)}),
            "tls_pin",
        ),
    ] {
        let res = app.call(Method::POST, &path, Some(body.clone())).await;
        assert_eq!(res.status(), 422, "{body}");
        let p: serde_json::Value = res.json().await.unwrap();
        assert_eq!(p["field"], field, "{body}: {p}");
        assert!(
            !p.to_string().contains("admin:pw"),
            "the URL's secret is not echoed: {p}"
        );
    }
    let res = app
        .call(
            Method::POST,
            &path,
            Some(json!({"name": "c", "url": "rtsp://cam/s", "transport": "quic"})),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(app.count("devices").await, 0);

    // A closed hearing takes no device.
    let transitions = format!("/api/v1/hearings/{hearing}/transitions");
    for to in ["open", "closed"] {
        app.post_ok(&transitions, json!({ "to": to }), 200).await;
    }
    let res = app
        .call(
            Method::POST,
            &path,
            Some(json!({"name": "c", "url": "rtsp://cam/s"})),
        )
        .await;
    assert_eq!(res.status(), 409);
    let p: serde_json::Value = res.json().await.unwrap();
    assert_eq!(p["type"], "/problems/hearing-closed");
}
both_backends!(a_bad_registration_is_refused_field_by_field_and_nothing_is_stored);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_platform_manages_devices() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let party = app.participant(&hearing, "party").await;
    let token = app.join_token(&hearing, &party).await;
    let res = app
        .client
        .get(app.url(&format!("/api/v1/hearings/{hearing}/devices")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a join token is not the platform's key");
    let res = app
        .client
        .get(app.url(&format!("/api/v1/hearings/{hearing}/devices")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
