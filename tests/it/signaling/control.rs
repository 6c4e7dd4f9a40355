//! Bad input, refused joins, and ending the hearing.

use gavel_signaling::client::ClientError;
use gavel_signaling::{ClientMessage, EndReason, ErrorCode, ServerMessage, close};

use super::*;
use crate::support::{Backend, TestApp};

/// A server without a lobby and an open hearing on it.
async fn open_hearing() -> (TestApp, String) {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.signaling.lobby_kinds.clear()).await;
    let (_, hearing) = app.docket_and_hearing().await;
    move_hearing(&app, &hearing, "open").await;
    (app, hearing)
}

/// Moves `hearing` to state `to` through the case API, as the court's platform does.
async fn move_hearing(app: &TestApp, hearing: &str, to: &str) {
    app.post_ok(
        &format!("/api/v1/hearings/{hearing}/transitions"),
        serde_json::json!({ "to": to }),
        200,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_unauthorised_messages_get_errors_and_the_server_keeps_serving() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;

    // A forged token is refused with 4401.
    let mut ws = app.connect_ws().await;
    ws.send(&ClientMessage::Join {
        v: 1,
        token: "eyJ.eyJ.sig".into(),
        resume: false,
    })
    .await
    .unwrap();
    let m = ws.recv(T).await.unwrap();
    assert!(
        matches!(
            m,
            ServerMessage::Error {
                code: ErrorCode::Unauthorized,
                ..
            }
        ),
        "{m:?}"
    );
    let closed = ws.recv(T).await;
    assert!(
        matches!(
            &closed,
            Err(ClientError::Closed {
                code: close::UNAUTHORIZED,
                reason,
            }) if reason == "join-token-malformed"
        ),
        "the close reason names the refusal: {closed:?}"
    );

    // A message before join is refused.
    let mut ws = app.connect_ws().await;
    ws.send(&ClientMessage::Ping { id: 1 }).await.unwrap();
    assert!(matches!(
        ws.recv(T).await.unwrap(),
        ServerMessage::Error {
            code: ErrorCode::NotJoined,
            ..
        }
    ));

    // A removed participant's link no longer joins.
    let gone = app.participant(&hearing, "observer").await;
    let gone_token = app.join_token(&hearing, &gone).await;
    let res = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/hearings/{hearing}/participants/{gone}"),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let mut ws = app.connect_ws().await;
    ws.send(&ClientMessage::Join {
        v: 1,
        token: gone_token,
        resume: false,
    })
    .await
    .unwrap();
    assert!(matches!(
        ws.recv(T).await.unwrap(),
        ServerMessage::Error {
            code: ErrorCode::Unauthorized,
            ..
        }
    ));

    // A joined client sending garbage gets errors, then is closed with 4400.
    let mut judge = join(&app, &hearing, "judge").await;
    drain(&mut judge, 1).await;
    let bad = [
        "not json".to_owned(),
        r#"{"type":"teleport"}"#.to_owned(),
        r#"{"type":"ping","id":1,"admin":true}"#.to_owned(),
        format!(
            r#"{{"type":"admit","participant":"{}"}}"#,
            "x".repeat(100 * 1024)
        ),
    ];
    let mut codes = Vec::new();
    for text in bad {
        judge.ws.send_raw(text).await.unwrap();
        if let ServerMessage::Error { code, .. } = judge.ws.recv(T).await.unwrap() {
            codes.push(code);
        }
    }
    assert_eq!(
        codes,
        [
            ErrorCode::BadMessage,
            ErrorCode::BadMessage,
            ErrorCode::BadMessage,
            ErrorCode::TooLarge
        ]
    );
    judge.ws.send_binary(vec![1, 2, 3]).await.unwrap();
    assert!(matches!(
        judge.ws.recv(T).await.unwrap(),
        ServerMessage::Error {
            code: ErrorCode::BadMessage,
            ..
        }
    ));
    let m = judge.ws.recv(T).await.unwrap();
    assert_eq!(
        m,
        ServerMessage::Ended {
            reason: EndReason::ProtocolViolation
        }
    );
    assert!(matches!(
        judge.ws.recv(T).await,
        Err(ClientError::Closed {
            code: close::PROTOCOL_VIOLATION,
            ..
        })
    ));

    // Still serving: a new judge session works, and so does the API.
    let mut again = join(&app, &hearing, "clerk").await;
    assert!(
        drain(&mut again, 9).await.iter().all(|m| matches!(
            m,
            ServerMessage::Roster { .. } | ServerMessage::Notice { .. }
        )),
        "only the roster, and that the trial is being recorded"
    );
    app.get_ok(&format!("/api/v1/hearings/{hearing}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_judge_ends_the_hearing_for_everyone_and_it_is_closed() {
    let (app, hearing) = open_hearing().await;
    let mut judge = join(&app, &hearing, "judge").await;
    let pid = app.participant(&hearing, "party").await;
    let token = app.join_token(&hearing, &pid).await;
    let mut party = rejoin(&app, pid, &token).await;
    assert_eq!(
        command_error(&mut party, ClientMessage::EndHearing { req: Some(1) }).await,
        ErrorCode::Forbidden
    );
    cmd(&mut judge, ClientMessage::EndHearing { req: Some(2) }).await;
    for p in [&mut judge, &mut party] {
        let m =
            p.ws.recv_until(T, |m| matches!(m, ServerMessage::Ended { .. }))
                .await
                .unwrap();
        assert_eq!(
            m,
            ServerMessage::Ended {
                reason: EndReason::HearingEnded
            }
        );
        assert!(matches!(
            p.ws.recv(T).await,
            Err(ClientError::Closed {
                code: close::HEARING_ENDED,
                ..
            })
        ));
    }
    crate::support::wait_for(T, "the hearing closed in the record", || async {
        (app.get_ok(&format!("/api/v1/hearings/{hearing}")).await["state"] == "closed")
            .then_some(())
    })
    .await;
    crate::support::wait_for(T, "the room retired", || async {
        (app.live_rooms() == 0).then_some(())
    })
    .await;
    let mut ws = app.connect_ws().await;
    ws.send(&ClientMessage::Join {
        v: 1,
        token,
        resume: false,
    })
    .await
    .unwrap();
    assert!(matches!(
        ws.recv(T).await.unwrap(),
        ServerMessage::Error {
            code: ErrorCode::Unauthorized,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_descriptions_count_towards_the_limit_and_close_the_socket() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = join(&app, &hearing, "judge").await;
    // Five unreadable publish offers (the default limit): each answered, then the close.
    for _ in 0..5 {
        judge
            .ws
            .send(&ClientMessage::PublishOffer {
                sdp: "v=0\r\nthis is not a session description\r\n".into(),
                screen: Vec::new(),
            })
            .await
            .unwrap();
        let m = judge
            .ws
            .recv_until(T, |m| matches!(m, ServerMessage::Error { .. }))
            .await
            .unwrap();
        assert!(
            matches!(
                m,
                ServerMessage::Error {
                    code: ErrorCode::BadMessage,
                    ..
                }
            ),
            "{m:?}"
        );
    }
    let m = judge
        .ws
        .recv_until(T, |m| matches!(m, ServerMessage::Ended { .. }))
        .await
        .unwrap();
    assert_eq!(
        m,
        ServerMessage::Ended {
            reason: EndReason::ProtocolViolation
        }
    );
    // The server goes on serving others.
    join(&app, &hearing, "clerk").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_revoking_a_participant_or_closing_the_hearing_ends_live_sessions() {
    let (app, hearing) = open_hearing().await;
    let mut judge = join(&app, &hearing, "judge").await;
    let mut party = join(&app, &hearing, "party").await;
    while !roster(&mut judge)
        .await
        .iter()
        .any(|(id, _)| *id == party.id)
    {}

    // Revoked through the case API: out of the room at once, not only at the next join.
    let res = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/hearings/{hearing}/participants/{}", party.id),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let m = party
        .ws
        .recv_until(T, |m| matches!(m, ServerMessage::Ended { .. }))
        .await
        .unwrap();
    assert_eq!(
        m,
        ServerMessage::Ended {
            reason: EndReason::Removed
        }
    );
    let r = roster(&mut judge).await;
    assert!(r.iter().all(|(id, _)| *id != party.id), "{r:?}");

    // Closed through the case API: everyone's session ends and the room retires.
    move_hearing(&app, &hearing, "closed").await;
    let m = judge
        .ws
        .recv_until(T, |m| matches!(m, ServerMessage::Ended { .. }))
        .await
        .unwrap();
    assert_eq!(
        m,
        ServerMessage::Ended {
            reason: EndReason::HearingEnded
        }
    );
    crate::support::wait_for(T, "the room retired", || async {
        (app.live_rooms() == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_judge_begins_the_session_calls_a_recess_and_everyone_is_told() {
    use gavel_signaling::HearingPhase;
    let (app, hearing) = open_hearing().await;
    let mut judge = join(&app, &hearing, "judge").await;
    let mut party = join(&app, &hearing, "party").await;
    let set = |req, state| ClientMessage::SetHearingState {
        req: Some(req),
        state,
    };
    assert_eq!(
        command_error(&mut party, set(1, HearingPhase::InSession)).await,
        ErrorCode::Forbidden
    );
    let state_in_record = || async {
        app.get_ok(&format!("/api/v1/hearings/{hearing}")).await["state"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(state_in_record().await, "open", "a refusal changes nothing");

    for (req, phase, name) in [
        (2, HearingPhase::InSession, "in_session"),
        (3, HearingPhase::Recess, "recess"),
        (4, HearingPhase::InSession, "in_session"),
    ] {
        cmd(&mut judge, set(req, phase)).await;
        let ok = judge
            .ws
            .recv_until(T, |m| {
                matches!(m, ServerMessage::Ok { .. } | ServerMessage::Error { .. })
            })
            .await
            .unwrap();
        assert_eq!(ok, ServerMessage::Ok { req });
        let told = party
            .ws
            .recv_until(T, |m| matches!(m, ServerMessage::HearingState { .. }))
            .await
            .unwrap();
        assert_eq!(told, ServerMessage::HearingState { state: phase });
        assert_eq!(state_in_record().await, name);
    }
    // The record's state machine still applies: no resuming a hearing that is not in recess.
    assert_eq!(
        command_error(&mut judge, set(5, HearingPhase::InSession)).await,
        ErrorCode::Conflict
    );
    // A platform move through the case API reaches the room too.
    move_hearing(&app, &hearing, "recess").await;
    let told = party
        .ws
        .recv_until(T, |m| matches!(m, ServerMessage::HearingState { .. }))
        .await
        .unwrap();
    assert_eq!(
        told,
        ServerMessage::HearingState {
            state: HearingPhase::Recess
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_hard_limit_is_closed_with_1009_and_a_closing_state_is_explained() {
    let (app, hearing) = open_hearing().await;
    let mut judge = join(&app, &hearing, "judge").await;
    drain(&mut judge, 1).await;
    // Opening and closing the hearing are not `set_hearing_state`'s: the answer says which
    // states it takes.
    for state in ["closed", "scheduled"] {
        judge
            .ws
            .send_raw(format!(
                r#"{{"type":"set_hearing_state","state":"{state}"}}"#
            ))
            .await
            .unwrap();
        let m = judge
            .ws
            .recv_until(T, |m| matches!(m, ServerMessage::Error { .. }))
            .await
            .unwrap();
        let ServerMessage::Error { message, .. } = m else {
            unreachable!()
        };
        assert!(
            message.contains("in_session") && message.contains("recess"),
            "{state}: {message}"
        );
    }
    // A text frame header announcing 2 MiB (masked, as from a client), and nothing after it:
    // the protocol promises close 1009.
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(2u64 * 1024 * 1024).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    judge.ws.send_raw_bytes(&header).await.unwrap();
    let closed = judge
        .ws
        .recv_until(T, |_| false)
        .await
        .expect_err("the server closes the connection");
    assert!(
        matches!(
            closed,
            ClientError::Closed {
                code: close::MESSAGE_TOO_BIG,
                ..
            }
        ),
        "{closed:?}"
    );
    // The hearing and the server go on.
    let mut party = join(&app, &hearing, "party").await;
    drain(&mut party, 1).await;
}
