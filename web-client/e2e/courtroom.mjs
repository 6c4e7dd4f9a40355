// A courtroom camera in the web client (Debian's Chromium, playwright-core): the judge sees the
// camera's tile under its own name, its picture decodes, the roster names its role in both
// languages, and the page fits a phone and a desktop. Started by tests/it/courtroom.rs:
// GAVEL_E2E = {"links": {"judge"}, "device": {"id", "name"}, "profiles": {id: "4d00"}, "out": "<dir>"}:
// each camera in `profiles` must be decoded in that H.264 profile if Chromium takes it, else in
// the constrained-baseline rendition. Prints one JSON
// line; exits non-zero on a failed expectation.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { check, fits, joinFromPrecheck, launch, poll, setLanguage } from "./lib.mjs";

const cfg = JSON.parse(process.env.GAVEL_E2E);
mkdirSync(cfg.out, { recursive: true });
const browser = await launch({ fakeMedia: true });
const result = { shots: [] };
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto(cfg.links.judge);
  result.missed_clicks = (await joinFromPrecheck(page)).missed;
  const tile = `.tile[data-participant="${cfg.device.id}"]`;
  // The camera's picture decodes in its tile.
  result.frames = await poll("the courtroom camera's frames", 30000, () => page.evaluate((sel) => {
    const v = document.querySelector(`${sel} video`);
    const q = v?.getVideoPlaybackQuality?.();
    return q && q.totalVideoFrames >= 30 ? q.totalVideoFrames : null;
  }, tile));
  // Each camera in the codec it sends when the browser decodes that profile, else in the
  // constrained-baseline rendition made for such receivers: cfg.profiles maps a device id to
  // the profile-level-id prefix it sends (e.g. "4d00" main, "6400" high).
  const takes = await page.evaluate(() => RTCRtpReceiver.getCapabilities("video").codecs
    .map((c) => (c.sdpFmtpLine || "").match(/profile-level-id=(\w{4})/)?.[1]?.toLowerCase())
    .filter(Boolean));
  result.codecs = {};
  for (const [id, profile] of Object.entries(cfg.profiles || {})) {
    const want = takes.includes(profile) ? profile : "42e0";
    result.codecs[id] = await poll(`${id}'s picture`, 30000, () => page.evaluate(async ([id, want]) => {
      const stats = await window.gavel.media.sub.getStats();
      const codecs = {};
      stats.forEach((s) => { if (s.type === "codec") codecs[s.id] = s; });
      let found = null;
      stats.forEach((s) => {
        const c = codecs[s.codecId];
        if (s.type === "inbound-rtp" && s.kind === "video" && s.framesDecoded >= 10 && c
          && (s.trackIdentifier || "").startsWith(id)) found = c.sdpFmtpLine || "";
      });
      return found;
    }, [id, want]));
    check(result.codecs[id].toLowerCase().includes(`profile-level-id=${want}`),
      `${id}'s picture is decoded in ${want} (${result.codecs[id]})`);
  }
  const label = await page.evaluate((sel) => document.querySelector(sel)?.textContent ?? "", tile);
  check(label.includes(cfg.device.name), `the tile is named for the device (${label})`);
  for (const lang of ["en", "zh-CN"]) {
    await setLanguage(page, lang);
    const entry = await page.evaluate((id) =>
      document.querySelector(`#roster li[data-participant="${id}"]`)?.textContent ?? "", cfg.device.id);
    const role = lang === "en" ? "Courtroom" : "法庭设备";
    check(entry.includes(role), `the roster says ${role} (${entry})`);
    for (const [what, viewport] of [["desktop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }]]) {
      await page.setViewportSize(viewport);
      await fits(page, {}, `${what} ${lang}`);
      const file = join(cfg.out, `courtroom-judge-${what}-${lang}.png`);
      await page.screenshot({ path: file });
      result.shots.push(file);
    }
  }
  console.log(JSON.stringify({ ok: true, ...result }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e.message || e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
