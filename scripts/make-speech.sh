#!/usr/bin/env bash
# Speaks the reference sentences of tests/asr/sentences.txt with espeak-ng (US English at 135
# words a minute, a deliberate courtroom pace), once, outside the clone: one WAV per line
# (s00.wav, s01.wav, ...) with its text beside it, for `gavel bench asr`. Remade when the
# sentences or the voice change. Quick when already made.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TEXT="$ROOT/tests/asr/sentences.txt"
DIR="${GAVEL_MEDIA_DIR:-$HOME/.cache/gavel/media}/speech"
VOICE=(-v en-us -s 135)
SUM="$( (cat "$TEXT"; echo "${VOICE[*]} opus-v2") | sha256sum | cut -d' ' -f1)"
if [ -f "$DIR/complete" ] && [ "$(cat "$DIR/complete")" = "$SUM" ]; then
  echo "media: test speech present ($DIR)"
  exit 0
fi
command -v espeak-ng >/dev/null || { echo "media: espeak-ng missing (scripts/setup-system.sh installs it)" >&2; exit 1; }
mkdir -p "$(dirname "$DIR")"
TMP="$(mktemp -d "$DIR.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
n=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  espeak-ng "${VOICE[@]}" -w "$TMP/$(printf 's%02d.wav' "$n")" "$line"
  printf '%s\n' "$line" > "$TMP/$(printf 's%02d.txt' "$n")"
  n=$((n + 1))
done < "$TEXT"
# shellcheck source=scripts/speech-clip.sh
. "$ROOT/scripts/speech-clip.sh"
speech_done "$TMP" "$DIR" "$SUM"
echo "media: spoke $n test sentences into $DIR"
