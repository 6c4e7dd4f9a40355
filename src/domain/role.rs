//! Roles in a hearing and the one table of what each may do.
//!
//! Every check in the server (case API now, signaling and the room engine later) asks
//! [`capabilities`]; nothing else decides permissions, so the table below is the whole policy.

use serde::{Deserialize, Serialize};

/// A person's function in a hearing, fixed by the court platform when it registers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The presiding judge: controls the room and the record.
    Judge,
    /// Keeps the record: transcript review and signatures.
    Clerk,
    /// A party to the case.
    Party,
    /// A party's lawyer or representative.
    Counsel,
    /// A witness; sequestered until called.
    Witness,
    /// An expert witness.
    Expert,
    /// Interprets for a participant.
    Interpreter,
    /// Runs a mediation, including private sessions (caucus) with one side.
    Mediator,
    /// Watches only (public or authorised observer); never publishes.
    Observer,
    /// An e-courtroom camera or codec the server pulls over RTSP (Art. 33, mixed hearings):
    /// publishes the courtroom's picture and sound, enters the hearing directly, and never
    /// receives anything. Only the server gives this role (to a registered device), never the
    /// platform to a person.
    Courtroom,
}

impl Role {
    /// Every role, in table order.
    pub const ALL: [Role; 10] = [
        Role::Judge,
        Role::Clerk,
        Role::Party,
        Role::Counsel,
        Role::Witness,
        Role::Expert,
        Role::Interpreter,
        Role::Mediator,
        Role::Observer,
        Role::Courtroom,
    ];

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Judge => "judge",
            Role::Clerk => "clerk",
            Role::Party => "party",
            Role::Counsel => "counsel",
            Role::Witness => "witness",
            Role::Expert => "expert",
            Role::Interpreter => "interpreter",
            Role::Mediator => "mediator",
            Role::Observer => "observer",
            Role::Courtroom => "courtroom",
        }
    }

    /// Whether the platform may give this role to a participant (a person): every role but
    /// `courtroom`, which the server gives only to the devices registered for a hearing.
    pub fn is_person(self) -> bool {
        self != Role::Courtroom
    }

    /// Parses the wire and database name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One power a role may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Send microphone audio.
    PublishAudio,
    /// Send camera video.
    PublishVideo,
    /// Share a screen or document (evidence presentation, Art. 22-23).
    PublishScreen,
    /// Let people in from the lobby.
    AdmitFromLobby,
    /// Mute someone else's microphone or stop their video.
    MuteOthers,
    /// Remove someone from the hearing.
    RemoveOthers,
    /// Call a witness in from sequestration, or send them out.
    CallWitness,
    /// Start, pause or stop the recording.
    ControlRecording,
    /// Correct the transcript (each edit is a new version).
    EditTranscript,
    /// Sign (or refuse to sign) the written record.
    SignRecord,
    /// Open, recess, resume and end the hearing.
    ControlHearing,
    /// Hold a private session with one side (mediation, Art. 16).
    HoldCaucus,
    /// Play and download the hearing's recordings (every access is audited).
    AccessRecording,
    /// Draft the mediation agreement (Art. 16): the mediator writes what the sides agreed.
    DraftAgreement,
    /// Sign (or refuse) a mediation agreement: the sides themselves and their counsel.
    SignAgreement,
}

impl Capability {
    /// Every capability, in table order.
    pub const ALL: [Capability; 15] = [
        Capability::PublishAudio,
        Capability::PublishVideo,
        Capability::PublishScreen,
        Capability::AdmitFromLobby,
        Capability::MuteOthers,
        Capability::RemoveOthers,
        Capability::CallWitness,
        Capability::ControlRecording,
        Capability::EditTranscript,
        Capability::SignRecord,
        Capability::ControlHearing,
        Capability::HoldCaucus,
        Capability::AccessRecording,
        Capability::DraftAgreement,
        Capability::SignAgreement,
    ];

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// The set of capabilities a role holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities(u16);

impl Capabilities {
    /// Whether the set includes `c`.
    pub fn allows(self, c: Capability) -> bool {
        self.0 & c.bit() != 0
    }

    /// The capabilities as a list, in table order (for clients that hide controls they lack).
    pub fn to_vec(self) -> Vec<Capability> {
        Capability::ALL
            .into_iter()
            .filter(|c| self.allows(*c))
            .collect()
    }

    fn of(list: &[Capability]) -> Self {
        Capabilities(list.iter().fold(0, |acc, c| acc | c.bit()))
    }
}

/// What `role` may do. The single source of permissions for the whole server.
pub fn capabilities(role: Role) -> Capabilities {
    use Capability::*;
    Capabilities::of(match role {
        Role::Judge => &[
            PublishAudio,
            PublishVideo,
            PublishScreen,
            AdmitFromLobby,
            MuteOthers,
            RemoveOthers,
            CallWitness,
            ControlRecording,
            SignRecord,
            ControlHearing,
            AccessRecording,
        ],
        Role::Clerk => &[
            PublishAudio,
            PublishVideo,
            PublishScreen,
            AdmitFromLobby,
            MuteOthers,
            ControlRecording,
            EditTranscript,
            SignRecord,
            AccessRecording,
        ],
        Role::Party | Role::Counsel => &[
            PublishAudio,
            PublishVideo,
            PublishScreen,
            SignRecord,
            SignAgreement,
        ],
        Role::Expert => &[PublishAudio, PublishVideo, PublishScreen, SignRecord],
        Role::Witness | Role::Interpreter => &[PublishAudio, PublishVideo, SignRecord],
        Role::Mediator => &[
            PublishAudio,
            PublishVideo,
            PublishScreen,
            AdmitFromLobby,
            MuteOthers,
            RemoveOthers,
            ControlRecording,
            SignRecord,
            ControlHearing,
            HoldCaucus,
            AccessRecording,
            DraftAgreement,
        ],
        Role::Observer => &[],
        Role::Courtroom => &[PublishAudio, PublishVideo],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy, spelled out: one row per role, one column per capability, in
    /// `Capability::ALL` order. Changing a permission means changing this table on purpose.
    const TABLE: [(Role, &str); 10] = [
        //                  aud vid scr adm mut rem wit rec edt sgn hrg cau acc dra sga
        (Role::Judge, "1 1 1 1 1 1 1 1 0 1 1 0 1 0 0"),
        (Role::Clerk, "1 1 1 1 1 0 0 1 1 1 0 0 1 0 0"),
        (Role::Party, "1 1 1 0 0 0 0 0 0 1 0 0 0 0 1"),
        (Role::Counsel, "1 1 1 0 0 0 0 0 0 1 0 0 0 0 1"),
        (Role::Witness, "1 1 0 0 0 0 0 0 0 1 0 0 0 0 0"),
        (Role::Expert, "1 1 1 0 0 0 0 0 0 1 0 0 0 0 0"),
        (Role::Interpreter, "1 1 0 0 0 0 0 0 0 1 0 0 0 0 0"),
        (Role::Mediator, "1 1 1 1 1 1 0 1 0 1 1 1 1 1 0"),
        (Role::Observer, "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"),
        (Role::Courtroom, "1 1 0 0 0 0 0 0 0 0 0 0 0 0 0"),
    ];

    #[test]
    fn every_role_has_exactly_the_capabilities_in_the_table() {
        for (role, row) in TABLE {
            let expected: Vec<bool> = row.split(' ').map(|c| c == "1").collect();
            assert_eq!(expected.len(), Capability::ALL.len(), "row for {role:?}");
            for (cap, want) in Capability::ALL.into_iter().zip(expected) {
                assert_eq!(capabilities(role).allows(cap), want, "{role:?} / {cap:?}");
            }
        }
    }

    #[test]
    fn observers_never_publish_and_witnesses_never_moderate() {
        let o = capabilities(Role::Observer);
        assert!(o.to_vec().is_empty());
        let w = capabilities(Role::Witness);
        assert!(!w.allows(Capability::AdmitFromLobby) && !w.allows(Capability::MuteOthers));
    }

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(Role::parse("Judge"), None);
    }
}
