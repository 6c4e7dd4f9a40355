// What every page shows the same way: the status line and passing notices.

import { compose } from "./strings.js";

export const $ = (id) => document.getElementById(id);

/** The page's status line (`#status`); an empty text hides it. A function giving the text
 *  (`() => t(key)`) is asked again when the language is switched. */
export function status(text, isError) {
  const el = $("status");
  if (typeof text === "function") {
    compose(el, text);
  } else {
    // A plain text stays as it is: neither the page's first key nor an earlier text comes back.
    delete el.dataset.i18n;
    delete el.dataset.i18nCompose;
    el.textContent = text;
  }
  el.className = isError ? "error" : "";
  el.hidden = !el.textContent;
}

/** A notice (`#notice`) shown for six seconds. */
export function notice(text) {
  const el = $("notice");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => (el.hidden = true), 6000);
}
