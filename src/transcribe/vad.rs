//! Voice activity detection: cuts one participant's 16 kHz audio into utterances for Whisper.
//! Pure: it is given samples and their time on the hearing clock, and hands back utterances;
//! it never reads a clock, sleeps or does I/O, so it is tested on synthetic audio.
//!
//! Energy per 30 ms frame against a noise floor that follows the quiet stretches. An utterance
//! starts at the first loud frame (with a little audio before it, so the first syllable is
//! whole) and ends after a pause; one that runs on is cut before Whisper's 30 s window, so no
//! speech is ever dropped for being long. A voice detector (earshot, a small neural network
//! in pure Rust) listens alongside: an utterance in which it hears too little voice (beeps,
//! noise, a door) never reaches Whisper, which would otherwise invent words for it.

/// Whisper's sample rate.
pub const RATE: usize = 16_000;
/// Samples per analysis frame (30 ms).
const FRAME: usize = RATE * 30 / 1000;

/// How utterances are cut.
#[derive(Debug, Clone, Copy)]
pub struct VadConfig {
    /// A frame is speech when it is this many dB above the noise floor.
    pub margin_db: f32,
    /// ... and at least this loud (dBFS): silence with a very low floor is not speech.
    pub min_dbfs: f32,
    /// A pause this long ends the utterance (ms).
    pub hangover_ms: usize,
    /// Audio kept from before the first loud frame (ms).
    pub preroll_ms: usize,
    /// Shorter bursts (a cough, a click) are dropped (ms).
    pub min_ms: usize,
    /// Longer speech is cut here and continues in the next utterance (ms); under 30 s.
    pub max_ms: usize,
    /// Audio arriving this far from where the previous audio ended (ms) means the sender
    /// stopped and started again, which ends the utterance. Closer, it is the network's or a
    /// loaded server's jitter: the samples are continuous (lost packets are concealed by the
    /// decoder), so cutting there would split a sentence in two.
    pub max_jitter_ms: usize,
    /// The share of an utterance the voice detector must hear as voice (a 16 ms frame scoring
    /// at least 0.8); 0 turns the detector off. 0.15: court speech (espeak-ng) measures 66 to
    /// 79 % of its frames, Chromium's test beep, 1 kHz beeps and pink noise 0 %.
    pub min_voiced: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            margin_db: 12.0,
            min_dbfs: -45.0,
            hangover_ms: 600,
            preroll_ms: 300,
            min_ms: 250,
            max_ms: 28_000,
            max_jitter_ms: 1_000,
            min_voiced: 0.15,
        }
    }
}

/// A stretch of speech, ready for Whisper.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// Start on the hearing clock (ms).
    pub start_ms: i64,
    /// End on the hearing clock (ms).
    pub end_ms: i64,
    /// The audio, 16 kHz mono.
    pub samples: Vec<f32>,
}

/// Samples per voice-detector frame (16 ms).
const VOICE_FRAME: usize = 256;
/// A voice-detector frame scoring this much is voice.
const VOICED: f32 = 0.8;

/// The voice detector and the samples it has not yet scored.
struct Voice {
    detector: earshot::Detector,
    pending: Vec<f32>,
}

impl std::fmt::Debug for Voice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Voice")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Voice {
    /// Scores `frame` (with what was left over); returns how many of its samples are voice.
    fn voiced(&mut self, frame: &[f32]) -> usize {
        self.pending.extend_from_slice(frame);
        let whole = self.pending.len() / VOICE_FRAME * VOICE_FRAME;
        let mut voiced = 0;
        for chunk in self.pending[..whole].chunks_exact(VOICE_FRAME) {
            if self.detector.predict_f32(chunk) >= VOICED {
                voiced += VOICE_FRAME;
            }
        }
        self.pending.drain(..whole);
        voiced
    }
}

/// One participant's segmenter.
#[derive(Debug)]
pub struct Segmenter {
    config: VadConfig,
    /// The voice detector (none when `min_voiced` is 0).
    voice: Option<Voice>,
    /// Samples of the current utterance the detector heard as voice.
    voiced: usize,
    /// Samples not yet a whole frame.
    pending: Vec<f32>,
    /// Time of `pending[0]` (ms).
    pending_ms: i64,
    /// Recent quiet audio (the pre-roll), oldest first.
    preroll: std::collections::VecDeque<f32>,
    /// The utterance being collected, and its start.
    current: Option<(i64, Vec<f32>)>,
    /// Quiet frames since the last loud one inside the current utterance.
    quiet_frames: usize,
    /// Loud frames in the current utterance.
    loud_frames: usize,
    /// The current utterance continues one cut at the length limit (never dropped as short).
    continued: bool,
    /// Loud frames in a row.
    loud_run: usize,
    /// Noise floor, dBFS.
    floor_db: f32,
}

fn frames(ms: usize) -> usize {
    ms.div_ceil(30)
}

impl Segmenter {
    /// A segmenter with `config`.
    pub fn new(config: VadConfig) -> Self {
        Self {
            voice: (config.min_voiced > 0.0).then(|| Voice {
                detector: earshot::Detector::default(),
                pending: Vec::new(),
            }),
            voiced: 0,
            config,
            pending: Vec::new(),
            pending_ms: 0,
            preroll: std::collections::VecDeque::new(),
            current: None,
            quiet_frames: 0,
            loud_frames: 0,
            continued: false,
            loud_run: 0,
            floor_db: -60.0,
        }
    }

    /// Adds `samples` starting at `at_ms` on the hearing clock; returns the utterances they
    /// complete. A gap in time (the sender stopped) ends the current utterance first; inside
    /// an utterance, smaller differences are jitter and the samples' own count keeps the time.
    pub fn push(&mut self, at_ms: i64, samples: &[f32]) -> Vec<Utterance> {
        let mut out = Vec::new();
        let expected = self.pending_ms + self.held_ms();
        if self.current.is_some()
            && (at_ms - expected).unsigned_abs() > self.config.max_jitter_ms as u64
        {
            out.extend(self.finish());
            self.pending.clear();
        }
        if self.current.is_none() {
            // Between utterances the clock is followed again, so the times never drift.
            self.pending_ms = at_ms - self.held_ms();
        }
        self.pending.extend_from_slice(samples);
        let whole = self.pending.len() / FRAME * FRAME;
        let frames: Vec<f32> = self.pending.drain(..whole).collect();
        for (i, frame) in frames.chunks_exact(FRAME).enumerate() {
            let t = self.pending_ms + (i * 30) as i64;
            out.extend(self.frame(t, frame));
        }
        self.pending_ms += (frames.len() * 1000 / RATE) as i64;
        out
    }

    /// How long the samples not yet a whole frame last (ms).
    fn held_ms(&self) -> i64 {
        (self.pending.len() * 1000 / RATE) as i64
    }

    /// Ends the current utterance now (the participant left, or the hearing ended).
    pub fn flush(&mut self) -> Option<Utterance> {
        self.finish()
    }

    fn frame(&mut self, t: i64, frame: &[f32]) -> Option<Utterance> {
        let energy = frame.iter().map(|s| s * s).sum::<f32>() / frame.len() as f32;
        let db = 10.0 * energy.max(1e-12).log10();
        let loud = db > self.floor_db + self.config.margin_db && db > self.config.min_dbfs;
        // The floor falls at once and rises slowly through quiet frames. Through loud ones it
        // rises only after 10 s without a single quiet frame, which speech never keeps up
        // but steady noise (a fan, an open microphone) does: the noise then becomes the floor.
        self.loud_run = if loud { self.loud_run + 1 } else { 0 };
        self.floor_db = if db < self.floor_db {
            db
        } else if !loud {
            self.floor_db + 0.05 * (db - self.floor_db)
        } else if self.loud_run > frames(10_000) {
            self.floor_db + 0.01 * (db - self.floor_db)
        } else {
            self.floor_db
        };
        let voiced = self.voice.as_mut().map_or(0, |v| v.voiced(frame));
        match &mut self.current {
            None if loud => {
                let pre: Vec<f32> = self.preroll.drain(..).collect();
                let start = t - (pre.len() * 1000 / RATE) as i64;
                let mut samples = pre;
                samples.extend_from_slice(frame);
                self.current = Some((start, samples));
                self.loud_frames = 1;
                self.quiet_frames = 0;
                self.voiced = voiced;
                None
            }
            None => {
                self.preroll.extend(frame);
                let keep = RATE * self.config.preroll_ms / 1000;
                while self.preroll.len() > keep {
                    self.preroll.pop_front();
                }
                None
            }
            Some((_, samples)) => {
                samples.extend_from_slice(frame);
                self.voiced += voiced;
                if loud {
                    self.loud_frames += 1;
                    self.quiet_frames = 0;
                } else {
                    self.quiet_frames += 1;
                }
                let long = samples.len() * 1000 / RATE >= self.config.max_ms;
                let paused = self.quiet_frames >= frames(self.config.hangover_ms);
                if long {
                    let u = self.finish();
                    // Speech goes on: the next utterance starts at once, with no pre-roll.
                    if loud {
                        // This frame went into the piece just cut: the continuation counts
                        // only its own loud frames.
                        self.current = Some((t + 30, Vec::new()));
                        self.loud_frames = 0;
                        self.continued = true;
                    }
                    return u;
                }
                if paused {
                    return self.finish();
                }
                None
            }
        }
    }

    fn finish(&mut self) -> Option<Utterance> {
        let (start, mut samples) = self.current.take()?;
        // Trailing silence beyond a short tail is not speech.
        let tail = FRAME * frames(self.config.hangover_ms).min(self.quiet_frames);
        let keep_tail = FRAME * 5;
        if tail > keep_tail {
            samples.truncate(samples.len() - (tail - keep_tail));
        }
        let loud = std::mem::take(&mut self.loud_frames);
        let continued = std::mem::take(&mut self.continued);
        let voiced = std::mem::take(&mut self.voiced);
        self.quiet_frames = 0;
        // Loud but not voice (a beep, music without singing, noise): never handed to Whisper.
        if self.voice.is_some() && (voiced as f32) < self.config.min_voiced * samples.len() as f32 {
            super::nonspeech::count_dropped();
            return None;
        }
        // Too short to be speech, unless it continues speech cut at the limit; never a piece
        // with nothing loud in it (Whisper invents words on silence).
        if loud == 0 || (loud < frames(self.config.min_ms) && !continued) {
            return None;
        }
        if samples.is_empty() {
            return None;
        }
        let end = start + (samples.len() * 1000 / RATE) as i64;
        Some(Utterance {
            start_ms: start,
            end_ms: end,
            samples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ms` of speech-like sound at `amp` (a 200 Hz tone in 240 ms syllables with 60 ms
    /// between them), or silence (with faint noise) when `amp` is 0.
    fn sound(ms: usize, amp: f32) -> Vec<f32> {
        (0..RATE * ms / 1000)
            .map(|i| {
                let noise = ((i * 7919) % 97) as f32 / 97.0 - 0.5;
                let voiced = (i * 1000 / RATE) % 300 < 240;
                let tone = (i as f32 * 200.0 * std::f32::consts::TAU / RATE as f32).sin();
                let voice = if voiced { amp * tone } else { 0.0 };
                voice + 0.0005 * noise
            })
            .collect()
    }

    /// The energy rules alone: the synthetic tones here are loud, but no voice.
    fn energy_only() -> VadConfig {
        VadConfig {
            min_voiced: 0.0,
            ..VadConfig::default()
        }
    }

    /// Feeds `audio` in 20 ms pieces from `t0`.
    fn feed(seg: &mut Segmenter, t0: i64, audio: &[f32]) -> Vec<Utterance> {
        let mut out = Vec::new();
        for (i, piece) in audio.chunks(320).enumerate() {
            out.extend(seg.push(t0 + (i * 20) as i64, piece));
        }
        out
    }

    /// Feeds `audio` in 20 ms pieces from `t0`, then flushes.
    fn run(seg: &mut Segmenter, t0: i64, audio: &[f32]) -> Vec<Utterance> {
        let mut out = feed(seg, t0, audio);
        out.extend(seg.flush());
        out
    }

    #[test]
    fn speech_between_pauses_becomes_utterances_placed_on_the_hearing_clock() {
        let mut audio = sound(1000, 0.0);
        audio.extend(sound(1500, 0.3));
        audio.extend(sound(1000, 0.0));
        audio.extend(sound(800, 0.3));
        audio.extend(sound(1000, 0.0));
        let u = run(&mut Segmenter::new(energy_only()), 10_000, &audio);
        assert_eq!(
            u.len(),
            2,
            "{:?}",
            u.iter().map(|u| (u.start_ms, u.end_ms)).collect::<Vec<_>>()
        );
        // Starts just before the speech (pre-roll), ends shortly after it.
        assert!(
            (10_680..=11_000).contains(&u[0].start_ms),
            "{}",
            u[0].start_ms
        );
        assert!((12_500..=12_700).contains(&u[0].end_ms), "{}", u[0].end_ms);
        assert!(
            (13_180..=13_500).contains(&u[1].start_ms),
            "{}",
            u[1].start_ms
        );
        assert_eq!(
            u[0].samples.len() as i64,
            (u[0].end_ms - u[0].start_ms) * 16,
            "the samples span the stated time"
        );
    }

    #[test]
    fn jitter_never_splits_a_sentence_but_a_sender_that_stopped_ends_it() {
        // 2 s of speech between pauses, arriving up to 700 ms late in bursts (a loaded server).
        let mut audio = sound(1000, 0.0);
        audio.extend(sound(2000, 0.3));
        audio.extend(sound(1000, 0.0));
        let mut seg = Segmenter::new(energy_only());
        let mut u = Vec::new();
        for (i, piece) in audio.chunks(320).enumerate() {
            let late = [0, 700, 300, 0][(i / 20) % 4];
            u.extend(seg.push(5_000 + (i * 20) as i64 + late, piece));
        }
        u.extend(seg.flush());
        assert_eq!(u.len(), 1, "one sentence, one utterance");
        assert!((2_000..=2_500).contains(&(u[0].end_ms - u[0].start_ms)));
        assert!(
            (5_600..=6_100).contains(&u[0].start_ms),
            "{}",
            u[0].start_ms
        );

        // The sender stops for 2 s in mid-sentence and comes back: two utterances, each
        // placed where its audio was heard.
        let mut seg = Segmenter::new(energy_only());
        let mut u = feed(&mut seg, 0, &[sound(500, 0.0), sound(1000, 0.3)].concat());
        u.extend(run(
            &mut seg,
            3_500,
            &[sound(1000, 0.3), sound(1000, 0.0)].concat(),
        ));
        let spans: Vec<(i64, i64)> = u.iter().map(|x| (x.start_ms, x.end_ms)).collect();
        assert_eq!(spans.len(), 2, "{spans:?}");
        assert!(spans[0].1 <= 1_600 && spans[1].0 >= 3_400, "{spans:?}");
    }

    #[test]
    fn clicks_are_dropped_and_long_speech_is_cut_without_losing_any() {
        let mut audio = sound(1000, 0.0);
        audio.extend(sound(60, 0.5));
        audio.extend(sound(1000, 0.0));
        let u = run(&mut Segmenter::new(energy_only()), 0, &audio);
        assert!(u.is_empty(), "a 60 ms click is not speech");

        let config = VadConfig {
            max_ms: 5_000,
            ..energy_only()
        };
        let mut audio = sound(500, 0.0);
        audio.extend(sound(12_000, 0.3));
        audio.extend(sound(1000, 0.0));
        let u = run(&mut Segmenter::new(config), 0, &audio);
        assert_eq!(u.len(), 3, "12 s cut into 5 s pieces");
        assert!(u.iter().all(|x| x.end_ms - x.start_ms <= 5_100));
        for w in u.windows(2) {
            assert!(
                w[1].start_ms - w[0].end_ms <= 60,
                "no speech lost between pieces"
            );
        }
        let spoken: i64 = u.iter().map(|x| x.end_ms - x.start_ms).sum();
        assert!(spoken >= 12_000, "{spoken} ms of 12 000");
    }

    #[test]
    fn steady_noise_becomes_the_floor_instead_of_endless_speech() {
        // A fan at about -35 dBFS for 40 s, then a sentence over it.
        let noise = |ms: usize| -> Vec<f32> {
            (0..RATE * ms / 1000)
                .map(|i| 0.025 * ((((i * 7919 + 13) % 1013) as f32 / 1013.0) - 0.5) * 2.0)
                .collect()
        };
        let mut audio = noise(40_000);
        let speech: Vec<f32> = sound(1500, 0.3)
            .iter()
            .zip(noise(1500))
            .map(|(s, n)| s + n)
            .collect();
        audio.extend(speech);
        audio.extend(noise(2000));
        let u = run(&mut Segmenter::new(energy_only()), 0, &audio);
        let spans: Vec<(i64, i64)> = u.iter().map(|x| (x.start_ms, x.end_ms)).collect();
        let noise_ms: i64 = spans
            .iter()
            .map(|(a, b)| (*b).min(40_000) - (*a).min(40_000))
            .sum();
        assert!(
            noise_ms <= 20_000,
            "the noise stopped counting as speech: {spans:?}"
        );
        assert!(
            spans.iter().any(|(a, b)| *a <= 40_300 && *b >= 41_400),
            "the sentence over the noise is still heard: {spans:?}"
        );
    }

    #[test]
    fn loud_sound_that_is_no_voice_never_becomes_an_utterance() {
        let mut audio = sound(1000, 0.0);
        audio.extend(sound(3000, 0.3));
        audio.extend(sound(1000, 0.0));
        assert_eq!(run(&mut Segmenter::new(energy_only()), 0, &audio).len(), 1);
        let dropped = crate::transcribe::nonspeech::dropped();
        assert!(run(&mut Segmenter::new(VadConfig::default()), 0, &audio).is_empty());
        assert!(crate::transcribe::nonspeech::dropped() > dropped, "counted");
    }
}
