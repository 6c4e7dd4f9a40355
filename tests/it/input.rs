//! Bad input gets a clear problem document and writes nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, TestApp};

async fn raw(app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(&app.api_key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "{path}"
    );
    (status, res.json().await.unwrap())
}

async fn malformed_unknown_oversize_and_invalid_bodies_are_refused_and_nothing_is_written(
    b: Backend,
) {
    let app = TestApp::spawn(b).await;
    let dockets_before = app.count("dockets").await;
    let audit_before = app.count("audit_log").await;
    let path = "/api/v1/dockets";
    let ok = json!({"case_number": "C-1", "title": "t", "court": "c", "case_type": "civil"});

    let (s, p) = raw(
        &app,
        path,
        "application/json",
        b"{\"case_number\": ".to_vec(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        p["detail"].as_str().unwrap().starts_with("malformed JSON"),
        "{p}"
    );

    let mut unknown = ok.clone();
    unknown["judge_notes"] = json!("x");
    let (s, p) = raw(
        &app,
        path,
        "application/json",
        unknown.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, 422);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `judge_notes`"),
        "{p}"
    );

    let (s, p) = raw(&app, path, "application/json", br#"{"title":"t"}"#.to_vec()).await;
    assert_eq!(s, 422);
    assert!(
        p["detail"].as_str().unwrap().contains("missing field"),
        "{p}"
    );

    let mut huge = ok.clone();
    huge["title"] = json!("x".repeat(100 * 1024));
    let (s, _) = raw(
        &app,
        path,
        "application/json",
        huge.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, 413);

    let (s, _) = raw(&app, path, "text/plain", ok.to_string().into_bytes()).await;
    assert_eq!(s, 415);

    let mut blank = ok.clone();
    blank["title"] = json!("   ");
    let (s, p) = raw(
        &app,
        path,
        "application/json",
        blank.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(p["field"], "title");

    let mut control = ok.clone();
    control["court"] = json!("Court\u{0}\nX");
    let (s, p) = raw(
        &app,
        path,
        "application/json",
        control.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(p["field"], "court");

    let mut long = ok.clone();
    long["case_number"] = json!("9".repeat(65));
    let (s, p) = raw(
        &app,
        path,
        "application/json",
        long.to_string().into_bytes(),
    )
    .await;
    assert_eq!((s, p["field"].as_str()), (422, Some("case_number")));

    let (s, _) = raw(&app, path, "application/json", b"[1,2,3]".to_vec()).await;
    assert_eq!(s, 422);
    let (s, _) = raw(&app, path, "application/json", vec![0xff, 0xfe, 0x00]).await;
    assert_eq!(s, 400);

    assert_eq!(
        app.count("dockets").await,
        dockets_before,
        "no docket written"
    );
    assert_eq!(
        app.count("audit_log").await,
        audit_before,
        "no audit entry written"
    );

    // The same case number twice is a conflict, and the first stays.
    app.post_ok(path, ok.clone(), 201).await;
    let res = app.call(Method::POST, path, Some(ok)).await;
    assert_eq!(res.status(), 409);
    assert_eq!(app.count("dockets").await, dockets_before + 1);
}
both_backends!(malformed_unknown_oversize_and_invalid_bodies_are_refused_and_nothing_is_written);

async fn bad_ids_routes_methods_and_parameters_get_problem_documents(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (docket, hearing) = app.docket_and_hearing().await;
    let cases: Vec<(Method, String, Option<Value>, u16)> = vec![
        (Method::GET, "/api/v1/dockets/not-a-uuid".into(), None, 404),
        (
            Method::GET,
            format!("/api/v1/dockets/{}", uuid::Uuid::new_v4()),
            None,
            404,
        ),
        (Method::GET, "/api/v1/nothing-here".into(), None, 404),
        (Method::PUT, format!("/api/v1/dockets/{docket}"), None, 405),
        (Method::GET, "/api/v1/dockets?limit=0".into(), None, 422),
        (Method::GET, "/api/v1/dockets?limit=abc".into(), None, 422),
        (Method::GET, "/api/v1/dockets?sort=evil".into(), None, 422),
        (
            Method::POST,
            format!("/api/v1/hearings/{hearing}/participants"),
            Some(json!({"display_name": "X", "role": "emperor", "identity_ref": "i"})),
            422,
        ),
        (
            Method::POST,
            format!("/api/v1/dockets/{docket}/hearings"),
            Some(json!({"kind": "trial", "scheduled_start": "next tuesday"})),
            422,
        ),
        (
            Method::POST,
            format!("/api/v1/hearings/{hearing}/transitions"),
            Some(json!({"to": "adjourned_forever"})),
            422,
        ),
        (
            Method::POST,
            "/api/v1/webhooks".into(),
            Some(json!({"url": "ftp://example.invalid/x", "events": ["hearing.state_changed"]})),
            422,
        ),
        (
            Method::POST,
            "/api/v1/webhooks".into(),
            Some(json!({"url": "https://example.invalid/x", "events": []})),
            422,
        ),
    ];
    for (method, path, body, want) in cases {
        let res = app.call(method.clone(), &path, body).await;
        assert_eq!(res.status().as_u16(), want, "{method} {path}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["status"], want);
        assert!(!p["detail"].as_str().unwrap().is_empty());
    }
    // The server is still serving after all of that.
    app.get_ok(&format!("/api/v1/hearings/{hearing}")).await;
}
both_backends!(bad_ids_routes_methods_and_parameters_get_problem_documents);

async fn the_openapi_document_describes_every_route(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/dockets",
        "/api/v1/dockets/{docket_id}",
        "/api/v1/dockets/{docket_id}/hearings",
        "/api/v1/hearings/{hearing_id}",
        "/api/v1/hearings/{hearing_id}/transitions",
        "/api/v1/hearings/{hearing_id}/participants",
        "/api/v1/hearings/{hearing_id}/participants/{participant_id}",
        "/api/v1/hearings/{hearing_id}/participants/{participant_id}/join-links",
        "/api/v1/hearings/{hearing_id}/session",
        "/api/v1/webhooks",
        "/api/v1/webhooks/{webhook_id}",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}
both_backends!(the_openapi_document_describes_every_route);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_endpoint_and_join_token_routes_answer_problem_documents_before_reading_bodies()
 {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    // A plain GET on /ws: a problem document, not the framework's text. (Every rejection of
    // the upgrade takes this path, HTTP/2's "method must be CONNECT" included.)
    let res = app.client.get(app.url("/ws")).send().await.unwrap();
    assert_eq!(res.status(), 426);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(res.headers()["upgrade"], "websocket");
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["type"], "/problems/websocket-required", "{p}");
    // Without credentials, a join-token route answers 401 whatever the body: it is never
    // judged for an unknown caller.
    let some = uuid::Uuid::new_v4();
    for path in [
        format!("/api/v1/hearings/{hearing}/transcript/documents"),
        format!("/api/v1/hearings/{hearing}/transcript/documents/{some}/signatures"),
        format!("/api/v1/hearings/{hearing}/transcript/lines/{some}/versions"),
    ] {
        for body in [json!({}), json!({"unexpected": true})] {
            let res = app
                .client
                .post(app.url(&path))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 401, "{path} {body}");
            assert_eq!(res.headers()["content-type"], "application/problem+json");
        }
    }
}
