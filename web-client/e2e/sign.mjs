// End-to-end test of finalising and signing the written record in Debian's Chromium
// (playwright-core). Started by tests/it/browser.rs once the hearing has ended, with
// GAVEL_E2E: {"clerk", "party" (the record links), "party_id", "corrected", "judge_join" (a
// join link from before the hearing ended), "out"}. The clerk finalises the reviewed
// revision; the party, opening the link the court sent after the hearing, reads the record
// and signs it (confirming in the page's dialog; on a phone the record fits the screen); the
// judge's old join link leads to the record too. Prints one JSON line; exits non-zero on the
// first failed expectation.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { check, fits, launch } from "./lib.mjs";

const cfg = JSON.parse(process.env.GAVEL_E2E);
mkdirSync(cfg.out, { recursive: true });

const browser = await launch();
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

  // On a phone the record fits the screen (the SHA-256 wraps).
  await party.setViewportSize({ width: 390, height: 844 });
  await party.evaluate(() => document.getElementById("record-sha").scrollIntoView({ block: "center" }));
  await fits(party, { see: ["record-sha"] }, "the record on a 390 px phone");
  await party.screenshot({ path: join(cfg.out, "record-phone.png"), fullPage: true });
  await party.setViewportSize({ width: 1280, height: 900 });

  // Signing asks first, naming the revision and its SHA-256; cancelling signs nothing.
  const mine = `#signers li[data-participant="${cfg.party_id}"]`;
  await party.click("#sign");
  await party.waitForSelector("#sign-confirm", { state: "visible", timeout: 5000 });
  check((await party.textContent("#sign-sha")) === result.sha256, "the confirmation names the SHA-256 signed");
  await party.click("#sign-no");
  await party.waitForSelector("#sign-confirm", { state: "hidden", timeout: 5000 });
  await new Promise((r) => setTimeout(r, 500));
  check((await party.textContent(mine)).includes("not yet decided"), "cancelling signs nothing");
  check(await party.isVisible("#decide"), "the decision is still offered after cancelling");
  await party.click("#sign");
  await party.click("#sign-yes");
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
