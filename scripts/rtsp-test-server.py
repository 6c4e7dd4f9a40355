#!/usr/bin/python3
"""A real RTSP server standing in for e-courtroom cameras and codecs in the tests.

GStreamer's RTSP server (Debian's gir1.2-gst-rtsp-server-1.0, through python3-gi; run with
/usr/bin/python3, which has them). It serves test streams the way courtroom hardware sends
them, generated live (nothing is stored):

  /h264-baseline  H.264 constrained baseline, no B-frames, a key frame every second
  /h264-high      H.264 high profile with B-frames
  /h264-high-ip   H.264 high profile without B-frames (I and P frames), as most courtroom
                  cameras send it
  /aac            AAC audio (MPEG4-GENERIC)
  /opus           Opus audio
  /courtroom      the baseline camera with AAC sound, as one stream
  /courtroom-high the high-profile camera with AAC sound
  /courtroom-high-ip
                  the high-profile camera without B-frames, with AAC sound
  /courtroom-main-ip
                  a main-profile camera without B-frames, with AAC sound
  /courtroom-speech
                  with --speech FILE... (WAVs of one format): the baseline camera with their
                  speech as AAC, 1.5 s apart, from the start for each client

With --bench DIR it also serves a 1080p30 camera for `gavel bench rtsp`, encoded once into DIR
(a minute each, kept for the next run) so that serving it costs the machine almost nothing:

  /bench          H.264 constrained baseline, no B-frames, 4 Mbit/s, a key frame every 2 s
  /bench-high     H.264 high profile with B-frames, 4 Mbit/s

With --tls CERT KEY it serves RTSPS only (clients connect with rtsps://).

With --user and --password every mount asks for them (digest authentication). It prints
`ready <port>` on stdout once it listens, and serves until killed.
"""

import argparse
import os
import sys
import tempfile
import wave

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gio, GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

VIDEO = "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1"
BASELINE = (
    f"{VIDEO} ! x264enc tune=zerolatency bframes=0 key-int-max=30 speed-preset=ultrafast "
    "! video/x-h264,profile=constrained-baseline ! rtph264pay name=pay0 pt=96 config-interval=-1"
)
HIGH = (
    f"{VIDEO} ! x264enc bframes=2 b-adapt=false dct8x8=true key-int-max=30 speed-preset=ultrafast "
    "! video/x-h264,profile=high ! rtph264pay name=pay0 pt=96 config-interval=-1"
)
HIGH_IP = (
    f"{VIDEO} ! x264enc tune=zerolatency bframes=0 dct8x8=true key-int-max=30 speed-preset=ultrafast "
    "! video/x-h264,profile=high ! rtph264pay name=pay0 pt=96 config-interval=-1"
)
MAIN_IP = (
    # CABAC makes it main (x264 names the lowest profile its stream needs).
    f"{VIDEO} ! x264enc tune=zerolatency bframes=0 cabac=true key-int-max=30 speed-preset=ultrafast "
    "! video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=-1"
)
AAC = (
    "audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample "
    "! audio/x-raw,rate=48000,channels=1 ! avenc_aac ! rtpmp4gpay name={pay} pt=97"
)
OPUS = (
    "audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample "
    "! audio/x-raw,rate=48000,channels=1 ! opusenc ! rtpopuspay name=pay0 pt=97"
)
STREAMS = {
    "/h264-baseline": f"( {BASELINE} )",
    "/h264-high": f"( {HIGH} )",
    "/h264-high-ip": f"( {HIGH_IP} )",
    "/aac": f"( {AAC.format(pay='pay0')} )",
    "/opus": f"( {OPUS} )",
    # A courtroom camera with its microphone, as most send them: picture and sound together.
    "/courtroom": f"( {BASELINE} {AAC.format(pay='pay1')} )",
    "/courtroom-high": f"( {HIGH} {AAC.format(pay='pay1')} )",
    "/courtroom-high-ip": f"( {HIGH_IP} {AAC.format(pay='pay1')} )",
    "/courtroom-main-ip": f"( {MAIN_IP} {AAC.format(pay='pay1')} )",
}


BENCH_ENCODE = {
    "bench": "x264enc tune=zerolatency bframes=0 key-int-max=60 speed-preset=ultrafast "
    "bitrate=4000 ! video/x-h264,profile=constrained-baseline",
    "bench-high": "x264enc bframes=2 b-adapt=false key-int-max=60 speed-preset=ultrafast "
    "bitrate=4000 ! video/x-h264,profile=high",
}


def bench_streams(directory):
    """Encodes the benchmark clips into `directory` if they are not there; their mounts."""
    os.makedirs(directory, exist_ok=True)
    mounts = {}
    for name, encode in BENCH_ENCODE.items():
        clip = os.path.join(directory, f"{name}-1080p30.mkv")
        if not os.path.exists(clip):
            tmp = clip + ".tmp"
            pipeline = Gst.parse_launch(
                "videotestsrc pattern=snow num-buffers=1800 "
                "! video/x-raw,width=1920,height=1080,framerate=30/1 "
                f"! {encode} ! h264parse ! matroskamux ! filesink location={tmp}"
            )
            pipeline.set_state(Gst.State.PLAYING)
            msg = pipeline.get_bus().timed_pop_filtered(
                Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR
            )
            pipeline.set_state(Gst.State.NULL)
            if msg.type != Gst.MessageType.EOS:
                raise RuntimeError(f"encoding {clip} failed")
            os.rename(tmp, clip)
        # Played at its own pace (identity syncs to the clock), as a camera sends it.
        mounts[f"/{name}"] = (
            f"( filesrc location={clip} ! matroskademux ! h264parse ! identity sync=true "
            "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )
    return mounts


def join_speech(files, out_path):
    """Writes `files` one after the other, with 1.5 s of silence before each and at the end."""
    out = None
    for f in files:
        with wave.open(f) as w:
            if out is None:
                out = wave.open(out_path, "wb")
                out.setparams(w.getparams())
                gap = b"\0" * (w.getsampwidth() * w.getnchannels() * int(w.getframerate() * 1.5))
            out.writeframes(gap)
            out.writeframes(w.readframes(w.getnframes()))
    out.writeframes(gap)
    out.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free one)")
    parser.add_argument("--user", help="require digest authentication as this user")
    parser.add_argument("--password", help="the user's password")
    parser.add_argument("--speech", nargs="+", help="WAV files to serve as /courtroom-speech")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve RTSPS with these PEM files")
    parser.add_argument("--bench", help="directory of the 1080p benchmark clips (made if missing)")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    streams = {path: (launch, True) for path, launch in STREAMS.items()}
    if args.speech:
        said = tempfile.NamedTemporaryFile(suffix=".wav", delete=False)
        join_speech(args.speech, said.name)
        speech = (
            f"filesrc location={said.name} ! wavparse ! audioconvert ! audioresample "
            "! audio/x-raw,rate=48000,channels=1 ! identity sync=true ! avenc_aac "
            "! rtpmp4gpay name=pay1 pt=97"
        )
        # Not shared: each client hears the speech from its start.
        streams["/courtroom-speech"] = (f"( {BASELINE} {speech} )", False)
    if args.bench:
        for path, launch in bench_streams(args.bench).items():
            streams[path] = (launch, True)
    for path, (launch, shared) in streams.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(shared)
        if args.user or args.tls:
            factory.add_role_from_structure(
                Gst.Structure.from_string(
                    "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
                )[0]
            )
        mounts.add_factory(path, factory)
    if args.user or args.tls:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        if args.user:
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
            auth.add_digest(args.user, args.password or "", token)
        else:
            auth.set_default_token(token)
        if args.tls:
            auth.set_tls_certificate(Gio.TlsCertificate.new_from_files(*args.tls))
        server.set_auth(auth)
    if server.attach(None) == 0:
        print("could not listen", file=sys.stderr)
        return 1
    print(f"ready {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
