#!/usr/bin/env bash
# Sourced by the test-speech scripts. speech_clip DIR joins DIR's sentence WAVs (s00.wav,
# s01.wav, ...) 1.5 s apart into 20 ms Opus packets, one file each under DIR/opus (like the
# benchmark clip): what a test participant says into a live hearing, and `gavel bench asr`
# plays live. speech_done TMP DIR SUM then makes the clip of TMP's sentences, marks them made
# from SUM, and puts them in DIR's place whole.
speech_done() {
  local tmp="$1" dir="$2" sum="$3"
  speech_clip "$tmp"
  echo "$sum" > "$tmp/complete"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
}

speech_clip() {
  local dir="$1"
  python3 - "$dir" <<'PY'
import sys, wave, glob
d = sys.argv[1]
out = None
for n in range(len(glob.glob(f"{d}/s*.wav"))):
    with wave.open(f"{d}/s{n:02d}.wav") as w:
        if out is None:
            out = wave.open(f"{d}/said.wav", "wb")
            out.setparams(w.getparams())
            gap = b"\0" * (w.getsampwidth() * w.getnchannels() * int(w.getframerate() * 1.5))
            out.writeframes(gap)
        out.writeframes(w.readframes(w.getnframes()))
        out.writeframes(gap)
out.close()
PY
  mkdir -p "$dir/opus"
  gst-launch-1.0 -q filesrc location="$dir/said.wav" ! wavparse ! audioconvert ! audioresample \
    ! audio/x-raw,rate=48000,channels=1 ! opusenc bitrate=32000 frame-size=20 \
    ! multifilesink location="$dir/opus/a%05d.opus"
  rm "$dir/said.wav"
  touch "$dir/opus/complete"
}
