// What the end-to-end scripts share: expectations and waiting on a condition.

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
