//! What the transcript and the mediation agreement share: a signer's decision, signed by the
//! server for the participant it authenticated, stored once, and the completion seal when the
//! last signer has decided. Each kind keeps its documents and decisions in its own two tables
//! (the same columns) and signs under its own domain tags ([`Signable`]).

use gavel_recordings::written::{
    Completion, Decision, Person, Signable, Signature, completion_message_for, in_signer_order,
    message_for,
};
use sqlx::{AssertSqlSafe, Row};

use super::{Decide, DecisionWire};
use crate::audit::AuditAction;
use crate::clock::now_ms;
use crate::db::WriteTx;
use crate::docket::recordings::Caller;
use crate::domain::Capability;
use crate::domain::role::capabilities;
use crate::http::AppState;
use crate::http::conflict::is_unique_violation;
use crate::http::error::{ApiError, Conflict};
use crate::webhook::{self, EventType};

/// Where one kind of signed document keeps its documents and its decisions.
pub(in crate::docket) struct Ledger {
    /// The documents' table (`id`, `document`, `sha256`, `completed_at`, `completion_kid`,
    /// `completion_signature`, ...).
    documents: &'static str,
    /// The decisions' table (`document_id`, `participant_id`, ..., unique per signer).
    signatures: &'static str,
    /// How a signature and a refusal are audited.
    signed: AuditAction,
    refused: AuditAction,
    /// What the platform hears when the document is complete.
    event: EventType,
    /// What the document is called in the audit entry and the event (`document`: its id is
    /// `document_id` in the event).
    noun: &'static str,
}

/// The finalised transcripts.
pub(in crate::docket) const TRANSCRIPTS: Ledger = Ledger {
    documents: "transcript_documents",
    signatures: "transcript_signatures",
    signed: AuditAction::TranscriptSign,
    refused: AuditAction::TranscriptRefuse,
    event: EventType::TranscriptSigned,
    noun: "document",
};

/// The mediation agreements.
pub(in crate::docket) const AGREEMENTS: Ledger = Ledger {
    documents: "agreement_documents",
    signatures: "agreement_signatures",
    signed: AuditAction::AgreementSign,
    refused: AuditAction::AgreementRefuse,
    event: EventType::AgreementSigned,
    noun: "agreement",
};

/// One signer of a document, with their decision once made.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct SignerView {
    /// Participant id.
    participant_id: String,
    /// Name.
    name: String,
    /// Role.
    role: String,
    /// `signed` or `refused`; absent until they decide.
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<String>,
    /// Why they refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// When they decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
}

/// Each of `signers` with their decision among `signatures`, in the document's order.
pub(in crate::docket) fn signer_views(
    signers: &[Person],
    signatures: &[Signature],
) -> Vec<SignerView> {
    signers
        .iter()
        .map(|p| {
            let d = signatures.iter().find(|s| s.signer == *p);
            SignerView {
                participant_id: p.participant_id.clone(),
                name: p.name.clone(),
                role: p.role.clone(),
                decision: d.map(|d| d.decision.as_str().to_owned()),
                reason: d.and_then(|d| d.reason.clone()),
                at: d.map(|d| crate::clock::rfc3339(d.at_ms)),
            }
        })
        .collect()
}

/// One decision recorded.
pub(in crate::docket) struct Decided {
    /// When, Unix ms (also the seal's time when it completed the document).
    pub now: i64,
    /// Every decision on the document, this one included, in the order made.
    pub all: Vec<Signature>,
    /// Whether this decision was the last, and the document is now sealed.
    pub sealed: bool,
    /// What was decided.
    pub decision: Decision,
}

/// Whether the caller reads a signed document: the platform, a role holding one of
/// `readers`, or one of the document's `signers` (who must read what they sign).
pub(in crate::docket) fn may_read(
    c: &Caller,
    readers: &[Capability],
    signers: &[Person],
    refusal: &'static str,
) -> Result<(), ApiError> {
    match &c.participant {
        None => Ok(()),
        Some((_, role)) if readers.iter().any(|x| capabilities(*role).allows(*x)) => Ok(()),
        Some((id, _)) if signers.iter().any(|p| p.participant_id == *id) => Ok(()),
        Some(_) => Err(ApiError::Forbidden(refusal)),
    }
}

/// The calling participant's id, when their role holds `cap` (drafts or finalises this kind of
/// document); anyone else is refused with `refusal`.
pub(in crate::docket) fn holder_of(
    c: &Caller,
    cap: Capability,
    refusal: &'static str,
) -> Result<String, ApiError> {
    match &c.participant {
        Some((id, role)) if capabilities(*role).allows(cap) => Ok(id.clone()),
        _ => Err(ApiError::Forbidden(refusal)),
    }
}

/// The caller as one of `signers`, when their role holds `cap` (signs this kind of document).
pub(in crate::docket) fn signer_among(
    c: &Caller,
    cap: Capability,
    signers: &[Person],
    refusal: &'static str,
) -> Result<Person, ApiError> {
    match &c.participant {
        Some((id, role)) if capabilities(*role).allows(cap) => {
            signers.iter().find(|p| p.participant_id == *id).cloned()
        }
        _ => None,
    }
    .ok_or(ApiError::Forbidden(refusal))
}

/// The decision and its reason, checked: a refusal needs a reason of at most 500 characters.
pub(in crate::docket) fn decision_of(
    body: &Decide,
) -> Result<(Decision, Option<String>), ApiError> {
    Ok(match body.decision {
        DecisionWire::Signed => (Decision::Signed, None),
        DecisionWire::Refused => (
            Decision::Refused,
            Some(crate::domain::validate::text(
                "reason",
                body.reason.as_deref().unwrap_or(""),
                500,
            )?),
        ),
    })
}

/// What a completed document's webhook says of its decisions: who signed, who refused and
/// why.
pub(in crate::docket) fn outcome(all: &[Signature]) -> serde_json::Value {
    let signed: Vec<&str> = all
        .iter()
        .filter(|s| s.decision == Decision::Signed)
        .map(|s| s.signer.participant_id.as_str())
        .collect();
    let refused: Vec<serde_json::Value> = all
        .iter()
        .filter(|s| s.decision == Decision::Refused)
        .map(|s| serde_json::json!({"participant_id": s.signer.participant_id, "reason": s.reason}))
        .collect();
    serde_json::json!({
        "all_signed": refused.is_empty(), "signed": signed, "refused": refused,
    })
}

impl Ledger {
    /// The decisions on document `id`, in the order made.
    pub(in crate::docket) async fn signatures_of<'e, E>(
        &self,
        ex: E,
        id: &str,
    ) -> Result<Vec<Signature>, ApiError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        let sql = format!(
            "SELECT participant_id, name, role, decision, reason, signed_at, kid, signature \
             FROM {} WHERE document_id = $1 ORDER BY signed_at, id",
            self.signatures
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(ex)
            .await?;
        let mut signatures = Vec::with_capacity(rows.len());
        for s in &rows {
            let decision: String = s.try_get("decision")?;
            signatures.push(Signature {
                signer: Person {
                    participant_id: s.try_get("participant_id")?,
                    name: s.try_get("name")?,
                    role: s.try_get("role")?,
                },
                decision: Decision::parse(&decision)
                    .ok_or_else(|| ApiError::Internal("a stored decision is unknown".into()))?,
                reason: s.try_get("reason")?,
                at_ms: s.try_get("signed_at")?,
                kid: s.try_get("kid")?,
                signature: s.try_get("signature")?,
            });
        }
        Ok(signatures)
    }

    /// Records `signer`'s decision on the document `id` (whose exact bytes hash to `sha256`)
    /// inside `tx`, signed now with the server's current key, and seals the document when it
    /// was the last decision. The caller holds the write lock, has checked the document may
    /// still be decided on (nothing supersedes it), and writes the audit entry.
    #[expect(clippy::too_many_arguments, reason = "each is one bound field")]
    pub(in crate::docket) async fn decide<D: Signable>(
        &self,
        st: &AppState,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: &str,
        sha256: &str,
        doc: &D,
        signer: &Person,
        decision: Decision,
        reason: Option<&str>,
    ) -> Result<Decided, ApiError> {
        // Timed and signed under the write lock, so decisions and the seal are in time order.
        let now = now_ms();
        let ring = st.keys.ring();
        let key = ring.current();
        let msg = message_for::<D>(sha256, doc.hearing_id(), signer, decision, reason, now);
        let signature = hex::encode(key.sign(&msg));
        let done: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT completed_at FROM {} WHERE id = $1",
            self.documents
        )))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        if done.is_some() {
            return Err(Conflict::RecordComplete.into());
        }
        let inserted = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {} (id, document_id, participant_id, name, role, decision, reason, \
             signed_at, kid, signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            self.signatures
        )))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(id)
        .bind(&signer.participant_id)
        .bind(&signer.name)
        .bind(&signer.role)
        .bind(decision.as_str())
        .bind(reason)
        .bind(now)
        .bind(&key.kid)
        .bind(&signature)
        .execute(&mut **tx)
        .await;
        if let Err(e) = inserted {
            return Err(if is_unique_violation(&e) {
                Conflict::AlreadyDecided.into()
            } else {
                e.into()
            });
        }
        let all = self.signatures_of(&mut **tx, id).await?;
        let seal = in_signer_order(doc.signers(), &all)
            .filter(|ordered| ordered.len() == all.len())
            .map(|ordered| {
                let msg = completion_message_for::<D>(sha256, doc.hearing_id(), now, &ordered);
                hex::encode(key.sign(&msg))
            });
        let sealed = seal.is_some();
        if let Some(seal) = seal {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE {} SET completed_at = $1, completion_kid = $2, \
                 completion_signature = $3 WHERE id = $4",
                self.documents
            )))
            .bind(now)
            .bind(&key.kid)
            .bind(&seal)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
        Ok(Decided {
            now,
            all,
            sealed,
            decision,
        })
    }
}

impl Ledger {
    /// Ends a decision's change: its audit entry by `actor` and, when it completed the
    /// document, the platform's event (`about` adds what identifies the document to the
    /// event, beside the hearing, the id, the hash and the outcome); then commits.
    #[expect(clippy::too_many_arguments, reason = "each is one bound field")]
    pub(in crate::docket) async fn conclude(
        &self,
        st: &AppState,
        mut w: WriteTx,
        actor: &crate::domain::audit::Actor,
        decided: &Decided,
        (hearing, id, sha256): (&str, &str, &str),
        reason: Option<&str>,
        about: (&str, serde_json::Value),
    ) -> Result<(), ApiError> {
        crate::audit::append(
            &mut w.tx,
            decided.now,
            actor,
            if decided.decision == Decision::Refused {
                self.refused
            } else {
                self.signed
            },
            &format!("hearing:{hearing}"),
            serde_json::json!({
                self.noun: id, "sha256": sha256, "reason": reason, "complete": decided.sealed,
            }),
        )
        .await?;
        let mut queued = 0;
        if decided.sealed {
            let mut data = outcome(&decided.all);
            data["hearing_id"] = hearing.into();
            data[format!("{}_id", self.noun)] = id.into();
            data[about.0] = about.1;
            data["sha256"] = sha256.into();
            queued = webhook::enqueue(&mut w.tx, decided.now, self.event, data).await?;
        }
        w.commit().await?;
        if queued > 0 {
            st.outbox.notify_one();
        }
        Ok(())
    }
}

/// The seal stored with a document, once complete.
pub(in crate::docket) fn completion(
    row: &sqlx::any::AnyRow,
) -> Result<Option<Completion>, sqlx::Error> {
    Ok(
        match (
            row.try_get::<Option<i64>, _>("completed_at")?,
            row.try_get::<Option<String>, _>("completion_kid")?,
            row.try_get::<Option<String>, _>("completion_signature")?,
        ) {
            (Some(at_ms), Some(kid), Some(signature)) => Some(Completion {
                at_ms,
                kid,
                signature,
            }),
            _ => None,
        },
    )
}
