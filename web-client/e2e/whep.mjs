// WHEP playback in Debian's Chromium (playwright-core): a plain page, no Gavel client, plays a
// participant of a live hearing with a receive-only offer to the WHEP endpoint, as a monitoring
// wall or a WHEP player would; then ends the session with DELETE. Started by tests/it/whep.rs:
// GAVEL_E2E = {"page": "<an https page of the server>", "url": "<WHEP endpoint>",
// "token": "<bearer>", "out": "<dir>"}. Prints one JSON line; exits non-zero on a failure.

import { check, launch, poll } from "./lib.mjs";

const cfg = JSON.parse(process.env.GAVEL_E2E);
const browser = await launch();
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto(cfg.page);
  const started = await page.evaluate(async ({ url, token }) => {
    const pc = new RTCPeerConnection();
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
    await pc.setLocalDescription(await pc.createOffer());
    // Every candidate in the offer (no trickle needed on one machine).
    await new Promise((done) => {
      if (pc.iceGatheringState === "complete") return done();
      pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && done());
      setTimeout(done, 3000);
    });
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/sdp", authorization: `Bearer ${token}` },
      body: pc.localDescription.sdp,
    });
    if (res.status !== 201) return { status: res.status, body: await res.text() };
    const location = res.headers.get("location");
    await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
    window.whep = { pc, location, token };
    return { status: 201, location, etag: res.headers.get("etag") };
  }, { url: cfg.url, token: cfg.token });
  check(started.status === 201, `WHEP answered 201, not ${started.status} ${started.body ?? ""}`);
  check(!!started.location && !!started.etag, "Location and ETag are readable (CORS exposes them)");

  const stats = () => page.evaluate(async () => {
    const out = { frames: 0, width: 0, audio: 0 };
    (await window.whep.pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        out.frames += s.framesDecoded || 0;
        out.width = s.frameWidth || out.width;
      }
      if (s.type === "inbound-rtp" && s.kind === "audio") out.audio += s.packetsReceived || 0;
    });
    return out;
  });
  const playing = await poll("frames decoded over WHEP", 30000, async () => {
    const s = await stats();
    return s.frames >= 30 && s.audio > 0 ? s : null;
  });

  const ended = await page.evaluate(async () => {
    const { location, token } = window.whep;
    const res = await fetch(location, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
    window.whep.pc.close();
    return res.status;
  });
  check(ended === 200, `DELETE ends the session (${ended})`);
  console.log(JSON.stringify({ ok: true, frames: playing.frames, width: playing.width, audio: playing.audio }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e.message || e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
