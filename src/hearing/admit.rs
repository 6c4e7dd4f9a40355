//! Admitting a join token: its signature and times, then the record (the hearing it names is
//! the one asked for and not over; the participant is still registered, not removed, and in the
//! role the link was minted for).
//!
//! The decision is [`judge`], pure and told the facts; [`verify`] and [`admit`] fetch them. The
//! HTTP API, the signaling socket and the network test all admit through here, so a link
//! refused in one place is refused, for the same reason, in all.

use sqlx::Row;

use super::{Hearing, StoreError, load};
use crate::auth::jwt::{self, JoinClaims, TokenError};
use crate::auth::keyring::KeyStore;
use crate::db::Db;
use crate::domain::{HearingState, Role};

/// Why a join token does not let its holder in. Each has a stable slug (the problem
/// document's `type`), on which clients decide; the message is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinRefusal {
    /// Not a well-formed token.
    #[error("the join token is malformed")]
    Malformed,
    /// Signed by a key this server does not have (rotated out, or another server's).
    #[error("the join token was not issued by this server")]
    UnknownKey,
    /// The signature does not match (a changed claim).
    #[error("the join token's signature is invalid")]
    BadSignature,
    /// Past its expiry.
    #[error("the join token has expired; ask the court for a new link")]
    Expired,
    /// Issued in the future (a clock off by more than the leeway).
    #[error("the join token is not valid yet")]
    NotYetValid,
    /// A token of another kind (issuer or audience).
    #[error("the token is not a join token")]
    WrongAudience,
    /// The token names another hearing than the one asked for.
    #[error("this join link is for a different hearing")]
    WrongHearing,
    /// The hearing the token names is not in the record.
    #[error("hearing not found")]
    NoSuchHearing,
    /// The hearing is closed.
    #[error("this hearing has ended")]
    Ended,
    /// The participant is not registered for the hearing.
    #[error("this participant is not registered for the hearing")]
    NotRegistered,
    /// The court removed the participant.
    #[error("this participant was removed from the hearing")]
    Revoked,
    /// The participant's role is no longer the one the link was minted for.
    #[error("the participant's role changed; ask the court for a new link")]
    RoleChanged,
    /// Reading the record: the participant was removed, or their role changed, since (the
    /// record is theirs to read only as who they were in the hearing).
    #[error("this participant may no longer access the hearing")]
    NoLongerAllowed,
}

impl JoinRefusal {
    /// Every refusal, for tables and tests.
    pub const ALL: [Self; 13] = [
        Self::Malformed,
        Self::UnknownKey,
        Self::BadSignature,
        Self::Expired,
        Self::NotYetValid,
        Self::WrongAudience,
        Self::WrongHearing,
        Self::NoSuchHearing,
        Self::Ended,
        Self::NotRegistered,
        Self::Revoked,
        Self::RoleChanged,
        Self::NoLongerAllowed,
    ];

    /// The stable name of the refusal, for clients to decide on (never the English message).
    pub fn slug(self) -> &'static str {
        match self {
            Self::Malformed => "join-token-malformed",
            Self::UnknownKey => "join-token-unknown-key",
            Self::BadSignature => "join-token-bad-signature",
            Self::Expired => "join-token-expired",
            Self::NotYetValid => "join-token-not-yet-valid",
            Self::WrongAudience => "join-token-wrong-audience",
            Self::WrongHearing => "join-link-wrong-hearing",
            Self::NoSuchHearing => "hearing-not-found",
            Self::Ended => "hearing-ended",
            Self::NotRegistered => "participant-not-registered",
            Self::Revoked => "participant-removed",
            Self::RoleChanged => "participant-role-changed",
            Self::NoLongerAllowed => "participant-no-longer-allowed",
        }
    }

    /// Whether a new link would help (the token itself is at fault), as opposed to the
    /// holder not being allowed in at all.
    pub fn needs_new_link(self) -> bool {
        matches!(
            self,
            Self::Malformed
                | Self::UnknownKey
                | Self::BadSignature
                | Self::Expired
                | Self::NotYetValid
                | Self::WrongAudience
                | Self::RoleChanged
        )
    }
}

impl From<TokenError> for JoinRefusal {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Malformed => Self::Malformed,
            TokenError::UnknownKey => Self::UnknownKey,
            TokenError::BadSignature => Self::BadSignature,
            TokenError::Expired => Self::Expired,
            TokenError::NotYetValid => Self::NotYetValid,
            TokenError::WrongAudience => Self::WrongAudience,
        }
    }
}

/// Why a join token could not be admitted: refused by a rule, or the record unreadable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmitError {
    /// A rule refused it.
    #[error(transparent)]
    Refused(#[from] JoinRefusal),
    /// The record could not be read; nothing is known about the token's holder.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AdmitError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// A participant as the record has them registered for a hearing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The name others see.
    pub display_name: String,
    /// The stored role (`None`: not one this server knows).
    pub role: Option<Role>,
    /// Removed by the court.
    pub revoked: bool,
}

/// What a join token is shown for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Taking part: only while the hearing is not over.
    Join,
    /// Reading and signing the hearing's record: also (above all) after it ended.
    Record,
}

/// A join token's holder, let in.
#[derive(Debug)]
pub struct Admitted {
    /// Their hearing.
    pub hearing: Hearing,
    /// The name others see.
    pub display_name: String,
}

/// The rule: `claims` (already verified) open hearing `asked`, in `state`, for `purpose`, to a
/// participant registered as `registration`. The first rule broken is the answer.
pub fn judge(
    claims: &JoinClaims,
    asked: &str,
    purpose: Purpose,
    state: Option<HearingState>,
    registration: Option<&Registration>,
) -> Result<(), JoinRefusal> {
    if claims.hid != asked {
        return Err(JoinRefusal::WrongHearing);
    }
    match (purpose, state) {
        (Purpose::Join, None) => return Err(JoinRefusal::NoSuchHearing),
        (Purpose::Join, Some(HearingState::Closed)) => return Err(JoinRefusal::Ended),
        // Nobody is registered for a hearing that is not there; its record is read whatever
        // the hearing's state.
        (Purpose::Record, None) => return Err(JoinRefusal::NotRegistered),
        _ => {}
    }
    let r = registration.ok_or(JoinRefusal::NotRegistered)?;
    let moved_on = r.role != Some(claims.role);
    match purpose {
        Purpose::Record if r.revoked || moved_on => Err(JoinRefusal::NoLongerAllowed),
        _ if r.revoked => Err(JoinRefusal::Revoked),
        _ if moved_on => Err(JoinRefusal::RoleChanged),
        _ => Ok(()),
    }
}

/// Checks a join token's signature and times at `now_ms`, re-reading the key directory once
/// if it names a key this server has not loaded (a rotation since start).
pub fn verify(
    keys: &KeyStore,
    token: &str,
    now_ms: i64,
    leeway_s: i64,
) -> Result<JoinClaims, JoinRefusal> {
    let verified = jwt::verify(&keys.ring(), token, now_ms / 1000, leeway_s);
    Ok(match verified {
        Err(TokenError::UnknownKey) if keys.reload(now_ms) => {
            jwt::verify(&keys.ring(), token, now_ms / 1000, leeway_s)?
        }
        other => other?,
    })
}

/// Checks verified `claims` against the record for hearing `asked` (see [`judge`]).
pub async fn admit(
    db: &Db,
    claims: &JoinClaims,
    asked: &str,
    purpose: Purpose,
) -> Result<Admitted, AdmitError> {
    let hearing = load(db.pool(), asked).await?;
    let registration = match &hearing {
        Some(h) if purpose == Purpose::Record || h.state != HearingState::Closed => {
            registration(db, &claims.sub, asked).await?
        }
        None if purpose == Purpose::Record => None,
        _ => None,
    };
    judge(
        claims,
        asked,
        purpose,
        hearing.as_ref().map(|h| h.state),
        registration.as_ref(),
    )?;
    match (hearing, registration) {
        (Some(hearing), Some(r)) => Ok(Admitted {
            hearing,
            display_name: r.display_name,
        }),
        // Unreachable after `judge`; refused rather than trusted.
        _ => Err(JoinRefusal::NotRegistered.into()),
    }
}

async fn registration(
    db: &Db,
    participant: &str,
    hearing: &str,
) -> Result<Option<Registration>, StoreError> {
    let row = sqlx::query(
        "SELECT display_name, role, revoked_at FROM participants WHERE id = $1 AND hearing_id = $2",
    )
    .bind(participant)
    .bind(hearing)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let role: String = row.try_get("role")?;
    Ok(Some(Registration {
        display_name: row.try_get("display_name")?,
        role: Role::parse(&role),
        revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keyring::KeyRing;

    fn claims(role: Role) -> JoinClaims {
        JoinClaims {
            iss: jwt::ISSUER.into(),
            aud: jwt::JOIN_AUDIENCE.into(),
            sub: "p1".into(),
            hid: "h1".into(),
            role,
            iat: 1000,
            exp: 2000,
            jti: "j".into(),
        }
    }

    fn registered(role: Role) -> Registration {
        Registration {
            display_name: "Ada".into(),
            role: Some(role),
            revoked: false,
        }
    }

    const OPEN: Option<HearingState> = Some(HearingState::Open);

    #[test]
    fn a_registered_participant_of_an_open_hearing_is_admitted() {
        let c = claims(Role::Party);
        for state in [
            HearingState::Scheduled,
            HearingState::Open,
            HearingState::InSession,
            HearingState::Recess,
        ] {
            assert_eq!(
                judge(
                    &c,
                    "h1",
                    Purpose::Join,
                    Some(state),
                    Some(&registered(Role::Party))
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn each_record_rule_refuses_with_its_own_reason_in_order() {
        let c = claims(Role::Party);
        let ok = registered(Role::Party);
        let cases = [
            ("h2", OPEN, Some(ok.clone()), JoinRefusal::WrongHearing),
            ("h1", None, Some(ok.clone()), JoinRefusal::NoSuchHearing),
            (
                "h1",
                Some(HearingState::Closed),
                Some(ok.clone()),
                JoinRefusal::Ended,
            ),
            ("h1", OPEN, None, JoinRefusal::NotRegistered),
            (
                "h1",
                OPEN,
                Some(Registration {
                    revoked: true,
                    ..ok.clone()
                }),
                JoinRefusal::Revoked,
            ),
            (
                "h1",
                OPEN,
                Some(registered(Role::Witness)),
                JoinRefusal::RoleChanged,
            ),
            (
                "h1",
                OPEN,
                Some(Registration { role: None, ..ok }),
                JoinRefusal::RoleChanged,
            ),
        ];
        for (asked, state, reg, want) in cases {
            assert_eq!(
                judge(&c, asked, Purpose::Join, state, reg.as_ref()),
                Err(want),
                "{asked} {state:?} {reg:?}"
            );
            // Reading the record: an ended hearing is no reason, and the other refusals are
            // answered as the record's readers always were.
            let on_record = match want {
                JoinRefusal::Ended => Ok(()),
                JoinRefusal::NoSuchHearing => Err(JoinRefusal::NotRegistered),
                JoinRefusal::Revoked | JoinRefusal::RoleChanged => {
                    Err(JoinRefusal::NoLongerAllowed)
                }
                other => Err(other),
            };
            assert_eq!(
                judge(&c, asked, Purpose::Record, state, reg.as_ref()),
                on_record,
                "{asked} {state:?} {reg:?}"
            );
        }
    }

    #[test]
    fn an_ended_hearing_is_refused_before_a_removed_participant() {
        let c = claims(Role::Party);
        let removed = Registration {
            revoked: true,
            ..registered(Role::Party)
        };
        assert_eq!(
            judge(
                &c,
                "h1",
                Purpose::Join,
                Some(HearingState::Closed),
                Some(&removed)
            ),
            Err(JoinRefusal::Ended)
        );
    }

    #[test]
    fn the_record_of_an_ended_hearing_stays_open_to_its_participants() {
        let c = claims(Role::Party);
        let closed = Some(HearingState::Closed);
        let ok = registered(Role::Party);
        assert_eq!(judge(&c, "h1", Purpose::Record, closed, Some(&ok)), Ok(()));
        let removed = Registration {
            revoked: true,
            ..ok
        };
        assert_eq!(
            judge(&c, "h1", Purpose::Record, closed, Some(&removed)),
            Err(JoinRefusal::NoLongerAllowed)
        );
    }

    #[test]
    fn every_token_failure_is_its_own_refusal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ring = KeyRing::load_or_create(dir.path(), 1).expect("ring");
        let keys = KeyStore::new(dir.path().to_owned(), ring);
        let good = jwt::issue(&keys.ring(), &claims(Role::Party));
        let at = |s: i64| s * 1000;
        assert!(verify(&keys, &good, at(1500), 0).is_ok());
        assert_eq!(verify(&keys, &good, at(2001), 0), Err(JoinRefusal::Expired));
        assert_eq!(
            verify(&keys, &good, at(900), 30),
            Err(JoinRefusal::NotYetValid)
        );
        assert_eq!(
            verify(&keys, "a.b.c", at(1500), 0),
            Err(JoinRefusal::Malformed)
        );
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[2] = parts[1].clone();
        assert_eq!(
            verify(&keys, &parts.join("."), at(1500), 0),
            Err(JoinRefusal::BadSignature)
        );
        let other_dir = tempfile::tempdir().expect("temp dir");
        let other = KeyRing::load_or_create(other_dir.path(), 1).expect("ring");
        let foreign = jwt::issue(&other, &claims(Role::Party));
        assert_eq!(
            verify(&keys, &foreign, at(1500), 0),
            Err(JoinRefusal::UnknownKey)
        );
        let mut wrong = claims(Role::Party);
        wrong.aud = "elsewhere".into();
        let wrong = jwt::issue(&keys.ring(), &wrong);
        assert_eq!(
            verify(&keys, &wrong, at(1500), 0),
            Err(JoinRefusal::WrongAudience)
        );
    }

    #[test]
    fn a_token_refusal_says_what_the_token_check_says() {
        for e in [
            TokenError::Malformed,
            TokenError::UnknownKey,
            TokenError::BadSignature,
            TokenError::Expired,
            TokenError::NotYetValid,
            TokenError::WrongAudience,
        ] {
            assert_eq!(JoinRefusal::from(e).to_string(), e.to_string());
        }
    }

    #[test]
    fn every_refusal_has_its_own_slug() {
        let mut slugs: Vec<_> = JoinRefusal::ALL.iter().map(|r| r.slug()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), JoinRefusal::ALL.len());
    }
}
