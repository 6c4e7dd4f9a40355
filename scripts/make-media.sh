#!/usr/bin/env bash
# Makes the media the benchmark sends, once, outside the clone: 10 s of 720p30 VP8 at about
# 1.1 Mbit/s (a moving zone plate, key frame every 2 s) and 10 s of 20 ms Opus packets, each
# encoded frame or packet in a file of its own (GStreamer's multifilesink), so `gavel bench sfu`
# sends real codec payloads without encoding anything at run time. Quick when already made.
set -euo pipefail

DIR="${GAVEL_MEDIA_DIR:-$HOME/.cache/gavel/media}/bench-720p"
if [ -f "$DIR/complete" ]; then
  echo "media: benchmark clip present ($DIR)"
  exit 0
fi
command -v gst-launch-1.0 >/dev/null || { echo "media: gst-launch-1.0 missing (scripts/setup-system.sh installs it)" >&2; exit 1; }

mkdir -p "$(dirname "$DIR")"
TMP="$(mktemp -d "$DIR.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
gst-launch-1.0 -q videotestsrc num-buffers=300 pattern=zone-plate kx2=20 ky2=20 kt=1 \
  ! video/x-raw,width=1280,height=720,framerate=30/1 \
  ! vp8enc target-bitrate=1200000 keyframe-max-dist=60 deadline=1 cpu-used=8 end-usage=cbr \
  ! multifilesink location="$TMP/v%05d.vp8"
gst-launch-1.0 -q audiotestsrc num-buffers=500 samplesperbuffer=960 wave=sine freq=440 \
  ! audio/x-raw,rate=48000,channels=1 \
  ! opusenc bitrate=32000 frame-size=20 \
  ! multifilesink location="$TMP/a%05d.opus"
touch "$TMP/complete"
rm -rf "$DIR"
mv "$TMP" "$DIR"
trap - EXIT
echo "media: made the benchmark clip ($DIR)"
