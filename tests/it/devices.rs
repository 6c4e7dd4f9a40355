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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_reads_what_a_camera_sends_and_a_refused_password_is_a_fault() {
    let rtsp = gavel_media_pipelines::rtsp_test_server::TestServer::start(Some(("court", "pw")))
        .expect("the RTSP test server starts (make setup installs it)");
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let path = format!("/api/v1/hearings/{hearing}/devices");
    let register = |name: &str, mount: &str, password: &str| {
        json!({
            "name": name, "url": format!("rtsp://127.0.0.1:{}{mount}", rtsp.port),
            "username": "court", "password": password,
        })
    };
    let camera = app
        .post_ok(&path, register("Bench camera", "/h264-baseline", "pw"), 201)
        .await;
    assert_eq!(camera["status"], "unchecked");
    let checked = app
        .post_ok(
            &format!("{path}/{}/check", camera["id"].as_str().unwrap()),
            json!(null),
            200,
        )
        .await;
    assert_eq!(checked["status"], "ok", "{checked}");
    assert_eq!(checked["stream"]["video"]["encoding"], "H264");
    assert_eq!(
        checked["stream"]["video"]["profile"],
        "constrained-baseline"
    );
    assert_eq!(checked["stream"]["video"]["b_frames"], false);
    assert_eq!(checked["stream"]["video"]["path"], "pass-through");
    assert!(checked["checked_at"].is_string());

    let high = app
        .post_ok(&path, register("Document camera", "/h264-high", "pw"), 201)
        .await;
    let checked = app
        .post_ok(
            &format!("{path}/{}/check", high["id"].as_str().unwrap()),
            json!(null),
            200,
        )
        .await;
    assert_eq!(checked["stream"]["video"]["b_frames"], true, "{checked}");
    assert_eq!(checked["stream"]["video"]["path"], "transcode");

    let codec = app
        .post_ok(&path, register("Room microphones", "/aac", "pw"), 201)
        .await;
    let checked = app
        .post_ok(
            &format!("{path}/{}/check", codec["id"].as_str().unwrap()),
            json!(null),
            200,
        )
        .await;
    assert_eq!(
        checked["stream"]["audio"]["encoding"], "MPEG4-GENERIC",
        "{checked}"
    );
    assert_eq!(checked["stream"]["audio"]["path"], "transcode");

    // A wrong password: the device's status says so, a fault is on record, nothing leaks.
    let wrong = app
        .post_ok(
            &path,
            register("Gallery camera", "/h264-baseline", PASSWORD),
            201,
        )
        .await;
    let checked = app
        .post_ok(
            &format!("{path}/{}/check", wrong["id"].as_str().unwrap()),
            json!(null),
            200,
        )
        .await;
    assert_eq!(checked["status"], "unauthorized", "{checked}");
    assert!(checked["stream"].is_null());
    let mut db = app.db().await;
    let faults: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM faults WHERE component = 'device' AND hearing_id = $1",
    )
    .bind(&hearing)
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert!(faults[0].contains("Gallery camera") && faults[0].contains("refused the credentials"));
    assert!(!faults[0].contains(PASSWORD));
    let audited: Vec<String> =
        sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'device.check'")
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(audited.len(), 4);
    assert!(audited.iter().all(|d| !d.contains(PASSWORD)));
}
