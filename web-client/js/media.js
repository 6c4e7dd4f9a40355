// The page's two peer connections (signaling/PROTOCOL.md, "Media"): a publish connection this
// page offers (microphone, camera, and a screen share when presenting) and a subscribe
// connection the server offers (everyone this participant may receive). Candidates are
// trickled. Remote tracks are reported with who sent them and what they carry. Also: the
// connection's quality, and whose mute holds the participant's own microphone and camera.

const SIMULCAST = [
  { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "f", maxBitrate: 1_200_000 },
];

export class Media {
  constructor(signal, { onTrack, onTrackEnded }) {
    this.signal = signal;
    this.onTrack = onTrack;
    this.onTrackEnded = onTrackEnded;
    this.pub = null;
    this.sub = null;
    this.local = null; // MediaStream of microphone + camera
    this.screen = null; // { stream, sender }
    this.trackInfo = new Map(); // subscribe track id -> { participant, source }
  }

  /** Everything new: after a first join, or a resume the server could not honour. */
  reset() {
    for (const pc of [this.pub, this.sub]) if (pc) pc.close();
    this.pub = null;
    this.sub = null;
    this.screen = null;
    this.trackInfo.clear();
  }

  newPc(which) {
    const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" });
    pc.onicecandidate = (ev) => {
      this.signal.send({
        type: "ice_candidate",
        pc: which,
        candidate: ev.candidate ? ev.candidate.candidate : "",
        sdp_mid: ev.candidate ? ev.candidate.sdpMid : null,
        sdp_mline_index: ev.candidate ? ev.candidate.sdpMLineIndex : null,
      });
    };
    return pc;
  }

  /** Publishes `stream` (microphone and/or camera; the camera as three simulcast layers). */
  async publish(stream) {
    this.local = stream;
    this.pub = this.newPc("publish");
    for (const track of stream.getTracks()) {
      if (track.kind === "video") {
        this.pub.addTransceiver(track, { direction: "sendonly", streams: [stream], sendEncodings: SIMULCAST });
      } else {
        this.pub.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      }
    }
    await this.offerPublish();
  }

  async offerPublish() {
    const offer = await this.pub.createOffer();
    await this.pub.setLocalDescription(offer);
    const screen = this.screen ? [this.screen.stream.getVideoTracks()[0].id] : [];
    this.signal.send({ type: "publish_offer", sdp: this.pub.localDescription.sdp, ...(screen.length ? { screen } : {}) });
  }

  async onPublishAnswer(sdp) {
    if (this.pub) await this.pub.setRemoteDescription({ type: "answer", sdp });
  }

  /** Shares a screen as a track of its own (evidence presentation). */
  async shareScreen(onStopped) {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = stream.getVideoTracks()[0];
    const sender = this.pub.addTrack(track, stream);
    this.screen = { stream, sender };
    track.onended = () => this.stopScreen().then(onStopped);
    await this.offerPublish();
  }

  async stopScreen() {
    if (!this.screen) return;
    const { stream, sender } = this.screen;
    this.screen = null;
    stream.getTracks().forEach((t) => t.stop());
    this.pub.removeTrack(sender);
    await this.offerPublish();
  }

  /** The server's offer for the subscribe connection. */
  async onSubscribeOffer(sdp, tracks) {
    for (const info of tracks || []) this.trackInfo.set(info.id, info);
    if (!this.sub) {
      this.sub = this.newPc("subscribe");
      this.sub.onconnectionstatechange = () => (window.gavel.connTimes ||= []).push(`${this.sub.connectionState}@${Math.round(performance.now())}`);
      this.sub.ontrack = (ev) => {
        const info = this.trackInfo.get(ev.track.id) || {
          participant: ev.streams[0] ? ev.streams[0].id : "",
          source: ev.track.kind === "audio" ? "microphone" : "camera",
        };
        this.onTrack(ev.track, info);
        ev.track.onended = () => this.onTrackEnded(ev.track);
        ev.streams[0]?.addEventListener("removetrack", (e) => this.onTrackEnded(e.track));
      };
    }
    await this.sub.setRemoteDescription({ type: "offer", sdp });
    const answer = await this.sub.createAnswer();
    await this.sub.setLocalDescription(answer);
    this.signal.send({ type: "subscribe_answer", sdp: this.sub.localDescription.sdp });
  }

  /** Connection quality since `prev` (loss, and the round trip now), from the subscribe
   *  connection's statistics: `{ level: "good" | "fair" | "poor", counters }`, or null. */
  async quality(prev) {
    const pc = this.sub || this.pub;
    if (!pc) return null;
    let lost = 0, received = 0, rtt = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp") { lost += s.packetsLost || 0; received += s.packetsReceived || 0; }
      if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime) rtt = s.currentRoundTripTime * 1000;
    });
    const p = prev || { lost, received };
    const dl = lost - p.lost, dr = received - p.received;
    const loss = dr + dl > 0 ? dl / (dr + dl) : 0;
    const level = loss > 0.08 || rtt > 600 ? "poor" : loss > 0.02 || rtt > 300 ? "fair" : "good";
    return { level, counters: { lost, received } };
  }
}

const KINDS = ["audio", "video"];

/**
 * The participant's own microphone and camera (signaling/PROTOCOL.md, `set_muted`, `mute`):
 * their own switch (`want`) and the court's mute (`held`), which only a moderator lifts. The
 * server's view shows a kind muted when either holds, so while the court's mute holds this page
 * tells the server its own state is "not muted": the view then shows the court's mute alone,
 * and its lifting. When the view does not say whose mute it is (no `audio_held`/`video_held`),
 * a ping after the page's `set_muted` marks the roster that answers it: still muted there,
 * though this page asked otherwise, means the court holds it. Nothing here touches the page.
 */
export class MuteState {
  /** `send(msg)` goes to the server; `ping()` sends a ping and returns its id. */
  constructor(send, ping) {
    this.send = send;
    this.ping = ping;
    this.has = { audio: null, video: null }; // a device: true, false (none), null (the role may not publish)
    this.want = { audio: true, video: true }; // the participant's own switch: on
    this.held = { audio: false, video: false }; // the court's mute: true, false, or null (being checked)
    this.sent = { audio: null, video: null }; // the own state the server holds (muted), null if not known
    this.audioOnly = false;
    this.view = null; // this participant as the server last showed them
    this.barrier = null; // { id, sent }: the ping after the last set_muted
  }

  /** Whether the local track of `kind` should send. */
  live(kind) {
    return Boolean(this.has[kind]) && this.want[kind] && this.held[kind] === false && !(kind === "video" && this.audioOnly);
  }

  /** The switch is the court's (its mute holds, or is being checked). */
  locked(kind) {
    return this.held[kind] !== false;
  }

  /** The own state (muted) the server should hold. */
  ownMuted(kind) {
    if (!this.has[kind]) return true;
    if (this.held[kind] !== false) return false;
    return !this.want[kind] || (kind === "video" && this.audioOnly);
  }

  /** A `welcome`: `fresh` on this page's first. A fresh page takes a muted view as muted (and
   *  asks whose mute it is); a kept page tells the server again what a lost socket may have lost. */
  welcome(you, fresh) {
    const notes = [];
    for (const kind of KINDS) {
      const muted = Boolean(you[`${kind}_muted`]);
      const told = heldIn(you, kind);
      if (fresh && muted) this.want[kind] = false;
      this.sent[kind] = muted ? null : false;
      if (told !== undefined) notes.push(this.setHeld(kind, told));
      else if (!muted) notes.push(this.setHeld(kind, false));
      else if (this.has[kind] && (fresh || (this.held[kind] === false && !this.ownMuted(kind)))) this.held[kind] = null;
    }
    this.view = you;
    this.push();
    return notes.filter(Boolean);
  }

  /** This participant's entry in a `roster`. */
  roster(view) {
    this.view = view;
    const notes = KINDS.map((kind) => {
      const told = heldIn(view, kind);
      if (told !== undefined) return this.setHeld(kind, told);
      return view[`${kind}_muted`] ? null : this.setHeld(kind, false);
    });
    this.push();
    return notes.filter(Boolean);
  }

  /** A `muted` message: a moderator muted `kind`. */
  courtMuted(kind) {
    const note = this.setHeld(kind, true);
    this.push();
    return note ? [note] : [];
  }

  /** A `pong`: if it answers the last `set_muted`, the view now shows what that asked for. */
  pong(id) {
    if (!this.barrier || this.barrier.id !== id) return [];
    const { sent } = this.barrier;
    this.barrier = null;
    const notes = [];
    for (const kind of KINDS) {
      if (heldIn(this.view, kind) !== undefined) continue;
      const muted = Boolean(this.view?.[`${kind}_muted`]);
      if (muted && sent[kind] === false) notes.push(this.setHeld(kind, true));
      else if (!muted) notes.push(this.setHeld(kind, false));
    }
    this.push();
    return notes.filter(Boolean);
  }

  /** The participant's own switch (refused while the court's mute holds). */
  toggle(kind) {
    if (this.locked(kind)) return;
    this.want[kind] = !this.want[kind];
    this.push();
  }

  setAudioOnly(on) {
    this.audioOnly = on;
    this.push();
  }

  /** Records the court's mute; returns the notice to show (strings.js key) when it changed.
   *  Either way the participant's switch is left off: they turn it on themselves. */
  setHeld(kind, held) {
    const was = this.held[kind];
    this.held[kind] = held;
    if (held === was || !this.has[kind]) return null;
    if (held === true) {
      this.want[kind] = false;
      return kind === "audio" ? "muted_by_moderator" : "video_stopped_by_moderator";
    }
    if (held === false && was === true) {
      this.want[kind] = false;
      return kind === "audio" ? "unmuted_by_moderator" : "video_allowed_by_moderator";
    }
    return null;
  }

  /** Tells the server the own state it does not hold yet, then pings to mark the answer. */
  push() {
    let told = false;
    for (const kind of KINDS) {
      if (this.has[kind] === null) continue;
      const muted = this.ownMuted(kind);
      if (muted === this.sent[kind]) continue;
      this.send({ type: "set_muted", kind, muted });
      this.sent[kind] = muted;
      told = true;
    }
    if (told) this.barrier = { id: this.ping(), sent: { ...this.sent } };
  }
}

/** The court's mute of `kind` where the server says it (`audio_held`, `video_held`). */
function heldIn(view, kind) {
  const v = view?.[`${kind}_held`];
  return typeof v === "boolean" ? v : undefined;
}
