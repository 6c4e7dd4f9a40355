// The signaling connection (signaling/PROTOCOL.md): joins with the token, keeps the
// connection alive with pings, and reconnects by itself after a drop, asking the server to
// keep this page's media (`resume`). Messages are handed to `onMessage`; connection changes to
// `onState` ("connecting" | "connected" | "reconnecting" | "closed", with the close code).

const BACKOFF_MS = [250, 500, 1000, 2000, 4000];

export class Signal {
  constructor(token, { onMessage, onState }) {
    this.token = token;
    this.onMessage = onMessage;
    this.onState = onState;
    this.ws = null;
    this.joined = false; // a welcome has been received at least once
    this.closed = false; // ended for good (left, removed, hearing over)
    this.attempt = 0;
    this.pingTimer = null;
    this.pingId = 0;
  }

  /** Opens the socket and joins (again, with `resume`, after the first time). */
  connect() {
    if (this.closed) return;
    this.onState(this.joined ? "reconnecting" : "connecting");
    const ws = new WebSocket(`wss://${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "join", v: 1, token: this.token, ...(this.joined ? { resume: true } : {}) }));
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type === "welcome") {
        this.joined = true;
        this.attempt = 0;
        this.onState("connected");
        this.startPings(msg.heartbeat_ms);
      }
      if (msg.type === "ended") this.closed = true;
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.stopPings();
      // 4401 unauthorised, 4403 removed, 4409 replaced, 4410 hearing ended, 4400 violation:
      // coming back would not help.
      if (this.closed || [4400, 4401, 4403, 4409, 4410].includes(ev.code) || ev.code === 1000) {
        this.closed = true;
        this.onState("closed", ev.code, ev.reason);
        return;
      }
      const wait = BACKOFF_MS[Math.min(this.attempt++, BACKOFF_MS.length - 1)];
      this.onState("reconnecting");
      setTimeout(() => this.connect(), wait);
    };
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  /** Leaves on purpose (no reconnection). */
  leave() {
    this.closed = true;
    this.send({ type: "leave" });
    this.stopPings();
  }

  /** Sends a ping; returns its id. The server answers in order, after everything sent before. */
  ping() {
    const id = ++this.pingId;
    this.send({ type: "ping", id });
    return id;
  }

  startPings(every) {
    this.stopPings();
    this.pingTimer = setInterval(() => this.ping(), Math.max(1000, every / 2));
  }

  stopPings() {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }
}
