// A hearing of several minutes in Debian's Chromium: people join in a given order, each must
// see and hear every other within seconds; then, for the configured time, they mute and unmute,
// turn cameras off and on, and two of them leave and come back (in the reverse order); at the
// end everyone again sees and hears everyone. Started by tests/it/browser.rs (short form in
// `make test`; the full run is documented in the README), which then checks the recording.
// GAVEL_E2E: {"links": {name: url}, "order": [name, ...], "secs": N, "out": dir}.
// Prints one JSON line of measurements; exits non-zero on the first failed expectation.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { check, joinFromPrecheck, launch, poll } from "./lib.mjs";

const cfg = JSON.parse(process.env.GAVEL_E2E);
mkdirSync(cfg.out, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pages = {};
const result = { joins: [], rejoins: [], toggles: 0, camera_off_ms: {}, missed_clicks: 0 };

/** Per received track: packets (audio) or frames decoded (video), keyed by its identifier. */
function received(page) {
  return page.evaluate(async () => {
    const pc = window.gavel?.media?.sub;
    const out = { audio: {}, video: {} };
    if (!pc) return out;
    (await pc.getStats()).forEach((s) => {
      if (s.type !== "inbound-rtp") return;
      if (s.kind === "audio") out.audio[s.trackIdentifier || s.id] = s.packetsReceived || 0;
      if (s.kind === "video") out.video[s.trackIdentifier || s.id] = s.framesDecoded || 0;
    });
    return out;
  });
}

/** Waits until `name` receives, growing, `others` audio tracks and `others` video tracks. */
async function hearsAndSeesAll(name, others, timeoutMs) {
  const page = pages[name];
  const t0 = Date.now();
  let before = await received(page);
  await poll(`${name} sees and hears the ${others} others`, timeoutMs, async () => {
    await sleep(400);
    const now = await received(page);
    const growing = (kind) => Object.keys(now[kind]).filter((k) => now[kind][k] > (before[kind][k] || 0)).length;
    const ok = growing("audio") >= others && growing("video") >= others;
    before = now;
    return ok;
  });
  return Date.now() - t0;
}

async function open(name) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[${name}] page error: ${e.message}`));
  pages[name] = page;
  await enter(name);
}

/** Opens (or, when it is open, reloads: leaving and coming back) `name`'s page and joins. */
async function enter(name, reload = false) {
  const page = pages[name];
  // The same URL again would only move to its fragment; a reload is leaving and coming back.
  if (reload) await page.reload();
  else await page.goto(cfg.links[name]);
  const { missed } = await joinFromPrecheck(page);
  result.missed_clicks += missed;
}

/** Everyone sees and hears everyone else; returns the slowest time it took, ms. */
async function allSeeAll(what) {
  const n = Object.keys(pages).length;
  const times = await Promise.all(Object.keys(pages).map((name) => hearsAndSeesAll(name, n - 1, 20000)));
  return Math.max(...times);
}

/** Clicks `button` on `name`'s page if it can be clicked (it toggles the mic or camera);
 *  returns whether it did. */
async function toggle(name, button) {
  const b = pages[name].locator(`#${button}`);
  if (await b.isVisible() && await b.isEnabled()) {
    await b.click();
    result.toggles += 1;
    return true;
  }
  return false;
}

const browser = await launch({ fakeMedia: true });
try {
  for (const name of cfg.order) {
    const t0 = Date.now();
    await open(name);
    result.joins.push([name, Date.now() - t0]);
  }
  result.all_see_all_ms = await allSeeAll("after joining");
  check(result.all_see_all_ms < 20000, "everyone sees and hears everyone");
  await pages[cfg.order[0]].screenshot({ path: join(cfg.out, "soak-joined.png") });

  // The hearing goes on: mutes and cameras toggled in turn, every 4 s, for the configured time.
  const until = Date.now() + cfg.secs * 1000;
  let i = 0;
  while (Date.now() < until) {
    const name = cfg.order[i % cfg.order.length];
    const button = i % 2 === 0 ? "btn-mic" : "btn-cam";
    const off = Date.now();
    const toggled = await toggle(name, button);
    await sleep(2000);
    if (toggled) await toggle(name, button);
    // How long each camera was off: its recording has no frames then.
    if (toggled && button === "btn-cam") {
      result.camera_off_ms[name] = (result.camera_off_ms[name] || 0) + (Date.now() - off);
    }
    await sleep(2000);
    i += 1;
  }
  // Two leave (reopen the page) and come back, the later-joined first.
  for (const name of cfg.order.slice(0, 2).reverse()) {
    const t0 = Date.now();
    await enter(name, true);
    result.rejoins.push([name, Date.now() - t0]);
  }
  result.all_see_all_again_ms = await allSeeAll("after rejoining");
  await pages[cfg.order[0]].screenshot({ path: join(cfg.out, "soak-end.png") });
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.error = String(e?.stack || e);
  // What each page showed when it failed, and what its page said last: for the next reader.
  for (const [name, page] of Object.entries(pages)) {
    await page.screenshot({ path: join(cfg.out, `soak-failed-${name}.png`) }).catch(() => {});
    result[`status_${name}`] = await page
      .evaluate(() => document.getElementById("status")?.textContent ?? "")
      .catch(() => "");
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
