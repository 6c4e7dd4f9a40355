// End-to-end test of the clerk's transcript review in Debian's Chromium (playwright-core).
// Started by tests/it/browser.rs, which runs the server, records a participant and stores
// their transcript lines, then passes in GAVEL_E2E: {"url", "line", "file", "offset", "rows",
// "speaker", "corrected", "reason", "out"}. The clerk sees every line with its speaker and
// time, plays the recording from a line's moment (the speaker's own microphone segment) and
// corrects the line. Prints one JSON line; exits non-zero on the first failed expectation.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { check, poll, launch } from "./lib.mjs";

const cfg = JSON.parse(process.env.GAVEL_E2E);
mkdirSync(cfg.out, { recursive: true });

const browser = await launch();
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 }, locale: "en-US" });
const page = await context.newPage();
const result = {};
const row = `tr[data-line="${cfg.line}"]`;
try {
  await page.goto(cfg.url);
  await page.waitForSelector(row, { timeout: 15000 });
  const rows = await page.$$eval("#lines tr", (trs) => trs.map((tr) => tr.innerText));
  check(rows.length === cfg.rows, `${cfg.rows} lines shown, got ${rows.length}`);
  const first = await page.$eval(row, (tr) => ({
    time: tr.querySelector(".t").textContent,
    who: tr.querySelector(".who").textContent,
  }));
  check(first.who === `${cfg.speaker} (Party)`, `the speaker and role shown: ${first.who}`);
  check(/^\d\d:\d\d:\d\d$/.test(first.time), `the time shown: ${first.time}`);

  // Play from the line's moment: the speaker's microphone, at the line's offset, advancing.
  await page.click(`${row} button.play`);
  const played = await poll("the recording playing from the line's moment", 15000, () =>
    page.evaluate(() => {
      const p = document.getElementById("player");
      const s = window.gavelReview.playing;
      return s && !p.paused && p.currentTime > s.offset + 0.3 ? { ...s, at: p.currentTime } : null;
    }),
  );
  check(played.file === cfg.file, `the speaker's segment ${cfg.file} plays, not ${played.file}`);
  check(Math.abs(played.offset - cfg.offset) < 0.01, `from ${cfg.offset} s into it, not ${played.offset}`);
  result.played = played;
  await page.screenshot({ path: join(cfg.out, "review-playing.png"), fullPage: true });

  // Correct the line: the new words shown as corrected, the revision counted.
  await page.click(`${row} button.correct`);
  await page.fill(`${row} input[name=text]`, cfg.corrected);
  await page.fill(`${row} input[name=reason]`, cfg.reason);
  await page.click(`${row} button.save`);
  const shown = await poll("the corrected line shown", 10000, () =>
    page.$eval(`${row} td.words`, (td) => td.textContent).then((t) => (t.startsWith(cfg.corrected) && t.includes("corrected") ? t : null)),
  );
  result.shown = shown;
  check((await page.textContent("#revision")) === "revision 1", "the transcript is at revision 1");
  await page.screenshot({ path: join(cfg.out, "review-corrected.png"), fullPage: true });
  console.log(JSON.stringify({ ok: true, ...result }));
} catch (e) {
  await page.screenshot({ path: join(cfg.out, "review-failure.png"), fullPage: true }).catch(() => {});
  const log = await page.evaluate(() => document.body.innerText).catch((err) => String(err));
  console.log(JSON.stringify({ ok: false, error: String(e.message || e), page: log, ...result }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
