// The participants list: each person's name, role and place, and the moderator's controls for
// them, offered from the role table and the court's mute as the server reports it.

import { t } from "./strings.js";
import { $ } from "./ui.js";
import { state, can, command, roleName } from "./state.js";

/** Whether the court's mute holds `kind` of `p`: the server's word (`*_held`) when it gives it,
 *  else what this page's own commands did. */
function courtHeld(p, kind) {
  const told = p[`${kind}_held`];
  return typeof told === "boolean" ? told : state.courtHeld.has(`${p.id}:${kind}`);
}

/** Whether `id` sends a track of `source` to this page: false only when their tracks are known
 *  and none is of that source (say, a party without a camera). */
function publishes(id, source) {
  const theirs = [...(state.media?.trackInfo.values() || [])].filter((i) => i.participant === id);
  return theirs.length === 0 || theirs.some((i) => i.source === source);
}

function controlsFor(p) {
  const out = [];
  if (!state.me || p.id === state.me.id) return out;
  const sequesterable = p.role === "witness" || p.role === "expert";
  if (p.place === "waiting" && can("admit_from_lobby") && p.role !== "witness") {
    out.push(["admit", () => command({ type: "admit", participant: p.id })]);
  }
  if (p.place === "waiting" && can("call_witness") && sequesterable) {
    out.push(["call_in", () => command({ type: "call_witness", participant: p.id })]);
  }
  if (p.place === "main" && can("call_witness") && sequesterable) {
    out.push(["send_out", () => command({ type: "dismiss_witness", participant: p.id })]);
  }
  if (p.place !== "waiting" && can("mute_others")) {
    // The court's mute, not the participant's own: someone who muted themselves may still be
    // muted by the court (so that they cannot unmute), and "allow" lifts only the court's mute.
    out.push(courtHeld(p, "audio")
      ? ["unmute_mod", () => command({ type: "mute", participant: p.id, kind: "audio", muted: false })]
      : ["mute", () => command({ type: "mute", participant: p.id, kind: "audio" })]);
    if (courtHeld(p, "video")) {
      out.push(["allow_video", () => command({ type: "mute", participant: p.id, kind: "video", muted: false })]);
    } else if (publishes(p.id, "camera")) {
      out.push(["stop_video", () => command({ type: "mute", participant: p.id, kind: "video" })]);
    }
  }
  if (can("remove_others")) {
    out.push(["remove", () => { if (confirm(t("confirm_remove", { name: p.name }))) command({ type: "remove", participant: p.id }); }]);
  }
  return out;
}

export function renderRoster() {
  const ul = $("roster");
  ul.replaceChildren();
  for (const p of state.roster.values()) {
    const li = document.createElement("li");
    li.dataset.participant = p.id;
    li.dataset.place = p.place;
    const name = document.createElement("span");
    name.className = "name";
    const you = state.me && p.id === state.me.id ? ` (${t("you")})` : "";
    const place = { waiting: t("waiting"), main: t("in_hearing"), private: t("private") }[p.place];
    name.textContent = `${p.name}${you} — ${roleName(p.role)}, ${place}${p.audio_muted ? " 🔇" : ""}${p.video_muted ? " 📷✕" : ""}`;
    li.append(name);
    const controls = controlsFor(p);
    if (controls.length) {
      const box = document.createElement("span");
      box.className = "controls";
      for (const [key, act] of controls) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = t(key);
        b.dataset.cmd = key;
        b.setAttribute("aria-label", `${t(key)}: ${p.name}`);
        b.onclick = act;
        box.append(b);
      }
      li.append(box);
    }
    ul.append(li);
  }
}
