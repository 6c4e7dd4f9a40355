// What every page shows the same way: the status line and passing notices.

export const $ = (id) => document.getElementById(id);

/** The page's status line (`#status`); an empty text hides it. */
export function status(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.className = isError ? "error" : "";
  el.hidden = !text;
}

/** A notice (`#notice`) shown for six seconds. */
export function notice(text) {
  const el = $("notice");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => (el.hidden = true), 6000);
}
