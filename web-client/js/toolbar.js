// The participant's own controls and the connection's state: the toolbar (microphone, camera,
// screen share, audio only, and the moderator's hearing, recording and caucus buttons), the
// connection line with its quality, and the suggestions above the toolbar that follow the
// quality. Split from app.js, which keeps the hearing's messages, places and tiles.

import { t, translate } from "./strings.js";
import { $ } from "./ui.js";
import { state, can, command } from "./state.js";

/** What the hearing client (app.js) does for the toolbar, given to wireToolbar: `left()` once
 *  Leave was clicked, `audioOnlyChanged()` once audio only was switched (the tiles' sizes). */
let hooks = { left() {}, audioOnlyChanged() {} };

/** The connection line: its state, and while connected its quality (green, amber, red). */
export function renderConn() {
  const el = $("conn");
  const { state: s, quality } = state.conn;
  const shown = s === "connected" && quality ? quality : s;
  el.hidden = !s || s === "closed";
  el.className = shown ? `conn-${shown}` : "";
  el.textContent = el.hidden ? "" : t(shown === quality ? `quality_${quality}` : shown);
  el.dataset.state = s || "";
  if (s === "connected" && quality) el.dataset.quality = quality;
  else delete el.dataset.quality;
}

/** A microphone or camera button: hidden without the device, the court's while its mute holds. */
function renderSwitch(button, kind, [on, off, held]) {
  const m = state.mute;
  button.hidden = !m?.has[kind];
  if (!m) return;
  button.disabled = m.locked(kind);
  button.dataset.held = String(m.held[kind] === true);
  button.textContent = t(m.held[kind] === true ? held : m.want[kind] && !m.locked(kind) ? on : off);
  button.setAttribute("aria-pressed", String(!(m.want[kind] && !m.locked(kind))));
}

export function renderToolbar() {
  renderSwitch($("btn-mic"), "audio", ["mic_on", "mic_off", "mic_held"]);
  renderSwitch($("btn-cam"), "video", ["cam_on", "cam_off", "cam_held"]);
  const share = $("btn-share");
  share.hidden = !can("publish_screen") || state.me?.place === "waiting";
  share.textContent = t(state.media?.screen ? "share_stop" : "share");
  const ao = $("btn-audio-only");
  ao.textContent = t(state.audioOnly ? "audio_only_off" : "audio_only");
  ao.setAttribute("aria-pressed", String(state.audioOnly));
  $("btn-end").hidden = !can("control_hearing");
  const phase = $("btn-phase");
  const next = { open: ["begin_session", "in_session"], in_session: ["recess", "recess"], recess: ["resume", "in_session"] }[state.phase];
  phase.hidden = !can("control_hearing") || !next;
  if (next) {
    phase.textContent = t(next[0]);
    phase.onclick = () => command({ type: "set_hearing_state", state: next[1] });
  }
  // Only those in the hearing itself are recorded (never the waiting area or a caucus).
  $("rec").hidden = !(state.recording && state.me?.place === "main" && state.phase !== "closed" && !state.ended);
  const rec = $("btn-record");
  rec.hidden = !can("control_recording");
  rec.textContent = t(state.recording ? "record_stop" : "record_start");
  rec.onclick = () => {
    const reason = prompt(t("record_reason"), "");
    if (reason && reason.trim()) command({ type: "set_recording", on: !state.recording, reason: reason.trim() });
  };
  const banner = $("phase-banner");
  const bannerText = { recess: "in_recess", open: "not_begun" }[state.phase];
  banner.hidden = !bannerText || !state.me;
  if (bannerText) banner.textContent = t(bannerText);
  const caucus = $("btn-caucus");
  const inCaucus = [...state.roster.values()].some((p) => p.place === "private");
  caucus.hidden = !can("hold_caucus");
  caucus.textContent = t(inCaucus ? "caucus_end" : "caucus_start");
  // A mediation's agreement is drafted and signed on the record page, beside the hearing.
  const agreement = $("btn-agreement");
  agreement.hidden = !(state.session?.hearing?.kind === "mediation" && (can("draft_agreement") || can("sign_agreement")));
  agreement.onclick = () => window.open(location.pathname.replace(/^\/join\//, "/review/") + location.hash, "_blank", "noopener");
}

/** The local tracks send only what the participant switched on and the court allows. */
export function applyLocalState() {
  for (const tr of state.localStream?.getTracks() || []) tr.enabled = state.mute.live(tr.kind);
  renderToolbar();
}

function setAudioOnly(on) {
  state.audioOnly = on;
  state.mute.setAudioOnly(on);
  applyLocalState();
  hooks.audioOnlyChanged();
}

/** Wires the toolbar's buttons once the participant joins; `h`: see `hooks`. */
export function wireToolbar(h) {
  hooks = h;
  $("btn-mic").onclick = () => {
    state.mute.toggle("audio");
    applyLocalState();
  };
  $("btn-cam").onclick = () => {
    state.mute.toggle("video");
    applyLocalState();
  };
  $("btn-share").onclick = async () => {
    try {
      if (state.media.screen) await state.media.stopScreen();
      else await state.media.shareScreen(renderToolbar);
    } catch { /* the user cancelled the picker */ }
    renderToolbar();
  };
  $("btn-audio-only").onclick = () => setAudioOnly(!state.audioOnly);
  $("btn-caucus").onclick = () => {
    const inCaucus = [...state.roster.values()].some((p) => p.place === "private");
    if (inCaucus) return command({ type: "caucus_end" });
    const side = [...state.roster.values()].filter((p) => p.place === "main" && (p.role === "party" || p.role === "counsel") && p.id !== state.me.id);
    const names = side.map((p, i) => `${i + 1}. ${p.name}`).join("\n");
    const pick = prompt(`${t("caucus_start")}:\n${names}`, "1");
    const chosen = (pick || "").split(/[ ,]+/).map((n) => side[Number(n) - 1]).filter(Boolean);
    if (chosen.length) command({ type: "caucus_start", participants: chosen.map((p) => p.id) });
  };
  $("btn-end").onclick = () => { if (confirm(t("confirm_end"))) command({ type: "end_hearing" }); };
  $("btn-leave").onclick = () => {
    state.signal.leave();
    hooks.left();
  };
  state.poorFor = new Lasting(10_000);
  state.goodFor = new Lasting(30_000);
  setInterval(updateQuality, 2000);
}

/** True once a condition has held for `ms` without a break; again only after a break. */
class Lasting {
  constructor(ms) { this.ms = ms; this.since = null; this.fired = false; }
  update(holds, now) {
    if (!holds) { this.since = null; this.fired = false; return false; }
    this.since ??= now;
    if (this.fired || now - this.since < this.ms) return false;
    this.fired = true;
    return true;
  }
}

/** Shows the connection's quality. Audio only is suggested when the connection stays poor
 *  (never switched on silently), and video again once it has recovered. */
async function updateQuality() {
  const q = await state.media?.quality(state.quality);
  if (!q) return;
  state.quality = q.counters;
  if (state.conn.state !== "connected") return;
  state.conn.quality = q.level;
  renderConn();
  const now = performance.now();
  if (state.poorFor.update(q.level === "poor" && !state.audioOnly, now)) {
    suggest("suggest_audio_only", "audio_only", () => { setAudioOnly(true); state.suggestedAudioOnly = true; });
  }
  if (state.goodFor.update(q.level === "good" && state.audioOnly && state.suggestedAudioOnly, now)) {
    suggest("suggest_video", "audio_only_off", () => { setAudioOnly(false); state.suggestedAudioOnly = false; });
  }
}

/** A suggestion above the toolbar, for the participant to take or leave. */
function suggest(textKey, actKey, act) {
  const box = $("suggest");
  $("suggest-text").dataset.i18n = textKey;
  $("suggest-yes").dataset.i18n = actKey;
  translate(box);
  box.hidden = false;
  $("suggest-yes").onclick = () => { box.hidden = true; act(); };
  $("suggest-no").onclick = () => (box.hidden = true);
}
