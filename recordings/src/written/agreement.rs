//! The mediation agreement (Art. 16): the text the mediator drafted at the end of a
//! mediation, which each side signs or refuses with the same machinery as the transcript
//! (a server signature per decision, the completion seal, offline verification), under its
//! own format names and domain tags.

use serde::{Deserialize, Serialize};

use super::{HearingInfo, Person, Signable};

/// The agreement's format name (a later format gets a new name).
pub const AGREEMENT_FORMAT: &str = "gavel-mediation-agreement-v1";
/// The signed agreement file's format name.
pub const AGREEMENT_FILE_FORMAT: &str = "gavel-signed-mediation-agreement-v1";

/// One drafted version of a mediation agreement, exactly as the sides are asked to sign it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    /// [`AGREEMENT_FORMAT`].
    pub format: String,
    /// The mediation.
    pub hearing: HearingInfo,
    /// 1 for the first draft; a new draft (after a refusal, or before everyone decided)
    /// gets the next number and supersedes the earlier one unless it was complete.
    pub version: u64,
    /// When it was drafted, Unix ms.
    pub drafted_at_ms: i64,
    /// By whom (the mediator).
    pub drafted_by: Person,
    /// The agreed terms, as the mediator wrote them (paragraphs separated by newlines).
    pub text: String,
    /// Who must sign (or refuse): the sides who took part.
    pub signers: Vec<Person>,
}

impl Agreement {
    /// The canonical bytes: compact JSON in field order (the struct fixes it).
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an agreement always serialises")
    }
}

impl Signable for Agreement {
    const DOCUMENT_FORMAT: &'static str = AGREEMENT_FORMAT;
    const FILE_FORMAT: &'static str = AGREEMENT_FILE_FORMAT;
    const WHAT: &'static str = "signed mediation agreement file";
    const DECISION_TAG: &'static [u8] = b"gavel-agreement-signature-v1\0";
    const COMPLETION_TAG: &'static [u8] = b"gavel-agreement-complete-v1\0";
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::written::{
        Completion, Decision, Failure, Signature, SignedFile, completion_message_for,
        in_signer_order, message, message_for, sha256_hex, verify, verify_as,
    };
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn person(id: &str, role: &str) -> Person {
        Person {
            participant_id: id.into(),
            name: format!("Name {id}"),
            role: role.into(),
        }
    }

    fn agreement() -> Agreement {
        Agreement {
            format: AGREEMENT_FORMAT.into(),
            hearing: HearingInfo {
                id: "h1".into(),
                kind: "mediation".into(),
                title: "Mediation".into(),
                case_number: "(2026) Med 7".into(),
                court: "Court".into(),
            },
            version: 1,
            drafted_at_ms: 1_000,
            drafted_by: person("m", "mediator"),
            text: "1. The respondent pays 12,000 yuan by 31 January.\n2. The claim is withdrawn."
                .into(),
            signers: vec![person("a", "party"), person("b", "party")],
        }
    }

    /// Makes a decision's signed bytes.
    type Tagged = fn(&str, &Person, Decision, Option<&str>) -> Vec<u8>;

    fn proper(sha: &str, p: &Person, d: Decision, r: Option<&str>) -> Vec<u8> {
        message_for::<Agreement>(sha, "h1", p, d, r, 5_000)
    }

    fn transcript_tags(sha: &str, p: &Person, d: Decision, r: Option<&str>) -> Vec<u8> {
        message(sha, "h1", p, d, r, 5_000)
    }

    /// A signed, sealed agreement file: `a` signs, `b` decides as told; `tagged` makes each
    /// signature's bytes (transcript tags stand in for a forger reusing a transcript decision).
    fn file(k: &Ed25519KeyPair, b: (Decision, Option<&str>), tagged: Tagged) -> String {
        let doc = String::from_utf8(agreement().canonical()).unwrap();
        let sha = sha256_hex(doc.as_bytes());
        let sig = |p: Person, d: Decision, r: Option<&str>| Signature {
            signature: hex::encode(k.sign(&tagged(&sha, &p, d, r)).as_ref()),
            signer: p,
            decision: d,
            reason: r.map(str::to_owned),
            at_ms: 5_000,
            kid: "k1".into(),
        };
        let signatures = vec![
            sig(person("a", "party"), Decision::Signed, None),
            sig(person("b", "party"), b.0, b.1),
        ];
        let all = in_signer_order(&agreement().signers, &signatures).unwrap();
        let seal = completion_message_for::<Agreement>(&sha, "h1", 6_000, &all);
        let completion = Some(Completion {
            at_ms: 6_000,
            kid: "k1".into(),
            signature: hex::encode(k.sign(&seal).as_ref()),
        });
        serde_json::to_string(&SignedFile {
            format: AGREEMENT_FILE_FORMAT.into(),
            document: doc,
            sha256: sha,
            signatures,
            completion,
        })
        .unwrap()
    }

    fn key() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    #[test]
    fn a_signed_agreement_verifies_and_a_changed_term_fails_it() {
        let k = key();
        let pk = k.public_key().as_ref().to_vec();
        let keys = |_: &str| Some(pk.clone());
        let text = file(&k, (Decision::Signed, None), proper);
        let v = verify_as::<Agreement>(&text, keys).unwrap();
        assert!(v.complete && v.refused.is_empty() && v.signed.len() == 2);
        assert_eq!(v.document.version, 1);
        let altered = text.replace("12,000", "1,000");
        let e = verify_as::<Agreement>(&altered, keys).unwrap_err();
        assert!(matches!(e[0], Failure::DocumentAltered { .. }), "{e:?}");
        // A refusal is kept with its reason, under the seal.
        let refused = file(&k, (Decision::Refused, Some("the sum is too low")), proper);
        let v = verify_as::<Agreement>(&refused, keys).unwrap();
        assert_eq!(v.refused[0].1, "the sum is too low");
    }

    #[test]
    fn an_agreement_is_never_taken_for_a_transcript_nor_signed_with_a_transcripts_tags() {
        let k = key();
        let pk = k.public_key().as_ref().to_vec();
        let keys = |_: &str| Some(pk.clone());
        let text = file(&k, (Decision::Signed, None), proper);
        assert!(matches!(
            verify(&text, keys).unwrap_err()[..],
            [Failure::Unreadable(..)]
        ));
        // The same decisions made with the transcript's domain tag do not verify here.
        let forged = file(&k, (Decision::Signed, None), transcript_tags);
        let e = verify_as::<Agreement>(&forged, keys).unwrap_err();
        assert!(
            e.iter()
                .filter(|f| matches!(f, Failure::BadSignature { .. }))
                .count()
                == 2,
            "{e:?}"
        );
    }
}
