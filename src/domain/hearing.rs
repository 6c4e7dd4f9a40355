//! Hearing kinds and the hearing state machine.
//!
//! `scheduled -> open -> in_session <-> recess -> closed`; a hearing may also be closed from
//! `open` (adjourned before the session began). Every other move is refused with the reason,
//! so the court platform gets a 409 that says what was wrong rather than a silent no-op.

use serde::{Deserialize, Serialize};

/// What kind of proceeding a hearing is; decides lobby, recording and signing defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HearingKind {
    /// A trial hearing (recorded by default).
    Trial,
    /// A pre-trial conference or evidence exchange.
    PreTrial,
    /// An online mediation (Art. 16).
    Mediation,
}

impl HearingKind {
    /// Whether someone in `role` who took part must sign (or refuse to sign) the written
    /// record of a hearing of this kind. In a trial or pre-trial hearing the judge, the clerk
    /// and every other participant in the proceedings sign the record of what was said; a
    /// mediation's record is signed by the mediator, the clerk and the two sides (with their
    /// counsel and interpreters). Observers never sign.
    pub fn signs_record(self, role: super::Role) -> bool {
        use super::Role::*;
        match self {
            HearingKind::Trial | HearingKind::PreTrial => {
                !matches!(role, Mediator | Observer | Courtroom)
            }
            HearingKind::Mediation => {
                matches!(role, Mediator | Clerk | Party | Counsel | Interpreter)
            }
        }
    }

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            HearingKind::Trial => "trial",
            HearingKind::PreTrial => "pre_trial",
            HearingKind::Mediation => "mediation",
        }
    }

    /// Parses the wire and database name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Trial, Self::PreTrial, Self::Mediation]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Where a hearing is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HearingState {
    /// Created, not yet open to participants.
    Scheduled,
    /// Participants may join the lobby; the session has not started.
    Open,
    /// The hearing is in session.
    InSession,
    /// Paused; participants stay connected.
    Recess,
    /// Over; nobody can join again.
    Closed,
}

impl From<HearingState> for gavel_signaling::HearingPhase {
    fn from(s: HearingState) -> Self {
        use gavel_signaling::HearingPhase as P;
        match s {
            HearingState::Scheduled => P::Scheduled,
            HearingState::Open => P::Open,
            HearingState::InSession => P::InSession,
            HearingState::Recess => P::Recess,
            HearingState::Closed => P::Closed,
        }
    }
}

impl HearingState {
    /// Every state.
    pub const ALL: [HearingState; 5] = [
        Self::Scheduled,
        Self::Open,
        Self::InSession,
        Self::Recess,
        Self::Closed,
    ];

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Open => "open",
            Self::InSession => "in_session",
            Self::Recess => "recess",
            Self::Closed => "closed",
        }
    }

    /// Parses the wire and database name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Checks a move to `to`, returning the new state or why it is not allowed.
    pub fn transition(self, to: HearingState) -> Result<HearingState, IllegalTransition> {
        use HearingState::*;
        let legal = matches!(
            (self, to),
            (Scheduled, Open)
                | (Open, InSession)
                | (InSession, Recess)
                | (Recess, InSession)
                | (Open | InSession | Recess, Closed)
        );
        if legal {
            Ok(to)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }
}

/// A refused state change; its message is shown to the API caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a hearing cannot go from {} to {}", from.as_str(), to.as_str())]
pub struct IllegalTransition {
    /// The current state.
    pub from: HearingState,
    /// The requested state.
    pub to: HearingState,
}

#[cfg(test)]
mod tests {
    use super::HearingState::*;
    use super::*;

    #[test]
    fn exactly_the_documented_transitions_are_legal() {
        let legal = [
            (Scheduled, Open),
            (Open, InSession),
            (InSession, Recess),
            (Recess, InSession),
            (Open, Closed),
            (InSession, Closed),
            (Recess, Closed),
        ];
        for from in HearingState::ALL {
            for to in HearingState::ALL {
                let want = legal.contains(&(from, to));
                assert_eq!(from.transition(to).is_ok(), want, "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn an_illegal_transition_names_both_states() {
        let e = Closed.transition(Open).unwrap_err();
        assert_eq!(e.to_string(), "a hearing cannot go from closed to open");
    }

    #[test]
    fn names_round_trip() {
        for s in HearingState::ALL {
            assert_eq!(HearingState::parse(s.as_str()), Some(s));
        }
        for k in [
            HearingKind::Trial,
            HearingKind::PreTrial,
            HearingKind::Mediation,
        ] {
            assert_eq!(HearingKind::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn the_record_is_signed_by_those_who_took_part_in_the_proceedings() {
        use crate::domain::Role;
        let signs = |k: HearingKind| -> Vec<Role> {
            Role::ALL
                .into_iter()
                .filter(|r| k.signs_record(*r))
                .collect()
        };
        assert_eq!(
            signs(HearingKind::Trial),
            [
                Role::Judge,
                Role::Clerk,
                Role::Party,
                Role::Counsel,
                Role::Witness,
                Role::Expert,
                Role::Interpreter
            ]
        );
        assert_eq!(signs(HearingKind::PreTrial), signs(HearingKind::Trial));
        assert_eq!(
            signs(HearingKind::Mediation),
            [
                Role::Clerk,
                Role::Party,
                Role::Counsel,
                Role::Interpreter,
                Role::Mediator
            ]
        );
        // Everyone who signs may: the role table gives them the capability.
        for k in [HearingKind::Trial, HearingKind::Mediation] {
            for r in signs(k) {
                assert!(
                    crate::domain::role::capabilities(r)
                        .allows(crate::domain::Capability::SignRecord)
                );
            }
        }
    }
}
