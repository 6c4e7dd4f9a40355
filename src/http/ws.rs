//! The signaling WebSocket (`GET /ws`): one loop per connection that authenticates the first
//! message, hands validated messages to the hearing's room and writes the room's answers.
//!
//! The join token travels in the first message, never in the URL (URLs end up in logs). Every
//! frame is size-limited and validated; bad ones get an `error` answer, and after
//! `signaling.max_bad_messages` the socket is closed with code 4400. Nothing here panics on
//! input, and a bad connection never affects the room.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use gavel_signaling::{
    ClientMessage, EndReason, ErrorCode, MAX_FRAME_BYTES, ServerMessage, close, parse_client,
};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::engine::{Arrival, Disconnect, Input};
use crate::hearing::admit::{Purpose, admit};
use crate::hearing::{AdmitError, Hearing};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::rooms::{Outbound, RoomMsg};
use crate::sfu::peer::PeerCmd;

/// Frames up to this size are read and answered with an error when over [`MAX_FRAME_BYTES`];
/// larger ones make the WebSocket layer close the connection (1009).
const HARD_FRAME_LIMIT: usize = 1024 * 1024;
const _: () = assert!(HARD_FRAME_LIMIT > MAX_FRAME_BYTES);

/// Upgrades to the signaling protocol; anything but a WebSocket handshake gets a problem
/// document saying so, never the framework's plain text.
pub async fn upgrade(
    State(st): State<AppState>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match ws {
        Ok(ws) => ws
            .max_message_size(HARD_FRAME_LIMIT)
            .max_frame_size(HARD_FRAME_LIMIT)
            .on_upgrade(move |socket| run(st, socket)),
        Err(_) => ApiError::WebSocketRequired.into_response(),
    }
}

/// A client that does not take a message within this time is treated as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

async fn send(socket: &mut WebSocket, msg: &ServerMessage) -> bool {
    let write = socket.send(Message::Text(Utf8Bytes::from(msg.to_json())));
    matches!(tokio::time::timeout(WRITE_TIMEOUT, write).await, Ok(Ok(())))
}

async fn close_with(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })))
        .await;
}

/// Reads the next text frame, skipping control frames; `None` when the connection ends.
async fn next_text(socket: &mut WebSocket) -> Option<Result<String, ErrorCode>> {
    loop {
        match socket.recv().await? {
            Ok(Message::Text(t)) => return Some(Ok(t.to_string())),
            Ok(Message::Binary(_)) => return Some(Err(ErrorCode::BadMessage)),
            Ok(Message::Close(_)) => return None,
            Err(e) => {
                // Over the hard limit: say so with the close code the protocol promises (the
                // connection is still able to write).
                if too_big(e) {
                    close_with(socket, close::MESSAGE_TOO_BIG, "message too big").await;
                }
                return None;
            }
            Ok(_) => {}
        }
    }
}

/// Whether a read failed because a frame or message was over the hard limit.
fn too_big(e: axum::Error) -> bool {
    e.into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

async fn run(st: AppState, mut socket: WebSocket) {
    let cfg = st.config.signaling.clone();
    let first = tokio::time::timeout(
        Duration::from_millis(cfg.join_timeout_ms),
        next_text(&mut socket),
    )
    .await;
    let (token, resume) = match first {
        Err(_) => {
            return close_with(&mut socket, close::JOIN_TIMEOUT, "no join message in time").await;
        }
        Ok(None) => return,
        Ok(Some(Ok(text))) => match parse_client(&text) {
            Ok(ClientMessage::Join { token, resume, .. }) => (token, resume),
            Ok(_) => {
                send(
                    &mut socket,
                    &ServerMessage::error(
                        None,
                        ErrorCode::NotJoined,
                        "the first message must be join",
                    ),
                )
                .await;
                return close_with(&mut socket, close::PROTOCOL_VIOLATION, "not joined").await;
            }
            Err(e) => {
                send(
                    &mut socket,
                    &ServerMessage::error(None, e.code(), e.to_string()),
                )
                .await;
                return close_with(&mut socket, close::PROTOCOL_VIOLATION, "bad join message")
                    .await;
            }
        },
        Ok(Some(Err(code))) => {
            send(
                &mut socket,
                &ServerMessage::error(None, code, "the first message must be a JSON join message"),
            )
            .await;
            return close_with(&mut socket, close::PROTOCOL_VIOLATION, "bad join message").await;
        }
    };
    let (hearing, who) = match authorize(&st, &token).await {
        Ok(x) => x,
        Err(e) => {
            // The close reason is the refusal's slug, as in the case API's problem documents:
            // the client decides on it (and words it in its own language).
            let (text, slug) = match &e {
                AdmitError::Refused(r) => (r.to_string(), r.slug()),
                AdmitError::Store(cause) => {
                    tracing::error!(error = %cause, "join check failed");
                    (
                        "the server could not check the join token".to_owned(),
                        "database-unavailable",
                    )
                }
            };
            send(
                &mut socket,
                &ServerMessage::error(None, ErrorCode::Unauthorized, text),
            )
            .await;
            return close_with(&mut socket, close::UNAUTHORIZED, slug).await;
        }
    };
    let span = tracing::info_span!("session", hearing = %hearing.id, participant = %who.id);
    session(st, socket, hearing, who, resume)
        .instrument(span)
        .await;
}

async fn authorize(st: &AppState, token: &str) -> Result<(Hearing, Arrival), AdmitError> {
    let claims = super::extract::verify_join_token(st, token)?;
    let admitted = admit(&st.db, &claims, &claims.hid, Purpose::Join).await?;
    Ok((
        admitted.hearing,
        Arrival {
            id: claims.sub.into(),
            name: admitted.display_name,
            role: claims.role,
        },
    ))
}

async fn session(
    st: AppState,
    mut socket: WebSocket,
    hearing: Hearing,
    who: Arrival,
    resume: bool,
) {
    let cfg = st.config.signaling.clone();
    let session = st.rooms.new_session();
    let (tx, mut rx) = mpsc::channel(cfg.send_queue);
    let room = |msg| st.rooms.send(&hearing.id, hearing.kind, msg);
    let fresh = crate::sfu::peer::spawn(crate::sfu::peer::PeerContext {
        participant: who.id.clone(),
        role: who.role,
        out: tx.clone(),
        room: st.rooms.link(&hearing.id, hearing.kind),
        factory: st.sfu.clone(),
    });
    // The room answers with the media actor to use: the kept one of a resumed session, or
    // the fresh one.
    let (reply, chosen) = tokio::sync::oneshot::channel();
    room(RoomMsg::Join {
        session,
        who,
        tx,
        media: fresh.clone(),
        resume,
        reply,
    })
    .await;
    let media = chosen.await.unwrap_or(fresh);
    tracing::info!("joined");
    let idle = Duration::from_millis(cfg.idle_timeout_ms);
    let mut strikes = 0u32;
    // Silence is measured from the last frame the client sent, not from our own messages.
    let mut silent_until = tokio::time::Instant::now() + idle;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(silent_until) => break,
            incoming = next_text(&mut socket) => {
                silent_until = tokio::time::Instant::now() + idle;
                let Some(text) = incoming else { break };
                let refused = match text.map(|t| parse_client(&t)).map(|m| m.map(media_command)) {
                    Ok(Ok(Ok(cmd))) => {
                        // A busy media actor is the server's state, not the client's fault:
                        // answered, not counted.
                        if !media.try_send(cmd) {
                            send(&mut socket, &media_busy()).await;
                        }
                        None
                    }
                    Ok(Ok(Err(msg))) => {
                        let leaving = msg == ClientMessage::Leave;
                        room(RoomMsg::Input(Input::Message { session, msg })).await;
                        if leaving {
                            tracing::info!("left");
                            media.close();
                            room(RoomMsg::Input(Input::Disconnected { session, why: Disconnect::Dropped })).await;
                            return close_with(&mut socket, 1000, "left").await;
                        }
                        None
                    }
                    Ok(Err(e)) => Some(ServerMessage::error(None, e.code(), e.to_string())),
                    Err(code) => Some(ServerMessage::error(None, code, "binary frames are not part of the protocol")),
                };
                if let Some(err) = refused
                    && strike(&mut socket, &mut strikes, cfg.max_bad_messages, &err).await
                {
                    break;
                }
            }
            out = rx.recv() => match out {
                Some(Outbound::Msg(m)) => {
                    if !send(&mut socket, &m).await {
                        break;
                    }
                }
                // A malformed description or candidate, found by the media actor.
                Some(Outbound::Refused(err)) => {
                    if strike(&mut socket, &mut strikes, cfg.max_bad_messages, &err).await {
                        break;
                    }
                }
                Some(Outbound::End(reason)) => {
                    // The room stops the media when the session ends (a resumed session's
                    // media lives on with its successor).
                    send(&mut socket, &ServerMessage::Ended { reason }).await;
                    tracing::info!(?reason, "session ended by the room");
                    return close_with(&mut socket, close::for_reason(reason), "ended").await;
                }
                None => {
                    media.close();
                    return close_with(&mut socket, 1011, "disconnected").await;
                }
            },
        }
    }
    // The media actor is kept (and goes on forwarding) through the grace period, for a resume.
    tracing::info!("connection dropped");
    room(RoomMsg::Input(Input::Disconnected {
        session,
        why: Disconnect::Dropped,
    }))
    .await;
}

/// Answers a malformed message with `err` and counts it; after `max` of them the client is
/// told and closed (true).
async fn strike(socket: &mut WebSocket, strikes: &mut u32, max: u32, err: &ServerMessage) -> bool {
    *strikes += 1;
    send(socket, err).await;
    if *strikes < max {
        return false;
    }
    send(
        socket,
        &ServerMessage::Ended {
            reason: EndReason::ProtocolViolation,
        },
    )
    .await;
    close_with(
        socket,
        close::PROTOCOL_VIOLATION,
        "too many invalid messages",
    )
    .await;
    true
}

/// The answer when the media actor cannot take another message right now.
fn media_busy() -> ServerMessage {
    ServerMessage::error(
        None,
        ErrorCode::Conflict,
        "media negotiation is busy; wait for the previous answer",
    )
}

/// The media actor's command for a media message; any other message is handed back (for the
/// room).
fn media_command(msg: ClientMessage) -> Result<PeerCmd, ClientMessage> {
    Ok(match msg {
        ClientMessage::PublishOffer { sdp, screen } => PeerCmd::PublishOffer { sdp, screen },
        ClientMessage::SubscribeAnswer { sdp } => PeerCmd::SubscribeAnswer(sdp),
        ClientMessage::IceCandidate {
            pc,
            candidate,
            sdp_mid,
            sdp_mline_index,
        } => PeerCmd::Candidate {
            pc,
            candidate,
            sdp_mid,
            sdp_mline_index,
        },
        ClientMessage::VideoSize { track, height } => PeerCmd::VideoSize { track, height },
        other => return Err(other),
    })
}
