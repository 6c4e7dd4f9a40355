//! Signaling through the real server: lobby, sequestration, moderator powers enforced by the
//! server, bad input, resume after a dropped connection. Shared helpers here; tests in the
//! submodules.

mod control;
mod room;

use std::time::Duration;

use gavel_signaling::client::SignalingClient;
use gavel_signaling::{ClientMessage, ErrorCode, Place, ServerMessage};

use crate::support::TestApp;

pub(super) const T: Duration = Duration::from_secs(5);

/// A joined participant.
pub(crate) struct Peer {
    pub(crate) id: String,
    pub(crate) ws: SignalingClient,
    pub(super) place: Place,
}

pub(crate) async fn join(app: &TestApp, hearing: &str, role: &str) -> Peer {
    let id = app.participant(hearing, role).await;
    let token = app.join_token(hearing, &id).await;
    rejoin(app, id, &token).await
}

pub(super) async fn rejoin(app: &TestApp, id: String, token: &str) -> Peer {
    let mut ws = app.connect_ws().await;
    ws.send(&ClientMessage::Join {
        v: 1,
        token: token.to_owned(),
        resume: false,
    })
    .await
    .unwrap();
    let place = match ws.recv(T).await.unwrap() {
        ServerMessage::Welcome { you, .. } => {
            assert_eq!(you.id, id);
            you.place
        }
        other => panic!("expected welcome, got {other:?}"),
    };
    Peer { id, ws, place }
}

/// Reads until a roster arrives; returns `(id, place)` pairs.
pub(super) async fn roster(p: &mut Peer) -> Vec<(String, Place)> {
    match p
        .ws
        .recv_until(T, |m| matches!(m, ServerMessage::Roster { .. }))
        .await
        .unwrap()
    {
        ServerMessage::Roster { participants } => {
            participants.into_iter().map(|v| (v.id, v.place)).collect()
        }
        _ => unreachable!(),
    }
}

/// Reads rosters until one satisfies `f`.
pub(super) async fn roster_until(
    p: &mut Peer,
    f: impl Fn(&[(String, Place)]) -> bool,
) -> Vec<(String, Place)> {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let r = roster(p).await;
        if f(&r) {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "roster never matched; last {r:?}"
        );
    }
}

/// Sends a ping and returns every message received before its pong (proves what did not arrive).
pub(super) async fn drain(p: &mut Peer, id: u64) -> Vec<ServerMessage> {
    p.ws.send(&ClientMessage::Ping { id }).await.unwrap();
    let mut before = Vec::new();
    loop {
        match p.ws.recv(T).await.unwrap() {
            ServerMessage::Pong { id: got } if got == id => return before,
            m => before.push(m),
        }
    }
}

/// Sends a message, which must go out.
pub(super) async fn cmd(p: &mut Peer, msg: ClientMessage) {
    p.ws.send(&msg).await.unwrap();
}

/// The next `moved` message.
pub(super) async fn moved(p: &mut Peer) -> ServerMessage {
    p.ws.recv_until(T, |m| matches!(m, ServerMessage::Moved { .. }))
        .await
        .unwrap()
}

pub(super) async fn command_error(p: &mut Peer, msg: ClientMessage) -> ErrorCode {
    p.ws.send(&msg).await.unwrap();
    match p
        .ws
        .recv_until(T, |m| {
            matches!(m, ServerMessage::Error { .. } | ServerMessage::Ok { .. })
        })
        .await
        .unwrap()
    {
        ServerMessage::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}
