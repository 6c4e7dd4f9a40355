//! The signed written record of a hearing (Art. 25): the transcript version the clerk
//! finalised, as a canonical JSON document with its SHA-256, and the signers' decisions on it.
//!
//! The document travels as its exact bytes (a string inside the signed file), so nothing is
//! ever re-serialised before hashing: one changed character changes the hash. Each decision
//! (signed, or refused with a reason) is an Ed25519 signature by the server over the document
//! hash, the signer's identity and role, the decision and its time; the server signs for the
//! participant it authenticated. Anyone holding the server's public keys verifies the file
//! offline.
//!
//! Pure: the caller signs and supplies public keys; this module builds and checks.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub mod agreement;

/// The document's format name (a later format gets a new name).
pub const DOCUMENT_FORMAT: &str = "gavel-transcript-v1";
/// The signed file's format name.
pub const FILE_FORMAT: &str = "gavel-signed-transcript-v1";

/// A document people sign or refuse with the same machinery: the finalised transcript, or a
/// mediation agreement. Each kind has its own format names and its own domain tags in what the
/// server signs, so a decision on one kind of document can never pass for a decision on another.
pub trait Signable: Serialize + DeserializeOwned {
    /// The document's format name.
    const DOCUMENT_FORMAT: &'static str;
    /// The signed file's format name.
    const FILE_FORMAT: &'static str;
    /// What a signed file is called in messages ("signed transcript file").
    const WHAT: &'static str;
    /// The domain tag of a decision's signed bytes.
    const DECISION_TAG: &'static [u8];
    /// The domain tag of the completion seal's signed bytes.
    const COMPLETION_TAG: &'static [u8];
    /// The format the document says it is in.
    fn format(&self) -> &str;
    /// The hearing it belongs to (bound into every signature).
    fn hearing_id(&self) -> &str;
    /// Who must sign or refuse, in order.
    fn signers(&self) -> &[Person];
}

impl Signable for Document {
    const DOCUMENT_FORMAT: &'static str = DOCUMENT_FORMAT;
    const FILE_FORMAT: &'static str = FILE_FORMAT;
    const WHAT: &'static str = "signed transcript file";
    const DECISION_TAG: &'static [u8] = b"gavel-transcript-signature-v1\0";
    const COMPLETION_TAG: &'static [u8] = b"gavel-transcript-complete-v1\0";
    fn format(&self) -> &str {
        &self.format
    }
    fn hearing_id(&self) -> &str {
        &self.hearing.id
    }
    fn signers(&self) -> &[Person] {
        &self.signers
    }
}

/// A person named in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Their participant id.
    pub participant_id: String,
    /// Their name as the court registered it.
    pub name: String,
    /// Their role in the hearing.
    pub role: String,
}

/// The hearing the record is of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HearingInfo {
    /// Hearing id.
    pub id: String,
    /// Its kind (trial, pre_trial, mediation).
    pub kind: String,
    /// Its title.
    pub title: String,
    /// The court's case number.
    pub case_number: String,
    /// The court.
    pub court: String,
}

/// One line: what one person said, from their own audio track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// The line's id in the live transcript.
    pub id: String,
    /// Who spoke.
    pub speaker: Person,
    /// Start on the hearing clock, Unix ms.
    pub start_ms: i64,
    /// End, Unix ms.
    pub end_ms: i64,
    /// The words, as finalised.
    pub text: String,
    /// Whether the clerk corrected the words the model heard (the versions are kept).
    pub edited: bool,
    /// Why the speech was not transcribed live, for a gap.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gap: Option<String>,
}

/// The finalised transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// [`DOCUMENT_FORMAT`].
    pub format: String,
    /// The hearing.
    pub hearing: HearingInfo,
    /// The transcript version finalised (0 is the live transcript as heard).
    pub revision: u64,
    /// When, Unix ms.
    pub finalised_at_ms: i64,
    /// By whom (the clerk).
    pub finalised_by: Person,
    /// The lines, in the order spoken.
    pub lines: Vec<Line>,
    /// Who must sign (or refuse).
    pub signers: Vec<Person>,
}

impl Document {
    /// The canonical bytes: compact JSON in field order (the struct fixes it).
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a document always serialises")
    }
}

/// SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// A signer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Signed: agrees the record is what was said.
    Signed,
    /// Refused to sign, with a reason (the refusal is part of the record).
    Refused,
}

impl Decision {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Signed => "signed",
            Decision::Refused => "refused",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Decision::Signed, Decision::Refused]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// One signer's signed decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Who.
    pub signer: Person,
    /// What they decided.
    pub decision: Decision,
    /// Why they refused (absent when signed).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Which server key signed.
    pub kid: String,
    /// Ed25519 over [`message`], hex.
    pub signature: String,
}

/// The bytes signed for a decision on a transcript (see [`message_for`]).
pub fn message(
    document_sha256: &str,
    hearing: &str,
    signer: &Person,
    decision: Decision,
    reason: Option<&str>,
    at_ms: i64,
) -> Vec<u8> {
    message_for::<Document>(document_sha256, hearing, signer, decision, reason, at_ms)
}

/// The bytes signed for a decision on a `D`: its domain tag, then every bound field,
/// length-prefixed.
pub fn message_for<D: Signable>(
    document_sha256: &str,
    hearing: &str,
    signer: &Person,
    decision: Decision,
    reason: Option<&str>,
    at_ms: i64,
) -> Vec<u8> {
    let mut m = D::DECISION_TAG.to_vec();
    m.extend(crate::chain::encode_fields(&[
        document_sha256.as_bytes(),
        hearing.as_bytes(),
        signer.participant_id.as_bytes(),
        signer.name.as_bytes(),
        signer.role.as_bytes(),
        decision.as_str().as_bytes(),
        reason.unwrap_or("").as_bytes(),
        &at_ms.to_be_bytes(),
    ]));
    m
}

/// The server's seal once every signer has decided: it binds the document hash to exactly
/// the decisions made, so none (a refusal, say) can be left out of the file unnoticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Completion {
    /// When the last signer decided, Unix ms.
    pub at_ms: i64,
    /// Which server key signed.
    pub kid: String,
    /// Ed25519 over [`completion_message`], hex.
    pub signature: String,
}

/// The bytes sealed when a transcript is complete (see [`completion_message_for`]).
pub fn completion_message(
    document_sha256: &str,
    hearing: &str,
    at_ms: i64,
    decisions: &[&Signature],
) -> Vec<u8> {
    completion_message_for::<Document>(document_sha256, hearing, at_ms, decisions)
}

/// The bytes sealed at completion of a `D`: its domain tag, the document hash, the hearing
/// and time, then each signer's id, decision and signature in the document's signer order.
pub fn completion_message_for<D: Signable>(
    document_sha256: &str,
    hearing: &str,
    at_ms: i64,
    decisions: &[&Signature],
) -> Vec<u8> {
    let mut m = D::COMPLETION_TAG.to_vec();
    let at = at_ms.to_be_bytes();
    let mut fields: Vec<&[u8]> = vec![document_sha256.as_bytes(), hearing.as_bytes(), &at];
    for s in decisions {
        fields.push(s.signer.participant_id.as_bytes());
        fields.push(s.decision.as_str().as_bytes());
        fields.push(s.signature.as_bytes());
    }
    m.extend(crate::chain::encode_fields(&fields));
    m
}

/// `signatures` in the order of `signers`, when every signer has exactly one.
pub fn in_signer_order<'a>(
    signers: &[Person],
    signatures: &'a [Signature],
) -> Option<Vec<&'a Signature>> {
    signers
        .iter()
        .map(|p| {
            let mut of = signatures.iter().filter(|s| s.signer == *p);
            match (of.next(), of.next()) {
                (Some(s), None) => Some(s),
                _ => None,
            }
        })
        .collect()
}

/// The signed file: the document's exact bytes, its hash and the decisions on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedFile {
    /// [`FILE_FORMAT`].
    pub format: String,
    /// The canonical document, verbatim.
    pub document: String,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// The decisions so far.
    pub signatures: Vec<Signature>,
    /// The seal over all decisions, once everyone has decided.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub completion: Option<Completion>,
}

/// Why a signed file does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// Not a signed file of the kind asked for (the kind, why).
    #[error("not a {0}: {1}")]
    Unreadable(&'static str, String),
    /// The document's bytes do not hash to the recorded SHA-256.
    #[error("the document was altered: its SHA-256 is {actual}, the record says {recorded}")]
    DocumentAltered {
        /// What it hashes to now.
        actual: String,
        /// What the file says.
        recorded: String,
    },
    /// A signature names a key the verifier does not hold.
    #[error("the signature of {signer} was made with an unknown key ({kid})")]
    UnknownKey {
        /// Who.
        signer: String,
        /// The key id.
        kid: String,
    },
    /// A signature does not verify (it, or what it binds, was altered).
    #[error("the signature of {signer} does not verify")]
    BadSignature {
        /// Who.
        signer: String,
    },
    /// A signature from someone the document does not list as a signer.
    #[error("{signer} signed but is not one of the document's signers")]
    NotASigner {
        /// Who.
        signer: String,
    },
    /// Two decisions by one signer.
    #[error("{signer} decided twice")]
    Duplicate {
        /// Who.
        signer: String,
    },
    /// A refusal without a reason.
    #[error("{signer} refused without a reason")]
    RefusalWithoutReason {
        /// Who.
        signer: String,
    },
    /// The completion seal does not match the decisions in the file (one was removed, added
    /// or changed), or does not verify.
    #[error("the completion seal does not match the decisions in the file")]
    CompletionBroken,
}

/// A verified file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<D = Document> {
    /// The document.
    pub document: D,
    /// Its hash.
    pub sha256: String,
    /// Signers who signed.
    pub signed: Vec<Person>,
    /// Signers who refused, with their reasons.
    pub refused: Vec<(Person, String)>,
    /// Signers yet to decide.
    pub awaiting: Vec<Person>,
    /// Whether the server sealed the record as complete (every signer decided).
    pub complete: bool,
}

fn who(p: &Person) -> String {
    format!("{} ({}, {})", p.name, p.role, p.participant_id)
}

/// Checks a signed transcript file (see [`verify_as`]).
pub fn verify(
    file: &str,
    public_key: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<Verified, Vec<Failure>> {
    verify_as::<Document>(file, public_key)
}

/// Checks a signed file of a `D` (its text): the document against its hash, then every
/// signature against `public_key` (raw Ed25519 key by key id). Lists every failure found.
pub fn verify_as<D: Signable>(
    file: &str,
    public_key: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<Verified<D>, Vec<Failure>> {
    let file: SignedFile = serde_json::from_str(file)
        .map_err(|e| vec![Failure::Unreadable(D::WHAT, e.to_string())])?;
    if file.format != D::FILE_FORMAT {
        return Err(vec![Failure::Unreadable(
            D::WHAT,
            format!("unknown format {:?}", file.format),
        )]);
    }
    let actual = sha256_hex(file.document.as_bytes());
    let mut failures = Vec::new();
    if actual != file.sha256 {
        failures.push(Failure::DocumentAltered {
            actual,
            recorded: file.sha256.clone(),
        });
    }
    let document: D = match serde_json::from_str::<D>(&file.document) {
        Ok(d) if d.format() == D::DOCUMENT_FORMAT => d,
        Ok(d) => {
            failures.push(Failure::Unreadable(
                D::WHAT,
                format!("unknown document format {:?}", d.format()),
            ));
            return Err(failures);
        }
        Err(e) => {
            failures.push(Failure::Unreadable(D::WHAT, format!("the document: {e}")));
            return Err(failures);
        }
    };
    let mut decided: Vec<&Person> = Vec::new();
    let (mut signed, mut refused) = (Vec::new(), Vec::new());
    for s in &file.signatures {
        let signer = who(&s.signer);
        let Some(key) = public_key(&s.kid) else {
            failures.push(Failure::UnknownKey {
                signer,
                kid: s.kid.clone(),
            });
            continue;
        };
        let msg = message_for::<D>(
            &file.sha256,
            document.hearing_id(),
            &s.signer,
            s.decision,
            s.reason.as_deref(),
            s.at_ms,
        );
        let ok = hex::decode(&s.signature).is_ok_and(|sig| {
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
                .verify(&msg, &sig)
                .is_ok()
        });
        if !ok {
            failures.push(Failure::BadSignature { signer });
            continue;
        }
        if !document.signers().contains(&s.signer) {
            failures.push(Failure::NotASigner { signer });
            continue;
        }
        if decided.contains(&&s.signer) {
            failures.push(Failure::Duplicate { signer });
            continue;
        }
        decided.push(&s.signer);
        match (s.decision, s.reason.as_deref().map(str::trim)) {
            (Decision::Signed, _) => signed.push(s.signer.clone()),
            (Decision::Refused, Some(r)) if !r.is_empty() => {
                refused.push((s.signer.clone(), r.to_owned()));
            }
            (Decision::Refused, _) => failures.push(Failure::RefusalWithoutReason { signer }),
        }
    }
    let verifies = |kid: &str, msg: &[u8], sig: &str| {
        public_key(kid).is_some_and(|key| {
            hex::decode(sig).is_ok_and(|sig| {
                ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
                    .verify(msg, &sig)
                    .is_ok()
            })
        })
    };
    if let Some(c) = &file.completion {
        let sealed = in_signer_order(document.signers(), &file.signatures).is_some_and(|all| {
            all.len() == file.signatures.len()
                && verifies(
                    &c.kid,
                    &completion_message_for::<D>(
                        &file.sha256,
                        document.hearing_id(),
                        c.at_ms,
                        &all,
                    ),
                    &c.signature,
                )
        });
        if !sealed {
            failures.push(Failure::CompletionBroken);
        }
    }
    if !failures.is_empty() {
        return Err(failures);
    }
    let awaiting = document
        .signers()
        .iter()
        .filter(|p| !decided.contains(p))
        .cloned()
        .collect();
    Ok(Verified {
        document,
        sha256: file.sha256,
        signed,
        refused,
        awaiting,
        complete: file.completion.is_some(),
    })
}

#[cfg(test)]
mod tests;
