// End-to-end test of the mediation agreement in Debian's Chromium (playwright-core). Started by
// tests/it/browser.rs with GAVEL_E2E: {"mediator", "a", "b" (record-page links), "a_id",
// "b_id", "terms", "reason", "out"}. Side B's page is open before anything is drafted; the
// mediator writes the terms and sends them; both sides' pages show exactly that text (B's
// without reloading), A signs (confirming in the dialog), B refuses with a reason, and the
// mediator's page shows the refusal. Screenshots at desktop and phone size, in English and
// Chinese. Prints one JSON line; exits non-zero on the first failed expectation.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { check, fits, launch, poll, setLanguage } from "./lib.mjs";

const cfg = JSON.parse(process.env.GAVEL_E2E);
mkdirSync(cfg.out, { recursive: true });

const browser = await launch();
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 }, locale: "en-US" });
const pages = {};
const result = {};
const text = (page, sel) => page.evaluate((s) => document.querySelector(s)?.innerText ?? "", sel);
try {
  // Side B waits on the page before anything is drafted.
  const b = (pages.b = await context.newPage());
  await b.goto(cfg.b);
  await b.waitForSelector("#agreement", { state: "visible", timeout: 15000 });
  check((await text(b, "#agreement-state")).includes("No agreement"), "nothing drafted yet");
  check(await b.isHidden("#agreement-draft"), "a side does not draft");

  // The mediator writes the terms and sends them.
  const m = (pages.mediator = await context.newPage());
  await m.goto(cfg.mediator);
  await m.waitForSelector("#agreement-draft", { state: "visible", timeout: 15000 });
  await m.fill("#agreement-text", cfg.terms);
  await m.screenshot({ path: join(cfg.out, "agreement-draft.png"), fullPage: true });
  await m.click("#agreement-send");
  await poll("the draft sent", 10000, async () => (await text(m, "#agreement-state")).includes("awaiting"));

  // B's page shows it without reloading, exactly as written.
  await b.waitForSelector("#agreement-decide", { state: "visible", timeout: 15000 });
  check((await text(b, "#agreement-terms")) === cfg.terms, `B reads the terms as written: ${await text(b, "#agreement-terms")}`);
  result.sha256 = await text(b, "#agreement-sha");

  // A opens the link, reads and signs, confirming with the SHA-256 named.
  const a = (pages.a = await context.newPage());
  await a.goto(cfg.a);
  await a.waitForSelector("#agreement-decide", { state: "visible", timeout: 15000 });
  await a.screenshot({ path: join(cfg.out, "agreement-to-sign.png"), fullPage: true });
  await a.click("#agreement-sign");
  await a.waitForSelector("#agreement-confirm", { state: "visible", timeout: 5000 });
  check((await text(a, "#agreement-confirm-sha")) === result.sha256, "the confirmation names the SHA-256 signed");
  await a.click("#agreement-yes");
  const mineA = `#agreement-signers li[data-participant="${cfg.a_id}"]`;
  await a.waitForFunction((sel) => document.querySelector(sel)?.textContent.includes("signed"), mineA, { timeout: 10000 });
  check(await a.isHidden("#agreement-decide"), "no second decision offered");

  // B refuses with a reason; the mediator's page shows it, and offers a new version.
  await b.fill("#agreement-refusal", cfg.reason);
  await b.click("#agreement-refuse");
  await poll("the refusal shown to the mediator", 15000, async () => (await text(m, "#agreement-state")).includes("refused by a side"));
  const mineB = `#agreement-signers li[data-participant="${cfg.b_id}"]`;
  check((await text(m, mineB)).includes(cfg.reason), `the mediator sees B's reason: ${await text(m, mineB)}`);
  check(await m.isVisible("#agreement-draft"), "the mediator may draft again");
  await m.screenshot({ path: join(cfg.out, "agreement-refused.png"), fullPage: true });

  // On a phone, in Chinese, the agreement fits the screen.
  await a.setViewportSize({ width: 390, height: 844 });
  await setLanguage(a, "zh-CN");
  check((await text(a, "#agreement-heading")) === "调解协议", "the heading in Chinese");
  await a.evaluate(() => document.getElementById("agreement-sha").scrollIntoView({ block: "center" }));
  await fits(a, { see: ["agreement-sha"] }, "the agreement on a 390 px phone");
  await a.screenshot({ path: join(cfg.out, "agreement-phone-zh.png"), fullPage: true });
  console.log(JSON.stringify({ ok: true, ...result }));
} catch (e) {
  for (const [who, page] of Object.entries(pages)) {
    await page.screenshot({ path: join(cfg.out, `agreement-failure-${who}.png`), fullPage: true }).catch(() => {});
    result[who] = await page.evaluate(() => document.body.innerText).catch((err) => String(err));
  }
  console.log(JSON.stringify({ ok: false, error: String(e.message || e), ...result }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
