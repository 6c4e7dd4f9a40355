// End-to-end test of finalising and signing the written record in Debian's Chromium
// (playwright-core). Started by tests/it/browser.rs once the hearing has ended, with
// GAVEL_E2E: {"clerk", "party" (the record links), "party_id", "corrected", "judge_join" (a
// join link from before the hearing ended), "out"}. The clerk finalises the reviewed
// revision; the party, opening the link the court sent after the hearing, reads the record
// and signs it; the judge's old join link leads to the record too. Prints one JSON line; exits non-zero on the first
// failed expectation.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { check } from "./lib.mjs";

const cfg = JSON.parse(process.env.GAVEL_E2E);
mkdirSync(cfg.out, { recursive: true });
const ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--ignore-certificate-errors"];

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ARGS });
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 }, locale: "en-US" });
const pages = {};
const result = {};
try {
  // The clerk finalises what they reviewed.
  const clerk = (pages.clerk = await context.newPage());
  await clerk.goto(cfg.clerk);
  await clerk.waitForSelector("#finalise", { state: "visible", timeout: 15000 });
  await clerk.click("#finalise");
  await clerk.waitForSelector("#record", { state: "visible", timeout: 10000 });
  const state = await clerk.textContent("#record-state");
  check(state.includes("awaiting signatures"), `the record awaits signatures: ${state}`);

  // The party reads it from their link and signs.
  const party = (pages.party = await context.newPage());
  await party.goto(cfg.party);
  await party.waitForSelector("#decide", { state: "visible", timeout: 15000 });
  check(await party.isHidden("#review"), "a party does not see the clerk's review");
  const words = await party.$$eval("#record-lines td.words", (tds) => tds.map((td) => td.textContent));
  check(words.includes(cfg.corrected), `the corrected words are in the record: ${JSON.stringify(words)}`);
  result.sha256 = await party.textContent("#record-sha");
  await party.screenshot({ path: join(cfg.out, "record-to-sign.png"), fullPage: true });
  await party.click("#sign");
  const mine = `#signers li[data-participant="${cfg.party_id}"]`;
  await party.waitForFunction((sel) => document.querySelector(sel)?.textContent.includes("signed"), mine, { timeout: 10000 });
  check(await party.isHidden("#decide"), "no second decision offered");
  await party.screenshot({ path: join(cfg.out, "record-signed.png"), fullPage: true });

  // A join link from before the hearing ended leads to the record, not to an error.
  const judge = (pages.judge = await context.newPage());
  await judge.goto(cfg.judge_join);
  await judge.waitForSelector("#decide", { state: "visible", timeout: 15000 });
  check(new URL(judge.url()).pathname.startsWith("/review/"), `the judge is on the record page: ${judge.url()}`);
  console.log(JSON.stringify({ ok: true, ...result }));
} catch (e) {
  for (const [who, page] of Object.entries(pages)) {
    await page.screenshot({ path: join(cfg.out, `sign-failure-${who}.png`), fullPage: true }).catch(() => {});
    result[who] = await page.evaluate(() => document.body.innerText).catch((err) => String(err));
  }
  console.log(JSON.stringify({ ok: false, error: String(e.message || e), ...result }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
