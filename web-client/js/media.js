// The page's two peer connections (signaling/PROTOCOL.md, "Media"): a publish connection this
// page offers (microphone, camera, and a screen share when presenting) and a subscribe
// connection the server offers (everyone this participant may receive). Candidates are
// trickled. Remote tracks are reported with who sent them and what they carry.

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

  setMicEnabled(on) {
    for (const t of this.local?.getAudioTracks() || []) t.enabled = on;
  }

  setCameraEnabled(on) {
    for (const t of this.local?.getVideoTracks() || []) t.enabled = on;
  }
}
