//! Validation of client messages: the size limits every field is held to, and
//! [`parse_client`], which the server runs on every frame before anything else sees it.

use crate::protocol::{ClientMessage, ErrorCode, HearingPhase};
use crate::{MAX_FRAME_BYTES, PROTOCOL_VERSION};

/// Longest id (participant, hearing) accepted in a message.
pub const MAX_ID_LEN: usize = 64;
/// Longest join token accepted.
pub const MAX_TOKEN_LEN: usize = 2048;

/// Longest reason (in bytes) for starting or stopping the recording.
pub const MAX_REASON_LEN: usize = 600;

/// Most screen-share tracks one publish offer may name.
pub const MAX_SCREEN_TRACKS: usize = 2;

/// Longest ICE candidate line accepted.
pub const MAX_CANDIDATE_LEN: usize = 512;

/// Why a client message was refused before reaching the room.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Over [`MAX_FRAME_BYTES`].
    #[error("message larger than {MAX_FRAME_BYTES} bytes")]
    TooLarge,
    /// Not a valid message.
    #[error("invalid message: {0}")]
    Invalid(String),
    /// A field out of bounds.
    #[error("`{0}` is too long or empty")]
    Field(&'static str),
    /// A value outside the set the field takes (named in the message).
    #[error("`{field}` must be {allowed}")]
    NotAllowed {
        /// The field.
        field: &'static str,
        /// The values it takes, for a person.
        allowed: &'static str,
    },
    /// Another protocol version.
    #[error(
        "protocol version {0} is not supported (this server speaks {PROTOCOL_VERSION}); reload the page"
    )]
    Version(u16),
}

impl ParseError {
    /// The error code sent to the client.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooLarge => ErrorCode::TooLarge,
            Self::Version(_) => ErrorCode::Version,
            _ => ErrorCode::BadMessage,
        }
    }
}

fn bounded(field: &'static str, v: &str, max: usize) -> Result<(), ParseError> {
    if v.is_empty() || v.len() > max {
        Err(ParseError::Field(field))
    } else {
        Ok(())
    }
}

/// The tallest tile a client may report, pixels (8K).
pub const MAX_VIDEO_HEIGHT: u32 = 4320;

/// Parses and validates one client message.
pub fn parse_client(text: &str) -> Result<ClientMessage, ParseError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(ParseError::TooLarge);
    }
    let msg: ClientMessage =
        serde_json::from_str(text).map_err(|e| ParseError::Invalid(e.to_string()))?;
    match &msg {
        ClientMessage::Join { v, token, .. } => {
            if *v != PROTOCOL_VERSION {
                return Err(ParseError::Version(*v));
            }
            bounded("token", token, MAX_TOKEN_LEN)?;
        }
        ClientMessage::Admit { participant, .. }
        | ClientMessage::CallWitness { participant, .. }
        | ClientMessage::DismissWitness { participant, .. }
        | ClientMessage::Mute { participant, .. }
        | ClientMessage::Remove { participant, .. } => {
            bounded("participant", participant, MAX_ID_LEN)?;
        }
        ClientMessage::PublishOffer { sdp, screen } => {
            bounded("sdp", sdp, MAX_FRAME_BYTES)?;
            if screen.len() > MAX_SCREEN_TRACKS {
                return Err(ParseError::Field("screen"));
            }
            for track in screen {
                bounded("screen", track, MAX_ID_LEN)?;
            }
        }
        ClientMessage::SubscribeAnswer { sdp } => {
            bounded("sdp", sdp, MAX_FRAME_BYTES)?;
        }
        ClientMessage::IceCandidate {
            candidate, sdp_mid, ..
        } => {
            if candidate.len() > MAX_CANDIDATE_LEN
                || !(candidate.is_empty() || candidate.starts_with("candidate:"))
            {
                return Err(ParseError::Field("candidate"));
            }
            if let Some(mid) = sdp_mid {
                bounded("sdp_mid", mid, MAX_ID_LEN)?;
            }
        }
        ClientMessage::VideoSize { track, height } => {
            bounded("track", track, 2 * MAX_ID_LEN)?;
            if *height > MAX_VIDEO_HEIGHT {
                return Err(ParseError::Field("height"));
            }
        }
        ClientMessage::CaucusStart { participants, .. } => {
            if participants.is_empty() || participants.len() > 16 {
                return Err(ParseError::Field("participants"));
            }
            for p in participants {
                bounded("participants", p, MAX_ID_LEN)?;
            }
        }
        ClientMessage::Ping { .. }
        | ClientMessage::SetMuted { .. }
        | ClientMessage::Leave
        | ClientMessage::CaucusEnd { .. }
        | ClientMessage::EndHearing { .. } => {}
        ClientMessage::SetRecording { reason, .. } => {
            bounded("reason", reason, MAX_REASON_LEN)?;
            if reason.chars().any(char::is_control) {
                return Err(ParseError::Field("reason"));
            }
        }
        ClientMessage::SetHearingState { state, .. } => {
            if !matches!(state, HearingPhase::InSession | HearingPhase::Recess) {
                // Opening and closing belong to other messages (`end_hearing`) or the platform.
                return Err(ParseError::NotAllowed {
                    field: "state",
                    allowed: "`in_session` or `recess` (end the hearing with `end_hearing`)",
                });
            }
        }
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_fields_and_versions_are_refused() {
        assert!(matches!(
            parse_client(r#"{"type":"fly"}"#),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse_client(r#"{"type":"ping","id":1,"extra":true}"#),
            Err(ParseError::Invalid(_))
        ));
        assert_eq!(
            parse_client(r#"{"type":"join","v":2,"token":"t"}"#),
            Err(ParseError::Version(2))
        );
        assert_eq!(
            parse_client(&format!(
                r#"{{"type":"admit","participant":"{}"}}"#,
                "x".repeat(65)
            )),
            Err(ParseError::Field("participant"))
        );
        let big = format!(
            r#"{{"type":"join","v":1,"token":"{}"}}"#,
            "x".repeat(MAX_FRAME_BYTES)
        );
        assert_eq!(parse_client(&big), Err(ParseError::TooLarge));
        assert!(parse_client("").is_err() && parse_client("[]").is_err());
        let closing = parse_client(r#"{"type":"set_hearing_state","state":"closed"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            closing.contains("`in_session` or `recess`") && closing.contains("end_hearing"),
            "{closing}"
        );
        assert_eq!(
            parse_client(r#"{"type":"video_size","track":"t","height":100000}"#),
            Err(ParseError::Field("height"))
        );
        assert_eq!(
            parse_client(r#"{"type":"video_size","track":"","height":360}"#),
            Err(ParseError::Field("track"))
        );
        assert_eq!(
            parse_client(r#"{"type":"ice_candidate","pc":"publish","candidate":"a=x"}"#),
            Err(ParseError::Field("candidate"))
        );
        assert!(
            parse_client(r#"{"type":"ice_candidate","pc":"sideways","candidate":""}"#).is_err()
        );
    }

    #[test]
    fn a_command_without_req_parses() {
        assert_eq!(
            parse_client(r#"{"type":"admit","participant":"p1"}"#),
            Ok(ClientMessage::Admit {
                req: None,
                participant: "p1".into()
            })
        );
    }
}
