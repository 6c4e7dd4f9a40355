//! The pre-join network test endpoints: authenticated by the join token, bounded, and the UDP
//! probe answered by a real peer connection.

use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_test_measures_with_a_join_token_and_refuses_everything_else() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let id = app.participant(&hearing, "party").await;
    let token = app.join_token(&hearing, &id).await;
    let url = app.url(&format!("/api/v1/hearings/{hearing}/network-test"));

    let down = app
        .client
        .get(format!("{url}?bytes=100000"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), 200);
    assert_eq!(down.headers()["cache-control"], "no-store");
    assert_eq!(down.bytes().await.unwrap().len(), 100_000);

    let up = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .body(vec![7u8; 300_000])
        .send()
        .await
        .unwrap();
    assert_eq!(
        up.status(),
        200,
        "bigger than the API's body limit, on purpose"
    );
    assert_eq!(
        up.json::<serde_json::Value>().await.unwrap()["bytes"],
        300_000
    );

    // Bounded, and never without a join token (the platform's API key is not one).
    let huge = app
        .client
        .get(format!("{url}?bytes=99999999"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 422);
    let anonymous = app
        .client
        .get(format!("{url}?bytes=10"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let platform = app
        .client
        .get(format!("{url}?bytes=10"))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(platform.status(), 401);

    // The UDP probe refuses what is not a session description.
    let bad = app
        .client
        .post(format!("{url}/udp"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"sdp": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    // Last: a refused upload may leave its connection closed under the client.
    // The server answers 413 at the limit, possibly before the client has finished sending
    // (then the client sees the connection close instead); it never accepts the body.
    let too_big = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .body(vec![0u8; 3 * 1024 * 1024])
        .send()
        .await;
    if let Ok(res) = too_big {
        assert_eq!(res.status(), 413);
    }
}
