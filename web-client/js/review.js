// The written record's page. For the clerk: the transcript with every line's speaker and
// time, the recording played from that moment (the speaker's own microphone, else the
// composite), and corrections, each saved as a new version with its reason (the server keeps
// the words heard and every version); then the reviewed revision is finalised. For every
// signer: the finalised record, to sign or to refuse with a reason. Every permission is
// enforced by the server; this page only asks.

import { t, translate, toggleLanguage, problemSlug, problemText } from "./strings.js";
import { $, status, notice } from "./ui.js";
import { renderAgreement, startAgreement } from "./agreement.js";

const state = {
  base: null,
  token: null,
  session: null,
  transcript: null, // GET .../transcript
  recording: null, // GET .../recording, loaded on the first play
  blobs: new Map(), // recording file -> object URL
  editing: null, // line id being corrected
  draft: null, // {text, reason} typed into the correction so far (kept across redraws)
  playing: null, // {line, file, offset}
  finalised: null, // the document view, once finalised
  me: null, // the join token's claims (sub: participant id)
  documents: [], // GET .../transcript/documents, newest first
  document: null, // the newest document's view, when this participant may read it
};
// For the end-to-end tests and support staff: read-only use.
window.gavelReview = state;

/** A refusal of the API, said by its problem's slug (`problemText`). A validation error (422)
 *  also shows the server's detail, which names the field at fault. */
class Refusal extends Error {
  constructor(problem, status) {
    super(); // no own `message`: the getter below says it, in the language shown
    this.name = "Refusal";
    this.problem = problem;
    this.status = status;
  }

  /** The problem's slug (`stale-revision`, …): what the page decides on, never the text. */
  get slug() {
    return problemSlug(this.problem);
  }

  get message() {
    const text = problemText(this.problem, this.status);
    return this.status === 422 && this.problem.detail ? `${text} (${this.problem.detail})` : text;
  }
}

/** Calls the API with the join token; resolves to the JSON body or throws its `Refusal`. */
async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body) headers["Content-Type"] = "application/json";
  const res = await fetch(`${state.base}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Refusal(json, res.status);
  return json;
}

/** `HH:MM:SS` of a hearing-clock time, in the viewer's time zone. */
function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.textContent = text;
  tr.append(td);
  return td;
}

function button(label, onclick, cls) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (cls) b.className = cls;
  b.onclick = onclick;
  return b;
}

function render() {
  const tr0 = state.transcript;
  $("revision").textContent = t("revision_n", { n: tr0.revision });
  const body = $("lines");
  body.replaceChildren();
  for (const line of tr0.lines) {
    const tr = document.createElement("tr");
    tr.dataset.line = line.id;
    if (state.playing?.line === line.id) tr.className = "playing";
    cell(tr, clock(line.start_ms), "t");
    cell(tr, `${line.name || line.participant_id} (${t(`role_${line.role}`)})`, "who");
    const words = cell(tr, "", "words");
    if (state.editing === line.id) {
      words.append(editor(line));
    } else if (!line.text && line.gap) {
      words.textContent = t("not_transcribed", { why: line.gap });
      words.classList.add("gap");
    } else {
      words.textContent = line.text;
      if (line.corrections > 0) {
        const c = document.createElement("span");
        c.className = "corrected";
        c.textContent = ` ${t("corrected_n", { n: line.corrections })}`;
        if (line.heard) c.title = t("heard", { text: line.heard });
        words.append(c);
      }
    }
    const actions = cell(tr, "", "actions");
    actions.append(button(t("play"), () => play(line).catch((e) => notice(e.message)), "play"));
    if (state.editing !== line.id && isClerk()) actions.append(button(t("correct"), () => edit(line.id), "correct"));
    body.append(tr);
  }
}

function editor(line) {
  const form = document.createElement("form");
  form.className = "correction";
  state.draft ??= { text: line.text, reason: "" };
  const text = document.createElement("input");
  text.name = "text";
  text.value = state.draft.text;
  text.oninput = () => (state.draft.text = text.value);
  text.setAttribute("aria-label", t("words"));
  text.maxLength = 5000;
  const reason = document.createElement("input");
  reason.name = "reason";
  reason.placeholder = t("reason");
  reason.setAttribute("aria-label", t("reason"));
  reason.maxLength = 500;
  reason.required = true;
  reason.value = state.draft.reason;
  reason.oninput = () => (state.draft.reason = reason.value);
  form.append(text, reason, button(t("save"), null, "save"), button(t("cancel"), () => edit(null)));
  form.querySelector(".save").type = "submit";
  form.onsubmit = (ev) => {
    ev.preventDefault();
    save(line, text.value, reason.value).catch((e) => notice(e.message));
  };
  queueMicrotask(() => text.focus());
  return form;
}

function edit(id) {
  state.editing = id;
  state.draft = null;
  render();
}

/** Only the clerk corrects and finalises (the server refuses anyone else anyway). */
function isClerk() {
  return state.me?.role === "clerk";
}

async function save(line, text, reason) {
  const v = await api("POST", `/transcript/lines/${line.id}/versions`, { text, reason });
  state.editing = null;
  state.draft = null;
  state.transcript = await api("GET", "/transcript");
  render();
  notice(t("saved", { n: v.versions[v.versions.length - 1].revision }));
}

/** The recording file holding `line.start_ms`: the speaker's microphone, else the composite. */
function segmentFor(line) {
  const covers = (s) => s.start_ms <= line.start_ms && line.start_ms < s.end_ms;
  const segs = state.recording.segments;
  return (
    segs.find((s) => s.participant_id === line.participant_id && s.track === "microphone" && covers(s)) ||
    segs.find((s) => s.track === "composite" && covers(s))
  );
}

/** A recording file as an object URL: fetched with the join token (a media element cannot
 *  send it), once each. */
async function fileUrl(seg) {
  let url = state.blobs.get(seg.file);
  if (!url) {
    const res = await fetch(`${state.base}/recording/files/${encodeURIComponent(seg.file)}`, {
      headers: { Authorization: `Bearer ${state.token}` },
    });
    if (!res.ok) throw new Error(`${t("no_recording")} (HTTP ${res.status})`);
    url = URL.createObjectURL(await res.blob());
    state.blobs.set(seg.file, url);
  }
  return url;
}

/** Plays the recording from the moment `line` began, on into the speaker's next segment
 *  while the line lasts (segments are a few seconds long; a line may span two). */
async function play(line) {
  if (!state.recording || !segmentFor(line)) state.recording = await api("GET", "/recording");
  const seg = segmentFor(line);
  if (!seg) throw new Error(t("no_recording"));
  const offset = Math.max(0, (line.start_ms - seg.start_ms) / 1000);
  await playFrom(seg, offset);
  state.playing = { line: line.id, file: seg.file, offset };
  $("playing").textContent = t("playing_from", { time: clock(line.start_ms), who: line.name || line.participant_id });
  // On into the speaker's next segment, while the line lasts.
  let current = seg;
  $("player").onended = () => {
    const next = current.end_ms < line.end_ms && state.recording.segments.find(
      (s) => s.participant_id === current.participant_id && s.track === current.track &&
        Math.abs(s.start_ms - current.end_ms) < 500 && s.start_ms > current.start_ms,
    );
    if (!next) return;
    current = next;
    playFrom(next, 0).catch((e) => notice(e.message));
  };
  for (const tr of $("lines").children) tr.classList.toggle("playing", tr.dataset.line === line.id);
}

async function playFrom(seg, offset) {
  const url = await fileUrl(seg);
  const player = $("player");
  if (player.src !== url) {
    player.src = url;
    await new Promise((resolve, reject) => {
      player.onloadedmetadata = resolve;
      player.onerror = () => reject(new Error(t("no_recording")));
    });
  }
  player.currentTime = offset;
  await player.play();
}

async function finalise() {
  const button = $("finalise");
  if (button.disabled) return;
  button.disabled = true;
  try {
    const doc = await api("POST", "/transcript/documents", { revision: state.transcript.revision });
    state.finalised = doc;
    const el = $("document");
    el.textContent = t("finalised", { n: doc.revision, sha: doc.sha256, signers: doc.signers.length });
    el.hidden = false;
    await loadRecord();
  } catch (e) {
    await refused(e);
  } finally {
    button.disabled = false;
  }
}

/** After finalising was refused: the transcript or the record as it is now, and why. */
async function refused(e) {
  const slug = e instanceof Refusal ? e.slug : "";
  if (slug === "stale-revision") {
    // Corrected meanwhile (another tab or clerk): show the current revision to review again.
    const now = await api("GET", "/transcript").catch(() => null);
    if (now) {
      state.transcript = now;
      render();
      await loadRecord().catch(() => {});
      notice(t("transcript_reloaded", { n: now.revision }));
      return;
    }
  } else if (slug === "revision-finalised" || slug === "revision-signed") {
    // Finalised already (elsewhere, or a second click): show that record.
    await loadRecord().catch(() => {});
  }
  notice(e.message);
}

/** The claims of a join token (its middle part), read only to know who "I" am. */
function claims(token) {
  try {
    const b64 = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)));
  } catch {
    return {};
  }
}

/** Loads the newest finalised record, if this participant may read it. */
async function loadRecord() {
  state.documents = await api("GET", "/transcript/documents");
  const newest = state.documents[0];
  state.document = newest ? await api("GET", `/transcript/documents/${newest.id}`).catch(() => null) : null;
  renderRecord();
}

function renderRecord() {
  const view = state.document;
  $("record").hidden = !view;
  if (!view) return;
  const doc = JSON.parse(view.document);
  $("case-line").textContent = [doc.hearing.case_number, doc.hearing.title, doc.hearing.court].filter(Boolean).join(" — ");
  const at = new Date(view.finalised_at).toLocaleString();
  $("record-state").textContent = t(`record_state_${view.state}`, { n: view.revision, at });
  $("record-sha").textContent = view.sha256;
  const body = $("record-lines");
  body.replaceChildren();
  for (const line of doc.lines) {
    const tr = document.createElement("tr");
    cell(tr, clock(line.start_ms), "t");
    cell(tr, `${line.speaker.name} (${t(`role_${line.speaker.role}`)})`, "who");
    const gap = !line.text && line.gap;
    cell(tr, gap ? t("not_transcribed", { why: line.gap }) : line.text, gap ? "words gap" : "words");
    body.append(tr);
  }
  const list = $("signers");
  list.replaceChildren();
  let mine = null;
  for (const s of view.signers) {
    const li = document.createElement("li");
    li.dataset.participant = s.participant_id;
    const when = s.at ? new Date(s.at).toLocaleString() : "";
    const decided = s.decision ? t(`decision_${s.decision}`, { at: when, reason: s.reason || "" }) : t("decision_none");
    li.textContent = `${s.name} (${t(`role_${s.role}`)}): ${decided}`;
    list.append(li);
    if (s.participant_id === state.me.sub) mine = s;
  }
  $("decide").hidden = !(mine && !mine.decision && view.state === "awaiting_signatures");
}

/** Signing is asked once more, naming what is signed: a signature cannot be taken back. */
function confirmSign() {
  const dialog = $("sign-confirm");
  $("sign-confirm-text").textContent = t("sign_confirm", { n: state.document.revision });
  $("sign-sha").textContent = state.document.sha256;
  dialog.returnValue = "";
  dialog.showModal();
  $("sign-no").focus();
}

async function decide(decision) {
  const body = decision === "refused" ? { decision, reason: $("refusal").value } : { decision };
  try {
    state.document = await api("POST", `/transcript/documents/${state.document.id}/signatures`, body);
    renderRecord();
    notice(t(decision === "signed" ? "you_signed" : "you_refused"));
  } catch (e) {
    // The record may have changed meanwhile (decided elsewhere, or replaced): shown as it is
    // now, so a later revision offers its own decision and an earlier decision is listed.
    const asked = state.document?.id;
    await loadRecord().catch(() => {});
    const replaced = state.document && state.document.id !== asked;
    if (e instanceof Refusal && e.slug === "later-revision-finalised" && replaced) {
      notice(t("record_reloaded", { n: state.document.revision }));
    } else {
      notice(e.message);
    }
  }
}

async function main() {
  translate();
  $("lang").onclick = () => {
    toggleLanguage();
    if (state.transcript) render();
    renderRecord();
    renderAgreement();
  };
  const match = location.pathname.match(/^\/review\/([0-9a-f-]{36})$/);
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (!match || !token) {
    status(() => t("open_link"));
    return;
  }
  state.token = token;
  state.me = claims(token);
  state.base = `/api/v1/hearings/${match[1]}`;
  $("finalise").onclick = finalise;
  $("sign").onclick = confirmSign;
  $("sign-confirm").onclose = () => {
    if ($("sign-confirm").returnValue === "sign") decide("signed");
  };
  $("refuse").onclick = () => decide("refused");
  $("decide").onsubmit = (ev) => ev.preventDefault();
  try {
    await loadRecord();
  } catch (e) {
    if (!(e instanceof Refusal)) throw e; // no answer at all: "unreachable", below
    status(() => `${t("link_refused")}${t("colon")}${e.message}`, true);
    return;
  }
  // The transcript itself is for the court's readers (the clerk corrects it).
  state.transcript = await api("GET", "/transcript").catch(() => null);
  if (state.transcript) {
    const session = await api("GET", "/session").catch(() => null);
    if (session && !state.document) $("case-line").textContent = [session.docket.case_number, session.docket.title].filter(Boolean).join(" — ");
    $("review").hidden = false;
    $("finalise").hidden = $("finalise-hint").hidden = !isClerk();
    render();
  }
  // A mediation's agreement, for the mediator and the sides (the server says who may read it).
  await startAgreement(api, state.me);
  const agreement = !$("agreement").hidden;
  status(state.transcript || state.document || agreement ? "" : () => t("nothing_to_sign"));
}

main().catch((e) => status(() => `${t("unreachable")} (${e.message})`, true));
