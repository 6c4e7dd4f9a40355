//! Authentication and least privilege: API keys for the platform, join tokens for people.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::support::{Backend, TestApp};
use gavel::auth::jwt::{self, ISSUER, JOIN_AUDIENCE, JoinClaims};
use gavel::auth::keyring::KeyRing;
use gavel::domain::Role;
use gavel::domain::role::capabilities;

async fn the_case_api_refuses_missing_wrong_and_misused_credentials(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let party = app.participant(&hearing, "party").await;
    let token = app.join_token(&hearing, &party).await;
    let url = app.url("/api/v1/dockets");

    let none = app.client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    let p: serde_json::Value = none.json().await.unwrap();
    assert_eq!(p["detail"], "missing Authorization: Bearer header");

    let fake = format!("gvl_{}", "A".repeat(43));
    let res = app
        .client
        .get(&url)
        .bearer_auth(&fake)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // A participant's join token is not a platform credential.
    let res = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"case_number": "x", "title": "x", "court": "x", "case_type": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Nor is the API key a join token.
    let session = app.url(&format!("/api/v1/hearings/{hearing}/session"));
    let res = app.session(&hearing, &app.api_key).await;
    assert_eq!(res.status(), 401);
    let res = app.client.get(&session).send().await.unwrap();
    assert_eq!(res.status(), 401);

    // Health needs no credentials.
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
both_backends!(the_case_api_refuses_missing_wrong_and_misused_credentials);

async fn expired_forged_and_foreign_hearing_join_tokens_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let (_, other_hearing) = app.docket_and_hearing().await;
    let party = app.participant(&hearing, "party").await;
    let token = app.join_token(&hearing, &party).await;

    // A valid token for hearing A does not open hearing B.
    let other = app.url(&format!("/api/v1/hearings/{other_hearing}/session"));
    let res = app
        .client
        .get(&other)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let p: serde_json::Value = res.json().await.unwrap();
    assert_eq!(p["detail"], "this join link is for a different hearing");
    assert_eq!(p["type"], "/problems/join-link-wrong-hearing");

    // An expired token signed by the server's own key.
    let keys = KeyRing::load_or_create(&app.data_dir().join("keys"), 0).unwrap();
    let now = gavel::clock::now_ms() / 1000;
    let mut claims = JoinClaims {
        iss: ISSUER.into(),
        aud: JOIN_AUDIENCE.into(),
        sub: party.clone(),
        hid: hearing.clone(),
        role: Role::Party,
        iat: now - 7200,
        exp: now - 3600,
        jti: "expired".into(),
    };
    let expired = jwt::issue(&keys, &claims);
    let session = app.url(&format!("/api/v1/hearings/{hearing}/session"));
    let res = app.session(&hearing, &expired).await;
    assert_eq!(res.status(), 401);
    let p: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        p["detail"],
        "the join token has expired; ask the court for a new link"
    );
    assert_eq!(p["type"], "/problems/join-token-expired");

    // A token claiming a stronger role than registered is refused even when validly signed.
    claims.exp = now + 3600;
    claims.role = Role::Judge;
    let upgraded = jwt::issue(&keys, &claims);
    let res = app.session(&hearing, &upgraded).await;
    assert_eq!(res.status(), 401);
    let p: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        p["detail"],
        "the participant's role changed; ask the court for a new link"
    );
    assert_eq!(p["type"], "/problems/participant-role-changed");

    // A token from another server's key.
    let foreign_dir = tempfile::tempdir().unwrap();
    let foreign = KeyRing::load_or_create(foreign_dir.path(), 0).unwrap();
    claims.role = Role::Party;
    let res = app
        .client
        .get(&session)
        .bearer_auth(jwt::issue(&foreign, &claims))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let p: serde_json::Value = res.json().await.unwrap();
    assert_eq!(p["detail"], "the join token was not issued by this server");
    assert_eq!(p["type"], "/problems/join-token-unknown-key");

    // Tampering with any character of a real token breaks it.
    let mut bytes = token.into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let res = app.session(&hearing, &tampered).await;
    assert_eq!(res.status(), 401);
}
both_backends!(expired_forged_and_foreign_hearing_join_tokens_are_refused);

async fn every_role_gets_exactly_the_capabilities_of_the_role_table(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, hearing) = app.docket_and_hearing().await;
    // Every role a person can have (the server gives `courtroom` to devices only).
    for role in Role::ALL.into_iter().filter(|r| r.is_person()) {
        let id = app.participant(&hearing, role.as_str()).await;
        let token = app.join_token(&hearing, &id).await;
        let res = app.session(&hearing, &token).await;
        assert_eq!(res.status(), 200, "{role:?}");
        let s: serde_json::Value = res.json().await.unwrap();
        let want = serde_json::to_value(capabilities(role).to_vec()).unwrap();
        assert_eq!(s["capabilities"], want, "{role:?}");
        assert_eq!(s["role"], role.as_str());
    }
    // The platform's participant list reports the same table.
    let list = app
        .call(
            Method::GET,
            &format!("/api/v1/hearings/{hearing}/participants"),
            None,
        )
        .await;
    let list: serde_json::Value = list.json().await.unwrap();
    for p in list.as_array().unwrap() {
        let role = Role::parse(p["role"].as_str().unwrap()).unwrap();
        let want = serde_json::to_value(capabilities(role).to_vec()).unwrap();
        assert_eq!(p["capabilities"], want);
    }
}
both_backends!(every_role_gets_exactly_the_capabilities_of_the_role_table);
