//! Keeps `PROTOCOL.md` true: every example in it must parse as the message it claims to be, and
//! every message type must have an example.

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::{ClientMessage, ServerMessage};

    const DOC: &str = include_str!("../PROTOCOL.md");

    fn examples(tag: &str) -> Vec<String> {
        let fence = format!("```json {tag}");
        let mut out = Vec::new();
        let mut rest = DOC;
        while let Some(start) = rest.find(&fence) {
            let body = &rest[start + fence.len()..];
            let end = body.find("```").expect("every example block is closed");
            out.push(body[..end].trim().to_owned());
            rest = &body[end + 3..];
        }
        out
    }

    fn types(examples: &[String]) -> BTreeSet<String> {
        examples
            .iter()
            .map(|e| {
                let v: serde_json::Value = serde_json::from_str(e).expect("example is JSON");
                v["type"].as_str().expect("example has a type").to_owned()
            })
            .collect()
    }

    #[test]
    fn every_client_example_parses_and_every_client_type_has_one() {
        let ex = examples("client");
        for e in &ex {
            crate::parse_client(e).unwrap_or_else(|err| panic!("{err}: {e}"));
        }
        let want = [
            "join",
            "ping",
            "set_muted",
            "admit",
            "call_witness",
            "dismiss_witness",
            "mute",
            "remove",
            "leave",
            "publish_offer",
            "subscribe_answer",
            "video_size",
            "ice_candidate",
            "caucus_start",
            "caucus_end",
            "end_hearing",
            "set_hearing_state",
            "set_recording",
        ];
        assert_eq!(types(&ex), want.iter().map(|s| s.to_string()).collect());
        // Round trip: what the code writes is what the document shows.
        for e in &ex {
            let m: ClientMessage = serde_json::from_str(e).unwrap();
            let back: ClientMessage =
                serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
            assert_eq!(m, back);
        }
    }

    #[test]
    fn every_server_example_parses_and_every_server_type_has_one() {
        let ex = examples("server");
        for e in &ex {
            let m: ServerMessage =
                serde_json::from_str(e).unwrap_or_else(|err| panic!("{err}: {e}"));
            let back: ServerMessage = serde_json::from_str(&m.to_json()).unwrap();
            assert_eq!(m, back);
        }
        let want = [
            "welcome",
            "roster",
            "moved",
            "muted",
            "ok",
            "error",
            "notice",
            "pong",
            "ended",
            "publish_answer",
            "subscribe_offer",
            "active_speaker",
            "caption",
            "hearing_state",
        ];
        assert_eq!(types(&ex), want.iter().map(|s| s.to_string()).collect());
    }
}
