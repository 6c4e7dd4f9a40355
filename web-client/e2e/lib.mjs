// What the end-to-end scripts share: how Chromium is started, expectations, waiting on a
// condition, and how a page fits its window.

import { chromium } from "playwright-core";

/** Debian's Chromium, headless, quiet on this closed network, trusting the server's
 *  self-signed certificate, playing media without a gesture; with `fakeMedia`, a fake camera
 *  and microphone granted without asking. */
export function launch({ fakeMedia = false } = {}) {
  const args = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--ignore-certificate-errors",
    "--autoplay-policy=no-user-gesture-required",
  ];
  if (fakeMedia) args.push("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream");
  return chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args });
}

/** Throws (failing the script) unless `cond`. */
export function check(cond, what) {
  if (!cond) throw new Error(`expectation failed: ${what}`);
}

/** Waits until `fn` gives a truthy value (returned), polling every 100 ms. */
export async function poll(what, timeoutMs, fn) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** How the page sits in its window: `width` and `scrollWidth` (wider means a sideways scroll)
 *  and, for each element id in `tap` and `see`, why it cannot be seen ("" when it can): hidden
 *  or outside the window; for `tap` also under another element (a fixed toolbar, say). */
export function layout(page, { tap = [], see = [] }) {
  return page.evaluate(({ tap, see }) => {
    const w = window.innerWidth, h = window.innerHeight;
    const why = (id, hitTest) => {
      const el = document.getElementById(id);
      if (!el) return "missing";
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height) return "hidden";
      if (r.left < 0 || r.top < 0 || r.right > w || r.bottom > h) return `outside: ${[r.left, r.top, r.right, r.bottom].map(Math.round)} in ${w}x${h}`;
      const hit = hitTest && document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      return !hitTest || el.contains(hit) ? "" : `under ${hit?.id || hit?.tagName}`;
    };
    const off = Object.fromEntries([...tap.map((id) => [id, why(id, true)]), ...see.map((id) => [id, why(id, false)])]);
    return { width: w, scrollWidth: document.documentElement.scrollWidth, off };
  }, { tap, see });
}

/** Expects that nothing scrolls sideways and that the elements can be seen (and tapped). */
export async function fits(page, ids, what) {
  const l = await layout(page, ids);
  const off = Object.entries(l.off).filter(([, why]) => why);
  check(l.scrollWidth <= l.width && off.length === 0,
    `${what}: the page is ${l.scrollWidth} px wide in ${l.width}; ${JSON.stringify(Object.fromEntries(off))}`);
  return l;
}

/** Switches the page to `lang` ("en" or "zh-CN") with its language button. */
export async function setLanguage(page, lang) {
  for (let i = 0; i < 2 && (await page.evaluate(() => document.documentElement.lang)) !== lang; i++) {
    await page.evaluate(() => document.getElementById("lang").click());
  }
  check((await page.evaluate(() => document.documentElement.lang)) === lang, `the page is in ${lang}`);
}

/** Joins from the pre-join check, as a participant does: waits for the Join button and the
 *  checks, clicks Join and waits for the room (`roomTimeout` ms). A click the page never got
 *  (the button still enabled, the room not shown after 5 s: it lands elsewhere when the page
 *  moves under the pointer on a loaded machine) is made again, and counted in the result. */
export async function joinFromPrecheck(page, { timeout = 30000, roomTimeout = 20000 } = {}) {
  await page.waitForSelector("#join:not([disabled])", { timeout });
  await page.waitForSelector("#precheck:not([hidden])", { timeout });
  let missed = 0;
  const deadline = Date.now() + roomTimeout;
  for (;;) {
    await page.click("#join");
    const left = Math.max(1, Math.min(5000, deadline - Date.now()));
    try {
      await page.waitForSelector("#room:not([hidden])", { timeout: left });
      return { missed };
    } catch (e) {
      const again = Date.now() < deadline && await page.isEnabled("#join").catch(() => false)
        && await page.isVisible("#join").catch(() => false);
      if (!again) throw e;
      missed += 1;
    }
  }
}
