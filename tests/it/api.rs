//! The case API as the court platform uses it: docket -> hearing -> participants -> join links,
//! and the hearing state machine.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::support::{Backend, TestApp};

async fn the_platform_creates_a_hearing_with_participants_and_join_links(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (docket, hearing) = app.docket_and_hearing().await;

    let d = app.get_ok(&format!("/api/v1/dockets/{docket}")).await;
    assert_eq!(d["title"], "Li v. Wang");
    let h = app.get_ok(&format!("/api/v1/hearings/{hearing}")).await;
    assert_eq!(h["state"], "scheduled");
    assert_eq!(h["kind"], "trial");
    assert_eq!(h["docket_id"], docket.as_str());
    let listed = app
        .get_ok(&format!("/api/v1/dockets/{docket}/hearings"))
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let judge = app.participant(&hearing, "judge").await;
    let party = app.participant(&hearing, "party").await;
    let people = app
        .get_ok(&format!("/api/v1/hearings/{hearing}/participants"))
        .await;
    let people = people.as_array().unwrap();
    assert_eq!(people.len(), 2);
    let judge_row = people.iter().find(|p| p["id"] == judge.as_str()).unwrap();
    assert!(
        judge_row["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("admit_from_lobby"))
    );
    let party_row = people.iter().find(|p| p["id"] == party.as_str()).unwrap();
    assert!(
        !party_row["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("admit_from_lobby"))
    );

    let link = app
        .post_ok(
            &format!("/api/v1/hearings/{hearing}/participants/{party}/join-links"),
            json!({"ttl_seconds": 3600}),
            201,
        )
        .await;
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with("https://localhost:"), "{url}");
    assert!(url.contains(&format!("/join/{hearing}#token=")), "{url}");
    assert_eq!(link["role"], "party");

    // The join token opens exactly this participant's view of this hearing.
    let token = link["token"].as_str().unwrap();
    let res = app.session(&hearing, token).await;
    assert_eq!(res.status(), 200);
    let s: serde_json::Value = res.json().await.unwrap();
    assert_eq!(s["participant_id"], party.as_str());
    assert_eq!(s["role"], "party");
    assert_eq!(s["docket"]["case_number"], d["case_number"]);
    assert_eq!(s["hearing"]["id"], hearing.as_str());

    // The join page itself is served for the link.
    let page = app.client.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/assets/js/app.js"));
}
both_backends!(the_platform_creates_a_hearing_with_participants_and_join_links);

async fn only_legal_state_transitions_are_accepted(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let party = app.participant(&hearing, "party").await;
    let token = app.join_token(&hearing, &party).await;
    let path = format!("/api/v1/hearings/{hearing}/transitions");

    let res = app
        .call(Method::POST, &path, Some(json!({"to": "in_session"})))
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let p: serde_json::Value = res.json().await.unwrap();
    assert_eq!(p["status"], 409);
    assert_eq!(
        p["detail"],
        "a hearing cannot go from scheduled to in_session"
    );
    assert_eq!(p["type"], "/problems/transition-not-allowed");

    for to in ["open", "in_session", "recess", "in_session", "closed"] {
        let h = app
            .post_ok(&path, json!({"to": to, "reason": "test"}), 200)
            .await;
        assert_eq!(h["state"], to);
    }
    let res = app
        .call(Method::POST, &path, Some(json!({"to": "open"})))
        .await;
    assert_eq!(res.status(), 409);
    let h = app.get_ok(&format!("/api/v1/hearings/{hearing}")).await;
    assert_eq!(h["state"], "closed", "a refused transition changes nothing");

    // A closed hearing takes no new participants and its links no longer open it.
    let res = app.session(&hearing, &token).await;
    assert_eq!(res.status(), 403);
    let p: serde_json::Value = res.json().await.unwrap();
    assert_eq!(p["detail"], "this hearing has ended");
    assert_eq!(
        p["type"], "/problems/hearing-ended",
        "clients decide on the slug"
    );
    let res = app
        .call(
            Method::POST,
            &format!("/api/v1/hearings/{hearing}/participants"),
            Some(json!({"display_name": "Late", "role": "party", "identity_ref": "x"})),
        )
        .await;
    assert_eq!(res.status(), 409);
    let p: serde_json::Value = res.json().await.unwrap();
    assert_eq!(p["type"], "/problems/hearing-closed");
}
both_backends!(only_legal_state_transitions_are_accepted);

async fn a_removed_participant_can_no_longer_use_their_link(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let witness = app.participant(&hearing, "witness").await;
    let token = app.join_token(&hearing, &witness).await;
    let session = app.url(&format!("/api/v1/hearings/{hearing}/session"));
    let ok = app
        .client
        .get(&session)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let res = app
        .call(
            Method::DELETE,
            &format!("/api/v1/hearings/{hearing}/participants/{witness}"),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .client
        .get(&session)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let p: serde_json::Value = res.json().await.unwrap();
    assert_eq!(p["detail"], "this participant was removed from the hearing");
    assert_eq!(p["type"], "/problems/participant-removed");

    // Nor does the link open the hearing's record, as before (403, the record's own words).
    let res = app
        .client
        .get(app.url(&format!("/api/v1/hearings/{hearing}/recording")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let p: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        p["detail"],
        "this participant may no longer access the hearing"
    );
    assert_eq!(p["type"], "/problems/participant-no-longer-allowed");
}
both_backends!(a_removed_participant_can_no_longer_use_their_link);
