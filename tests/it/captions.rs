//! Live captions: a participant (a real `webrtc` client) says court sentences (espeak-ng
//! speech as Opus, made by the set-up) into a live hearing; the real model transcribes them
//! and captions attributed to that participant reach those in the hearing within seconds of
//! each utterance's end, are stored with the speaker's role, and never reach the waiting area.

use std::time::Duration;

use gavel_signaling::{ClientMessage, MediaKind, ServerMessage};

use crate::media_peer::peer;
use crate::support::{Backend, TestApp};

fn speech() -> Vec<bytes::Bytes> {
    let dir = gavel::clip::default_dir()
        .parent()
        .unwrap()
        .join("speech/opus");
    gavel::clip::load_audio(&dir).expect("the test speech (make setup runs scripts/make-speech.sh)")
}

/// A server with live captions by the real model (imported into the returned directory), one
/// worker thread, and a lobby or none.
pub(crate) async fn captioned(lobby: bool) -> (TestApp, tempfile::TempDir) {
    let models = tempfile::tempdir().unwrap();
    let model = crate::asr::tiny_en(models.path());
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        if !lobby {
            c.signaling.lobby_kinds.clear();
        }
        c.transcription.live = true;
        c.transcription.model = model;
        c.transcription.threads = 1;
    })
    .await;
    (app, models)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_in_a_hearing_becomes_captions_for_those_who_hear_it() {
    let (app, _models) = captioned(true).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    let mut witness = peer(&app, &hearing, "witness").await;
    judge
        .send(ClientMessage::Admit {
            req: None,
            participant: party.id.clone(),
        })
        .await;
    party.publish_clip_saying(Some(speech())).await;
    judge.wait_received(&party.id, MediaKind::Audio, 10).await;

    // The three sentences, each captioned within seconds of its end. However the captions
    // fall (a sentence may come in two), they are read until they hold as many words as were
    // said, less two that the model may drop.
    let said = crate::asr::sentences()[..3].join(" ");
    let said_words = said.split_whitespace().count();
    let mut heard: Vec<String> = Vec::new();
    let mut latencies = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    while heard
        .iter()
        .map(|t| t.split_whitespace().count())
        .sum::<usize>()
        + 2
        < said_words
    {
        let m = tokio::time::timeout_at(deadline, judge.events.recv())
            .await
            .unwrap_or_else(|_| panic!("the three sentences captioned in time: {heard:?}"))
            .expect("connection open");
        if let ServerMessage::Caption {
            participant,
            text,
            end_ms,
            unofficial,
            ..
        } = m
        {
            assert_eq!(
                participant, party.id,
                "attributed to the speaker's own track"
            );
            assert!(unofficial);
            latencies.push(gavel::clock::now_ms() - end_ms.unwrap());
            heard.push(text);
        }
    }
    // The 20 % bar is the offline test's (`asr.rs`); live speech also passes through Opus at
    // 32 kbit/s and is cut where the pauses fall, so tiny.en stumbles a little more (it hears
    // "The court" as "The Lord" here: about 22 % on these three sentences).
    let wer = gavel::transcribe::wer::wer(&said, &heard.join(" "));
    assert!(
        wer <= 0.35,
        "WER {wer:.2}: said {said:?}, captioned {heard:?}"
    );
    assert!(
        latencies.iter().all(|l| *l < 12_000),
        "captions within seconds of each utterance's end: {latencies:?} ms ({heard:?})"
    );

    // Stored with who spoke and in what role.
    let mut db = app.db().await;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT participant_id, role FROM transcript_segments WHERE hearing_id = $1 AND gap IS NULL",
    )
    .bind(&hearing)
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(rows.len() >= heard.len() && rows.iter().all(|(p, r)| *p == party.id && r == "party"));
    // The platform (and the clerk, the judge) read it through the API; a party may not.
    let t = app
        .get_ok(&format!("/api/v1/hearings/{hearing}/transcript"))
        .await;
    let lines = t["lines"].as_array().unwrap();
    assert!(lines.len() >= heard.len(), "{t}");
    assert_eq!(lines[1]["text"], heard[1].as_str());
    assert_eq!(lines[1]["role"], "party");
    let party_token = app.join_token(&hearing, &party.id).await;
    let res = app
        .client
        .get(app.url(&format!("/api/v1/hearings/{hearing}/transcript")))
        .bearer_auth(party_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // The witness waiting outside was never shown a caption: everything sent to them before
    // the answer to a ping has arrived, and none of it is a caption.
    witness.send(ClientMessage::Ping { id: 77 }).await;
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), witness.events.recv())
            .await
            .expect("the pong in time")
            .expect("connection open");
        assert!(
            !matches!(m, ServerMessage::Caption { .. }),
            "a waiting witness receives no captions"
        );
        if matches!(m, ServerMessage::Pong { id: 77 }) {
            break;
        }
    }
    eprintln!("caption latencies (ms after each utterance's end): {latencies:?}; heard {heard:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_model_turns_captions_off_tells_the_clerk_and_the_hearing_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("ggml-corrupt.bin");
    let model = std::fs::read(crate::asr::tiny_en(dir.path())).unwrap();
    std::fs::write(&corrupt, &model[..model.len() / 3]).unwrap();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.signaling.lobby_kinds.clear();
        c.transcription.live = true;
        c.transcription.model = corrupt;
    })
    .await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut clerk = peer(&app, &hearing, "clerk").await;
    let mut party = peer(&app, &hearing, "party").await;
    clerk
        .expect(
            |m| matches!(m, ServerMessage::Notice { code, .. } if code == "captions_unavailable"),
        )
        .await;
    // The hearing runs on: media flows.
    party.publish_clip().await;
    clerk.wait_received(&party.id, MediaKind::Audio, 50).await;
    let mut db = app.db().await;
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM faults WHERE component = 'transcription'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert!(detail.contains("truncated"), "{detail}");
    // The party is not bothered with it.
    party.send(ClientMessage::Ping { id: 5 }).await;
    loop {
        let m = party.events.recv().await.unwrap();
        assert!(
            !matches!(&m, ServerMessage::Notice { code, .. } if code == "captions_unavailable"),
            "only the record keepers are told"
        );
        if matches!(m, ServerMessage::Pong { id: 5 }) {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beeps_and_music_in_a_hearing_become_no_captions_and_speech_after_them_does() {
    let (app, _models) = captioned(false).await;
    let (_, hearing) = app.docket_and_hearing().await;
    let mut judge = peer(&app, &hearing, "judge").await;
    let mut party = peer(&app, &hearing, "party").await;
    // 8 s of beeps, 8 s of music (`scripts/make-noise.sh`: beeps, pink noise, music, 12 s
    // each, 20 ms packets), then the first sentence said.
    let noise_dir = gavel::clip::default_dir()
        .parent()
        .unwrap()
        .join("noise/opus");
    let noise = gavel::clip::load_audio(&noise_dir)
        .expect("the test noise (make setup runs scripts/make-noise.sh)");
    let mut said: Vec<bytes::Bytes> = noise[..400].to_vec();
    said.extend_from_slice(&noise[1200..1600]);
    said.extend(speech());
    party.publish_clip_saying(Some(said)).await;
    judge.wait_received(&party.id, MediaKind::Audio, 10).await;

    // The first caption is the sentence: nothing before it, however long the noise. What is
    // captioned is asserted here, not how fast (the ASR bench measures that): on a machine
    // loaded by the whole suite and two busy loops, the model working through 16 s of noise
    // with one thread once took longer than a minute, so the wait is generous.
    let sentence = crate::asr::sentences()[0].clone();
    let first = tokio::time::timeout(Duration::from_secs(150), async {
        loop {
            if let ServerMessage::Caption { text, start_ms, .. } =
                judge.events.recv().await.expect("connection open")
            {
                return (text, start_ms.unwrap());
            }
        }
    })
    .await
    .expect("the sentence after the noise is captioned");
    // Recognisably the sentence, however imperfectly heard ("The Lord is our in-sashan": a
    // third of its letters wrong; on a loaded machine the audio reaching the model is not
    // always clean), and not what models make of noise ("Thank you.", "(music)": over 80 %).
    assert!(
        character_error_rate(&sentence, &first.0) <= 0.5,
        "the first caption is the sentence said after the noise ({sentence:?}), not noise: {first:?}"
    );
    // Nothing from the noise was stored either.
    let mut db = app.db().await;
    let earlier: Vec<String> = sqlx::query_scalar(
        "SELECT text FROM transcript_segments WHERE hearing_id = $1 AND gap IS NULL AND start_ms < $2",
    )
    .bind(&hearing)
    .bind(first.1)
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(earlier.is_empty(), "noise stored as lines: {earlier:?}");
}

/// Edits per reference character, over the words as the WER counts them (case, punctuation
/// and numbers normalised).
fn character_error_rate(reference: &str, heard: &str) -> f64 {
    use gavel::transcribe::wer::{edits, words};
    let chars =
        |t: &str| -> Vec<String> { words(t).join(" ").chars().map(|c| c.to_string()).collect() };
    let r = chars(reference);
    edits(&r, &chars(heard)) as f64 / r.len().max(1) as f64
}

/// Waits (up to `secs`) until `cond` holds; the model's loading and release happen on the
/// captioner's own threads, with nothing to await.
fn eventually(secs: u64, what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} within {secs} s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_model_is_in_memory_only_while_a_captioned_hearing_needs_it() {
    use gavel::transcribe::live::{CaptionEvent, Captioner};
    let models = tempfile::tempdir().unwrap();
    let config = gavel::config::TranscriptionConfig {
        model: crate::asr::tiny_en(models.path()),
        threads: 1,
        unload_after_secs: 1,
        ..Default::default()
    };
    let captioner = Captioner::start(&config);
    assert!(captioner.why_unavailable().is_none());
    assert!(
        !captioner.model_loaded(),
        "nothing loaded before a hearing needs it"
    );

    // A captioned hearing opens: the model loads before anyone speaks ...
    let hearing = captioner.demand().expect("available");
    eventually(60, "the model loaded", || captioner.model_loaded());
    // ... and is let go a while after the hearing closed.
    drop(hearing);
    eventually(60, "the model released", || !captioner.model_loaded());
    assert_eq!(captioner.model_loads(), 1);

    // The next hearing loads it again, and speech said at once (while it loads) is captioned.
    let listener = gavel_media_pipelines::listener::Listener::start(111).unwrap();
    let tap = listener.tap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let listening = captioner
        .listen_to(listener, gavel::domain::ParticipantId::new("party"), tx)
        .unwrap();
    // The first sentence and the pause after it (1.5 s of silence, the sentence, 1.5 s).
    let speech: Vec<bytes::Bytes> = speech().into_iter().take(400).collect();
    let start = std::time::Instant::now();
    for (i, p) in speech.iter().enumerate() {
        // Paced as spoken: 20 ms a packet.
        let due = start + Duration::from_millis(20 * i as u64);
        std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
        let mut rtp = vec![0x80, 111];
        rtp.extend_from_slice(&u16::try_from(i).unwrap().to_be_bytes());
        rtp.extend_from_slice(&(u32::try_from(i).unwrap() * 960).to_be_bytes());
        rtp.extend_from_slice(&7u32.to_be_bytes());
        rtp.extend_from_slice(p);
        tap.push(rtp);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let caption = match rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(120), rx.recv()).await })
        .expect("a caption within 120 s")
        .expect("a caption before the channel closes")
    {
        CaptionEvent::Caption { text, .. } => text,
        gap => panic!("the sentence was not transcribed: {gap:?}"),
    };
    let said = &crate::asr::sentences()[0];
    assert!(
        gavel::transcribe::wer::wer(said, &caption) <= 0.5,
        "{said:?} captioned as {caption:?}"
    );
    assert!(captioner.model_loaded());
    assert_eq!(captioner.model_loads(), 2);
    drop(listening);
    eventually(60, "the model released again", || !captioner.model_loaded());
}
