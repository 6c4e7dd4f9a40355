//! The signed written record: verification catches every change.

use super::*;
use ring::signature::{Ed25519KeyPair, KeyPair};

fn key() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

fn person(id: &str, role: &str) -> Person {
    Person {
        participant_id: id.into(),
        name: format!("Name {id}"),
        role: role.into(),
    }
}

fn document() -> Document {
    Document {
        format: DOCUMENT_FORMAT.into(),
        hearing: HearingInfo {
            id: "h1".into(),
            kind: "trial".into(),
            title: "Trial".into(),
            case_number: "(2026) Civ 1".into(),
            court: "Court".into(),
        },
        revision: 2,
        finalised_at_ms: 1_000,
        finalised_by: person("c", "clerk"),
        lines: vec![Line {
            id: "l1".into(),
            speaker: person("p", "party"),
            start_ms: 10,
            end_ms: 20,
            text: "I was at home that evening.".into(),
            edited: true,
            gap: None,
        }],
        signers: vec![person("c", "clerk"), person("p", "party")],
    }
}

fn sign(
    k: &ServerKey,
    doc: &str,
    signer: Person,
    decision: Decision,
    reason: Option<&str>,
) -> Signature {
    let sha = sha256_hex(doc.as_bytes());
    let msg = message(&sha, "h1", &signer, decision, reason, 5_000);
    Signature {
        signer,
        decision,
        reason: reason.map(str::to_owned),
        at_ms: 5_000,
        kid: "k1".into(),
        signature: hex::encode(k.0.sign(&msg).as_ref()),
    }
}

struct ServerKey(Ed25519KeyPair);

fn file(k: &ServerKey) -> String {
    let doc = String::from_utf8(document().canonical()).unwrap();
    let signatures = vec![
        sign(k, &doc, person("c", "clerk"), Decision::Signed, None),
        sign(
            k,
            &doc,
            person("p", "party"),
            Decision::Refused,
            Some("line 1 is wrong"),
        ),
    ];
    serde_json::to_string_pretty(&SignedFile {
        format: FILE_FORMAT.into(),
        sha256: sha256_hex(doc.as_bytes()),
        document: doc,
        signatures,
        completion: None,
    })
    .unwrap()
}

#[test]
fn a_signed_file_verifies_and_one_changed_character_anywhere_fails_it() {
    let k = ServerKey(key());
    let pk = k.0.public_key().as_ref().to_vec();
    let keys = |kid: &str| (kid == "k1").then(|| pk.clone());
    let text = file(&k);
    let v = verify(&text, keys).unwrap();
    assert_eq!(v.signed, vec![person("c", "clerk")]);
    assert_eq!(
        v.refused,
        vec![(person("p", "party"), "line 1 is wrong".into())]
    );
    assert!(v.awaiting.is_empty());

    // One character of the document's words.
    let altered = text.replace("at home", "at hone");
    assert!(matches!(
        verify(&altered, keys).unwrap_err()[..],
        [Failure::DocumentAltered { .. }, ..]
    ));
    // The recorded hash made to match the altered document: the signatures no longer do.
    let f: SignedFile = serde_json::from_str(&altered).unwrap();
    let rehashed = serde_json::to_string(&SignedFile {
        sha256: sha256_hex(f.document.as_bytes()),
        ..f
    })
    .unwrap();
    let e = verify(&rehashed, keys).unwrap_err();
    assert!(
        e.iter().all(|f| matches!(f, Failure::BadSignature { .. })) && e.len() == 2,
        "{e:?}"
    );
    // One character of a signature, or of what it binds (the reason).
    let mut f: SignedFile = serde_json::from_str(&text).unwrap();
    let s = &mut f.signatures[0].signature;
    let flipped = if s.starts_with('0') { "1" } else { "0" };
    s.replace_range(0..1, flipped);
    let e = verify(&serde_json::to_string(&f).unwrap(), keys).unwrap_err();
    assert!(matches!(e[..], [Failure::BadSignature { .. }]), "{e:?}");
    let e = verify(&text.replace("line 1 is wrong", "line 1 is right"), keys).unwrap_err();
    assert!(matches!(e[..], [Failure::BadSignature { .. }]), "{e:?}");
    // A key the verifier does not hold proves nothing.
    let e = verify(&text, |_| None).unwrap_err();
    assert!(matches!(
        e[..],
        [Failure::UnknownKey { .. }, Failure::UnknownKey { .. }]
    ));
}

#[test]
fn a_completed_record_loses_no_decision_unnoticed() {
    let k = ServerKey(key());
    let pk = k.0.public_key().as_ref().to_vec();
    let keys = |_: &str| Some(pk.clone());
    let mut f: SignedFile = serde_json::from_str(&file(&k)).unwrap();
    let doc: Document = serde_json::from_str(&f.document).unwrap();
    let all = in_signer_order(&doc.signers, &f.signatures).unwrap();
    let msg = completion_message(&f.sha256, "h1", 6_000, &all);
    f.completion = Some(Completion {
        at_ms: 6_000,
        kid: "k1".into(),
        signature: hex::encode(k.0.sign(&msg).as_ref()),
    });
    let v = verify(&serde_json::to_string(&f).unwrap(), keys).unwrap();
    assert!(v.complete && v.awaiting.is_empty());
    // The refusal left out of the sealed file: caught.
    let mut cut = f.clone();
    cut.signatures.pop();
    let e = verify(&serde_json::to_string(&cut).unwrap(), keys).unwrap_err();
    assert_eq!(e, [Failure::CompletionBroken]);
    // ... and with the seal gone too, the file no longer claims to be complete.
    cut.completion = None;
    let v = verify(&serde_json::to_string(&cut).unwrap(), keys).unwrap();
    assert!(!v.complete && v.awaiting == [person("p", "party")]);
}

#[test]
fn outsiders_duplicates_and_silent_refusals_are_caught_and_missing_signers_listed() {
    let k = ServerKey(key());
    let pk = k.0.public_key().as_ref().to_vec();
    let keys = |_: &str| Some(pk.clone());
    let doc = String::from_utf8(document().canonical()).unwrap();
    let mk = |signatures| {
        serde_json::to_string(&SignedFile {
            format: FILE_FORMAT.into(),
            sha256: sha256_hex(doc.as_bytes()),
            document: doc.clone(),
            signatures,
            completion: None,
        })
        .unwrap()
    };
    let clerk = sign(&k, &doc, person("c", "clerk"), Decision::Signed, None);
    let v = verify(&mk(vec![clerk.clone()]), keys).unwrap();
    assert_eq!(v.awaiting, vec![person("p", "party")]);
    let outsider = sign(&k, &doc, person("x", "party"), Decision::Signed, None);
    let e = verify(&mk(vec![clerk.clone(), outsider]), keys).unwrap_err();
    assert!(matches!(e[..], [Failure::NotASigner { .. }]));
    let e = verify(&mk(vec![clerk.clone(), clerk.clone()]), keys).unwrap_err();
    assert!(matches!(e[..], [Failure::Duplicate { .. }]));
    let silent = sign(&k, &doc, person("p", "party"), Decision::Refused, Some(" "));
    let e = verify(&mk(vec![clerk, silent]), keys).unwrap_err();
    assert!(matches!(e[..], [Failure::RefusalWithoutReason { .. }]));
    assert!(matches!(
        verify("{}", keys).unwrap_err()[..],
        [Failure::Unreadable(..)]
    ));
}
