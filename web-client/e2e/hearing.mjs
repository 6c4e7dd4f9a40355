// End-to-end test of the web client in Debian's Chromium (playwright-core). Started by
// tests/it/browser.rs, which runs the server and passes the join links in GAVEL_E2E:
// {"links": {"judge", "party", "witness"}, "ids": {...}, "out": "<dir for screenshots>"}.
// Besides joining, admitting, calling in and reconnecting: the court's mute as the muted party
// sees it (also after reopening the page), the recording badge only in the hearing itself, a
// layout that fits a 390 px phone and a desktop in both languages, devices that are refused or
// missing, and a join the server refuses. Prints one JSON line of measurements; exits non-zero on
// the first failed expectation.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { check, fits, poll, setLanguage, launch } from "./lib.mjs";

const cfg = JSON.parse(process.env.GAVEL_E2E);
mkdirSync(cfg.out, { recursive: true });
const result = {};
const pages = {};

/** Video frames decoded and audio packets received on the page's subscribe connection. */
function media(page) {
  return page.evaluate(async () => {
    const pc = window.gavel.media?.sub;
    const out = { frames: 0, audio: 0 };
    if (!pc) return out;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") out.frames += s.framesDecoded || 0;
      if (s.type === "inbound-rtp" && s.kind === "audio") out.audio += s.packetsReceived || 0;
    });
    return out;
  });
}

/** Waits until both video frames and audio packets arrive and keep arriving. */
async function flowing(page, what, timeoutMs) {
  const first = await poll(`${what}: media`, timeoutMs, async () => {
    const m = await media(page);
    return m.frames > 0 && m.audio > 0 ? m : null;
  });
  const at = Date.now();
  await poll(`${what}: media increasing`, 5000, async () => {
    const m = await media(page);
    return m.frames > first.frames && m.audio > first.audio;
  });
  return at;
}

/** Opens `role`'s join link in a context of its own; `prepare(context, page)` runs before. */
async function open(role, { viewport = { width: 1280, height: 800 }, name = role, prepare } = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[${name}] page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && console.error(`[${name}] console: ${m.text()}`));
  if (prepare) await prepare(context, page);
  await page.goto(cfg.links[role]);
  pages[name] = page;
  return page;
}

/** Stands in for a browser that refuses the devices, as `window.e2eDevices` says: "denied"
 *  (every request, NotAllowedError), "no-camera" (video, NotFoundError), else the fake ones. */
function refusingDevices() {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  window.e2eDevices = "denied";
  navigator.mediaDevices.getUserMedia = (c) => {
    if (window.e2eDevices === "denied") return Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
    if (window.e2eDevices === "no-camera" && c.video) return Promise.reject(new DOMException("Requested device not found", "NotFoundError"));
    return real(c);
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SIZES = [{ width: 1280, height: 800 }, { width: 390, height: 844 }];
const MIC_HELD = { en: "Muted by the court", "zh-CN": "已被法庭静音" };

async function prechecked(page) {
  for (const id of ["camera", "microphone", "network", "udp"]) {
    await page.waitForSelector(`#check-${id}:not([data-state="pending"])`, { timeout: 20000 });
  }
  return page.evaluate(() =>
    Object.fromEntries(["camera", "microphone", "network", "udp"].map((id) => [id, document.getElementById(`check-${id}`).dataset.state])));
}

const browser = await launch({ fakeMedia: true });
try {
  // The judge joins first.
  const judge = await open("judge");
  await page_join(judge);
  await judge.waitForSelector("#room:not([hidden])", { timeout: 15000 });

  // The party opens the link: details and the pre-join check, then the lobby.
  const partyOpened = Date.now();
  const party = await open("party");
  await party.waitForSelector("#details:not([hidden])");
  result.precheck = await prechecked(party);
  for (const [k, v] of Object.entries(result.precheck)) check(["pass", "warn", "fail"].includes(v), `precheck ${k} reported (${v})`);
  await party.screenshot({ path: join(cfg.out, "prejoin.png"), fullPage: true });
  await page_join(party);
  await party.waitForSelector("#lobby:not([hidden])", { timeout: 15000 });
  await new Promise((r) => setTimeout(r, 1500));
  const inLobby = await media(party);
  check(inLobby.frames === 0 && inLobby.audio === 0, `no media in the lobby (${JSON.stringify(inLobby)})`);
  // A trial is recorded from the start, but not the waiting area: no badge there.
  await poll("the party told of the recording", 5000, () => party.evaluate(() => window.gavel.recording));
  check(await party.isHidden("#rec"), "no recording badge in the lobby");

  // The judge admits the party; both see and hear each other within 15 s.
  const admit = `#roster li[data-participant="${cfg.ids.party}"] button[data-cmd="admit"]`;
  await judge.waitForSelector(admit, { timeout: 10000 });
  const admitted = Date.now();
  await judge.click(admit);
  await party.waitForSelector("#room:not([hidden])", { timeout: 10000 });
  await party.waitForSelector("#rec:not([hidden])", { timeout: 5000 });
  const partyFirst = await flowing(party, "party receives the judge", 15000);
  await flowing(judge, "judge receives the party", 15000);
  result.join_ms = partyFirst - partyOpened;
  if (process.env.GAVEL_E2E_TRACE) {
    console.log(JSON.stringify(await party.evaluate(() => ({ now: Math.round(performance.now()), log: window.gavel.log,
      conn: window.gavel.connTimes }))));
  }
  result.admit_to_media_ms = partyFirst - admitted;

  // The party has no moderator controls, and a forged moderator command is refused.
  check((await party.$$("[data-cmd]")).length === 0, "the party sees no moderator controls");
  check(await party.isHidden("#btn-end"), "the party cannot end the hearing");
  await party.evaluate((id) => window.gavel.signal.send({ type: "admit", participant: id, req: 777 }), cfg.ids.witness);
  const refusal = await poll("the forged command refused", 5000, () =>
    party.evaluate(() => window.gavel.errors.find((e) => e.req === 777) || null));
  check(refusal.code === "forbidden", `forged admit refused as forbidden (${refusal.code})`);

  // A witness whose browser first refuses the devices: a warning and Try again; then a
  // microphone but no camera, and no camera button once in the hearing.
  const witness = await open("witness", { prepare: (context) => context.addInitScript(refusingDevices) });
  const refused = await prechecked(witness);
  check(refused.camera === "fail" && refused.microphone === "fail", `refused devices reported (${JSON.stringify(refused)})`);
  await witness.waitForSelector("#device-warning:not([hidden])", { timeout: 5000 });
  await witness.evaluate(() => (window.e2eDevices = "no-camera"));
  await witness.click("#device-retry");
  await witness.waitForSelector('#check-microphone:not([data-state="pending"]):not([data-state="fail"])', { timeout: 10000 });
  const cameraRow = await witness.textContent("#check-camera .detail");
  check(cameraRow.startsWith("No camera found."), `the missing camera explained: ${cameraRow}`);
  check(await witness.isVisible("#device-warning"), "the warning stays while the camera is missing");

  // A witness waits without any media until the judge calls them in.
  await page_join(witness);
  await witness.waitForSelector("#lobby:not([hidden])", { timeout: 15000 });
  await new Promise((r) => setTimeout(r, 2000));
  const waiting = await media(witness);
  check(waiting.frames === 0 && waiting.audio === 0, `the waiting witness receives nothing (${JSON.stringify(waiting)})`);
  const call = `#roster li[data-participant="${cfg.ids.witness}"] button[data-cmd="call_in"]`;
  await judge.waitForSelector(call, { timeout: 10000 });
  await judge.click(call);
  await witness.waitForSelector("#room:not([hidden])", { timeout: 10000 });
  await flowing(witness, "the called witness receives the hearing", 15000);
  check(await witness.isHidden("#btn-cam") && await witness.isVisible("#btn-mic"), "the witness has a microphone button, no camera button");
  // The judge is offered "Mute" for the witness, but no "Stop video" (there is no camera).
  const witnessCtl = `#roster li[data-participant="${cfg.ids.witness}"] button[data-cmd]`;
  await poll('the judge\'s controls for the witness: "mute", no "stop_video"', 10000, async () => {
    const cmds = await judge.$$eval(witnessCtl, (bs) => bs.map((b) => b.dataset.cmd));
    return cmds.includes("mute") && !cmds.includes("stop_video");
  });

  // The judge mutes the party: the party's page shows the court's mute and offers no unmute,
  // and the judge is offered to allow the microphone again.
  const partyCtl = (cmd) => `#roster li[data-participant="${cfg.ids.party}"] button[data-cmd="${cmd}"]`;
  await judge.click(partyCtl("mute"));
  await party.waitForSelector('#btn-mic[data-held="true"]:disabled', { timeout: 10000 });
  check(await party.evaluate(() => window.gavel.localStream.getAudioTracks().every((tr) => !tr.enabled)), "the muted party's microphone is off");
  await judge.waitForSelector(partyCtl("unmute_mod"), { timeout: 10000 });

  await judge.screenshot({ path: join(cfg.out, "hearing-desktop.png") });
  await party.setViewportSize({ width: 390, height: 844 });
  await new Promise((r) => setTimeout(r, 500));
  await party.screenshot({ path: join(cfg.out, "hearing-phone.png") });

  // While recording, on a phone and a desktop and in both languages: nothing wider than the
  // window, Mute and Leave on screen and free to tap, the badge shown, and the captions in view
  // (on a desktop without scrolling), never under the toolbar.
  for (const [who, page] of [["party", party], ["judge", judge]]) {
    for (const size of SIZES) {
      await page.setViewportSize(size);
      for (const lang of ["zh-CN", "en"]) {
        await setLanguage(page, lang);
        await page.evaluate(() => window.scrollTo(0, 0));
        await sleep(300);
        const what = `${who} at ${size.width}x${size.height} in ${lang}`;
        const desk = size.width > 700;
        await fits(page, { tap: ["btn-mic", "btn-leave", ...(desk ? ["captions"] : [])], see: ["rec"] }, what);
        if (!desk) {
          await page.evaluate(() => document.getElementById("captions").scrollIntoView({ block: "end" }));
          await fits(page, { tap: ["captions"] }, `${what}, scrolled to the captions`);
        }
        if (who === "party") {
          const label = await page.textContent("#btn-mic");
          check(label === MIC_HELD[lang], `${what}: the microphone button says "${label}", not "${MIC_HELD[lang]}"`);
        }
      }
    }
  }
  await judge.setViewportSize(SIZES[0]);

  // The judge allows the microphone: the party may unmute again (it stays off until they do).
  await judge.click(partyCtl("unmute_mod"));
  await party.waitForSelector('#btn-mic[data-held="false"]:not(:disabled)', { timeout: 10000 });
  check((await party.textContent("#btn-mic")) === "Unmute microphone", "the party is offered to unmute");
  await judge.waitForSelector(partyCtl("mute"), { timeout: 10000 });

  // The party's socket is killed: the page reconnects by itself and media goes on.
  const before = await media(party);
  await party.evaluate(() => window.gavel.signal.ws.close());
  await poll("the party reconnected with its media kept", 15000, () => party.evaluate(() => window.gavel.resumed > 0));
  await party.waitForSelector('#conn[data-state="connected"], #conn[data-quality]', { timeout: 15000 });
  await poll("media after the reconnection", 10000, async () => (await media(party)).frames > before.frames + 30);
  result.reconnected = true;

  // Muted by the court, the party reopens the page: still muted by the court.
  await judge.click(partyCtl("mute"));
  await party.waitForSelector('#btn-mic[data-held="true"]', { timeout: 10000 });
  await party.reload();
  await page_join(party);
  await party.waitForSelector("#room:not([hidden])", { timeout: 15000 });
  await party.waitForSelector('#btn-mic[data-held="true"]:disabled', { timeout: 10000 });
  result.reopened_muted = true;

  // The server refuses the join (an expired link): the page says so and what to do, and leaves
  // no Join button that does nothing.
  const refusedJoin = await open("party", {
    name: "refused",
    prepare: (_, page) => page.routeWebSocket(/\/ws$/, (ws) => ws.onMessage(() => {
      ws.send(JSON.stringify({ type: "error", code: "unauthorized", message: "the join token has expired; ask the court for a new link" }));
      ws.close({ code: 4401, reason: "join refused" });
    })),
  });
  await page_join(refusedJoin);
  await refusedJoin.waitForSelector("#join-error:not([hidden])", { timeout: 10000 });
  check(await refusedJoin.isHidden("#join"), "no Join button after the server refused the link");
  const advice = await refusedJoin.textContent("#join-error");
  check(advice.includes("Ask the court for a new join link"), `the page says what to do: ${advice}`);

  result.screenshots = ["prejoin.png", "hearing-desktop.png", "hearing-phone.png"].map((f) => join(cfg.out, f));
  console.log(JSON.stringify({ ok: true, ...result }));
} catch (e) {
  for (const [role, page] of Object.entries(pages)) {
    await page.screenshot({ path: join(cfg.out, `failure-${role}.png`), fullPage: true }).catch(() => {});
    const diag = await page.evaluate(async () => {
      const m = window.gavel.media;
      const pcState = (pc) => pc && { conn: pc.connectionState, ice: pc.iceConnectionState, sig: pc.signalingState,
        transceivers: pc.getTransceivers().map((t) => `${t.mid}:${t.direction}/${t.currentDirection}:${t.receiver.track?.kind}`) };
      return { pub: pcState(m?.pub), sub: pcState(m?.sub), tracks: [...(m?.trackInfo.values() || [])], errors: window.gavel.errors,
        log: window.gavel.log };
    }).catch((err) => String(err));
    console.error(`[${role}] state: ${JSON.stringify(diag)}`);
  }
  console.log(JSON.stringify({ ok: false, error: String(e.message || e), ...result }));
  process.exitCode = 1;
} finally {
  await browser.close();
}

async function page_join(page) {
  await page.waitForSelector("#join:not([disabled])", { timeout: 20000 });
  await page.waitForSelector("#precheck:not([hidden])", { timeout: 20000 });
  await page.click("#join");
}
