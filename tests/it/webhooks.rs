//! Webhooks: signed events reach a real HTTP receiver, including events queued while it was
//! down and across a server restart.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, TestApp, wait_for};
use gavel::webhook::signature;

pub(crate) type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver on `addr` recording every request; dropped to go "down".
pub(crate) struct Receiver {
    pub(crate) got: Received,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts listening on a socket bound earlier (while bound but not listening, connections
    /// to it are refused: the receiver is "down", and no other process can take the port).
    pub(crate) async fn start(sock: tokio::net::TcpSocket, got: Received) -> Receiver {
        let listener = sock.listen(64).unwrap();
        let app = Router::new()
            .route(
                "/hook",
                post(
                    |State(got): State<Received>, headers: HeaderMap, body: Bytes| async move {
                        got.lock().unwrap().push((headers, body));
                        "ok"
                    },
                ),
            )
            .with_state(got.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { got, task }
    }
}

pub(crate) fn bound_socket() -> (tokio::net::TcpSocket, SocketAddr) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = sock.local_addr().unwrap();
    (sock, addr)
}

async fn transition(app: &TestApp, hearing: &str, to: &str) {
    app.post_ok(
        &format!("/api/v1/hearings/{hearing}/transitions"),
        json!({"to": to}),
        200,
    )
    .await;
}

async fn pending_attempts(app: &TestApp) -> Vec<i64> {
    let mut c = app.db().await;
    sqlx::query_scalar(
        "SELECT attempts FROM webhook_outbox WHERE delivered_at IS NULL ORDER BY created_at",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
}

async fn signed_events_reach_the_receiver_even_after_downtime_and_a_restart(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    let (sock, addr) = bound_socket();
    let created = app
        .post_ok(
            "/api/v1/webhooks",
            json!({"url": format!("http://{addr}/hook"), "events": ["hearing.state_changed"]}),
            201,
        )
        .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let listed = app.get_ok("/api/v1/webhooks").await;
    assert!(
        listed[0].get("secret").is_none(),
        "secrets are never listed"
    );

    let (_, hearing) = app.docket_and_hearing().await;

    // Receiver down: the event is queued and retried.
    transition(&app, &hearing, "open").await;
    wait_for(
        Duration::from_secs(10),
        "a failed delivery attempt",
        || async {
            pending_attempts(&app)
                .await
                .first()
                .filter(|a| **a >= 2)
                .copied()
        },
    )
    .await;

    // Restart the server while the receiver is still down; queue one more event.
    app.restart().await;
    transition(&app, &hearing, "in_session").await;
    assert_eq!(pending_attempts(&app).await.len(), 2);

    // Receiver back: both events arrive, signed.
    let got: Received = Arc::default();
    let receiver = Receiver::start(sock, got.clone()).await;
    let events = wait_for(Duration::from_secs(10), "both events delivered", || async {
        let g = receiver.got.lock().unwrap();
        (g.len() >= 2).then(|| g.clone())
    })
    .await;
    let now = gavel::clock::now_ms() / 1000;
    let mut states = BTreeSet::new();
    for (headers, body) in &events {
        let sig = headers["gavel-signature"].to_str().unwrap();
        assert!(
            signature::verify(&secret, sig, body, now, 300),
            "signature must verify"
        );
        assert!(!signature::verify("whsec_wrong", sig, body, now, 300));
        assert_eq!(headers["gavel-event"], "hearing.state_changed");
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["type"], "hearing.state_changed");
        assert_eq!(v["data"]["hearing_id"], hearing.as_str());
        assert_eq!(
            headers["gavel-delivery"].to_str().unwrap(),
            v["id"].as_str().unwrap()
        );
        states.insert(v["data"]["to"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        states,
        BTreeSet::from(["open".to_owned(), "in_session".to_owned()])
    );
    wait_for(Duration::from_secs(5), "outbox drained", || async {
        pending_attempts(&app).await.is_empty().then_some(())
    })
    .await;
    receiver.task.abort();
}
both_backends!(signed_events_reach_the_receiver_even_after_downtime_and_a_restart);

async fn deleting_a_webhook_parks_its_pending_events_and_internal_targets_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_sock, addr) = bound_socket();
    let created = app
        .post_ok(
            "/api/v1/webhooks",
            json!({"url": format!("http://{addr}/hook"), "events": ["hearing.state_changed"]}),
            201,
        )
        .await;
    let (_, hearing) = app.docket_and_hearing().await;
    transition(&app, &hearing, "open").await;
    assert_eq!(pending_attempts(&app).await.len(), 1);
    let id = created["id"].as_str().unwrap();
    let res = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let mut c = app.db().await;
    let parked: Vec<Option<String>> =
        sqlx::query_scalar("SELECT last_error FROM webhook_outbox WHERE failed_at IS NOT NULL")
            .fetch_all(&mut c)
            .await
            .unwrap();
    assert_eq!(parked, [Some("webhook deleted".to_owned())]);
    assert!(
        app.get_ok("/api/v1/webhooks")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    // With default settings, webhooks may not point into the server's own network.
    let strict = TestApp::spawn_with(b, |c| {
        c.webhooks.allow_http = false;
        c.webhooks.allow_private_targets = false;
    })
    .await;
    for url in [
        "https://127.0.0.1/hook",
        "https://localhost:5432/",
        "https://[::1]/x",
        "http://example.com/",
    ] {
        let res = strict
            .call(
                reqwest::Method::POST,
                "/api/v1/webhooks",
                Some(json!({"url": url, "events": ["hearing.state_changed"]})),
            )
            .await;
        assert_eq!(res.status(), 422, "{url}");
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["field"], "url");
    }
}
both_backends!(deleting_a_webhook_parks_its_pending_events_and_internal_targets_are_refused);
