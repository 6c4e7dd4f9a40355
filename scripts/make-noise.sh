#!/usr/bin/env bash
# Makes the non-speech test sounds, once, outside the clone: what a microphone picks up when
# nobody speaks, which must never become a transcript line. 16 kHz mono WAVs (beeps.wav:
# 1 kHz beeps like Chromium's fake microphone; pink.wav: pink noise; music.wav: chords with a
# melody), and the three one after the other as 20 ms Opus packets (opus/), for the live test.
# Quick when already made.
set -euo pipefail

DIR="${GAVEL_MEDIA_DIR:-$HOME/.cache/gavel/media}/noise"
VERSION="noise-v1"
if [ -f "$DIR/complete" ] && [ "$(cat "$DIR/complete")" = "$VERSION" ]; then
  echo "media: test noise present ($DIR)"
  exit 0
fi
mkdir -p "$(dirname "$DIR")"
TMP="$(mktemp -d "$DIR.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
python3 - "$TMP" <<'PY'
import array, math, random, sys, wave
d = sys.argv[1]
RATE = 16000
SECS = 12

def write(name, samples):
    pcm = array.array("h", (max(-32767, min(32767, int(s * 32767))) for s in samples))
    with wave.open(f"{d}/{name}", "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())

# Beeps: 1 kHz for 0.2 s every second (soft edges), as a fake or test microphone beeps.
beeps = []
for n in range(RATE * SECS):
    t = n / RATE
    phase = t % 1.0
    env = 0.0 if phase > 0.2 else min(1.0, phase / 0.005, (0.2 - phase) / 0.005)
    beeps.append(0.5 * env * math.sin(2 * math.pi * 1000 * t))
write("beeps.wav", beeps)

# Pink noise (Paul Kellet's filter over white noise), fixed seed.
random.seed(7)
b = [0.0] * 7
pink = []
for _ in range(RATE * SECS):
    w = random.uniform(-1, 1)
    b[0] = 0.99886 * b[0] + w * 0.0555179
    b[1] = 0.99332 * b[1] + w * 0.0750759
    b[2] = 0.96900 * b[2] + w * 0.1538520
    b[3] = 0.86650 * b[3] + w * 0.3104856
    b[4] = 0.55000 * b[4] + w * 0.5329522
    b[5] = -0.7616 * b[5] - w * 0.0168980
    pink.append(0.05 * (sum(b[:6]) + b[6] + w * 0.5362))
    b[6] = w * 0.115926
write("pink.wav", pink)

# Music: C-F-G-C chords (with two overtones) and a melody of eighth notes above them.
chords = [(261.63, 329.63, 392.00), (349.23, 440.00, 523.25), (392.00, 493.88, 587.33),
          (261.63, 329.63, 392.00)]
melody = [523.25, 587.33, 659.25, 698.46, 783.99, 698.46, 659.25, 587.33]
music = []
for n in range(RATE * SECS):
    t = n / RATE
    chord = chords[int(t / 1.5) % len(chords)]
    note = melody[int(t / 0.25) % len(melody)]
    s = sum(math.sin(2 * math.pi * f * t) + 0.3 * math.sin(4 * math.pi * f * t) for f in chord)
    local = t % 0.25
    s = 0.08 * s + 0.25 * math.exp(-6 * local) * math.sin(2 * math.pi * note * t)
    music.append(s)
write("music.wav", music)
PY
mkdir -p "$TMP/opus"
gst-launch-1.0 -q concat name=c ! audioconvert ! audioresample \
  ! audio/x-raw,rate=48000,channels=1 ! opusenc bitrate=32000 frame-size=20 \
  ! multifilesink location="$TMP/opus/a%05d.opus" \
  filesrc location="$TMP/beeps.wav" ! wavparse ! c. \
  filesrc location="$TMP/pink.wav" ! wavparse ! c. \
  filesrc location="$TMP/music.wav" ! wavparse ! c.
touch "$TMP/opus/complete"
echo "$VERSION" > "$TMP/complete"
rm -rf "$DIR"
mv "$TMP" "$DIR"
trap - EXIT
echo "media: made the non-speech test sounds in $DIR"
