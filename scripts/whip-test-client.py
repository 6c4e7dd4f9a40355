#!/usr/bin/python3
"""A real WHIP encoder for the tests: GStreamer's webrtcbin (through Debian's python3-gi) sends
test sources (Opus and VP8) to a WHIP endpoint (RFC 9725), as GStreamer-based encoders do.

Debian's simple-whip-client would be the obvious choice, but on bookworm it aborts at start:
it links libsoup2 while libnice (which webrtcbin loads) links libsoup3, and libsoup refuses to
have both in one process. This client does the same in a few lines, with Python's HTTP.

  whip-test-client.py --url URL --token TOKEN --ca CERT [--no-trickle] [--address 127.0.0.1]

Without --no-trickle the offer goes out at once and candidates follow with PATCH
(application/trickle-ice-sdpfrag, If-Match: the session's ETag); with it, the offer waits for
every candidate. It prints `published <Location>` once answered, and on SIGINT or SIGTERM sends
DELETE and exits.
"""

import argparse
import signal
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

SOURCES = (
    "webrtcbin name=send bundle-policy=max-bundle "
    "audiotestsrc is-live=true wave=red-noise ! audioconvert ! audioresample ! queue ! opusenc "
    "! rtpopuspay pt=111 ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! send. "
    "videotestsrc is-live=true pattern={pattern} ! video/x-raw,width=320,height=240,framerate=30/1 "
    "! videoconvert ! queue ! vp8enc deadline=1 ! rtpvp8pay pt=96 "
    "! application/x-rtp,media=video,encoding-name=VP8,payload=96 ! send."
)


class Client:
    def __init__(self, args):
        self.args = args
        self.ctx = ssl.create_default_context(cafile=args.ca)
        self.location = None
        self.etag = None
        self.pending = []  # candidates found before the answer: (mline, candidate)
        self.loop = GLib.MainLoop()
        # Only a known pattern name goes into the description.
        pattern = args.pattern if args.pattern in ("ball", "smpte") else "ball"
        self.pipe = Gst.parse_launch(SOURCES.format(pattern=pattern))
        self.send = self.pipe.get_by_name("send")
        # Only this address is gathered (the tests reach nothing but loopback). The agent is
        # held: the bindings would otherwise let go of webrtcbin's own reference.
        self.ice = self.send.get_property("ice-agent")
        self.ice.emit("add-local-ip-address", args.address)
        self.send.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.send.connect("on-ice-candidate", self.on_ice_candidate)
        self.send.connect("notify::ice-gathering-state", self.on_gathering)
        self.offer = None  # its SDP text
        self.offering = False
        self.posted = False

    def request(self, method, url, body=None, ctype=None, etag=None):
        req = urllib.request.Request(url, data=body, method=method)
        req.add_header("Authorization", f"Bearer {self.args.token}")
        if ctype:
            req.add_header("Content-Type", ctype)
        if etag:
            req.add_header("If-Match", etag)
        return urllib.request.urlopen(req, context=self.ctx, timeout=20)

    def on_negotiation_needed(self, element):
        # Once: the session is never renegotiated (WHIP has no way to), and a second offer
        # while the first is being applied comes back empty.
        if self.offering:
            return
        self.offering = True
        promise = Gst.Promise.new_with_change_func(self.on_offer, element, None)
        element.emit("create-offer", None, promise)

    def on_offer(self, promise, element, _):
        promise.wait()
        # The reply is kept while its offer is used (the offer lives in it).
        self.reply = promise.get_reply()
        offer = self.reply.get_value("offer")
        # Kept as text: the fragments repeat its credentials and media sections.
        self.offer = offer.sdp.as_text()
        element.emit("set-local-description", offer, Gst.Promise.new())
        if not self.args.no_trickle:
            GLib.idle_add(self.post)

    def on_gathering(self, element, _):
        state = element.get_property("ice-gathering-state")
        if self.args.no_trickle and state == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            GLib.idle_add(self.post)

    def post(self):
        if self.posted:
            return False
        self.posted = True
        if self.args.no_trickle:
            # With every candidate gathered, the local description holds them all.
            sdp = self.send.get_property("local-description").sdp.as_text()
        else:
            # The offer as made (the local description may not be applied yet); the
            # candidates follow with PATCH.
            sdp = self.offer
        try:
            res = self.request("POST", self.args.url, sdp.encode(), "application/sdp")
        except urllib.error.HTTPError as e:
            print(f"refused {e.code} {e.read().decode(errors='replace')}", flush=True)
            self.loop.quit()
            return False
        self.location = urllib.parse.urljoin(self.args.url, res.headers["Location"])
        self.etag = res.headers["ETag"]
        _, msg = GstSdp.SDPMessage.new_from_text(res.read().decode())
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, msg)
        self.send.emit("set-remote-description", answer, Gst.Promise.new())
        print(f"published {self.location}", flush=True)
        for mline, cand in self.pending:
            self.trickle(mline, cand)
        self.pending = []
        return False

    def on_ice_candidate(self, _element, mline, candidate):
        if self.args.no_trickle:
            return
        GLib.idle_add(self.trickle_later, mline, candidate)

    def trickle_later(self, mline, candidate):
        if self.location is None:
            self.pending.append((mline, candidate))
        else:
            self.trickle(mline, candidate)
        return False

    def trickle(self, mline, candidate):
        section = self.offer.split("\r\nm=")[mline + 1].split("\r\n")
        attr = lambda name: next(l.split(":", 1)[1] for l in section if l.startswith(f"a={name}:"))
        frag = (
            f"a=ice-ufrag:{attr('ice-ufrag')}\r\n"
            f"a=ice-pwd:{attr('ice-pwd')}\r\n"
            f"m={section[0]}\r\n"
            f"a=mid:{attr('mid')}\r\n"
            f"a={candidate}\r\n"
        )
        try:
            self.request("PATCH", self.location, frag.encode(), "application/trickle-ice-sdpfrag", self.etag)
        except urllib.error.HTTPError as e:
            print(f"trickle refused {e.code}", file=sys.stderr, flush=True)

    def stop(self, *_):
        if self.location:
            try:
                self.request("DELETE", self.location)
                print("deleted", flush=True)
            except urllib.error.URLError as e:
                print(f"delete failed: {e}", file=sys.stderr, flush=True)
        self.loop.quit()
        return False

    def run(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, self.stop)
        self.pipe.set_state(Gst.State.PLAYING)
        self.loop.run()
        self.pipe.set_state(Gst.State.NULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the WHIP endpoint")
    parser.add_argument("--token", required=True, help="the bearer token")
    parser.add_argument("--ca", required=True, help="PEM file the server's certificate is checked with")
    parser.add_argument("--no-trickle", action="store_true", help="all candidates in the offer")
    parser.add_argument("--address", default="127.0.0.1", help="the local address ICE uses")
    parser.add_argument(
        "--pattern", default="ball", help="the picture: ball (black and white) or smpte (colour bars)"
    )
    args = parser.parse_args()
    Gst.init(None)
    Client(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
