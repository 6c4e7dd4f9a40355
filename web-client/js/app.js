// The hearing client: join link -> details -> pre-join check -> lobby or hearing. Every
// permission is enforced by the server; controls a role lacks are simply not shown.

import { t, translate, toggleLanguage } from "./strings.js";
import { $, status, notice } from "./ui.js";
import { Signal } from "./signal.js";
import { Media } from "./media.js";
import * as precheck from "./precheck.js";

const state = {
  session: null, // what the join token opens (GET .../session)
  token: null,
  me: null, // my ParticipantView
  caps: new Set(),
  roster: new Map(),
  tiles: new Map(), // participant id -> tile element
  localStream: null,
  mic: true,
  cam: true,
  audioOnly: false,
  speaker: null,
  signal: null,
  media: null,
  req: 0,
  pending: new Map(), // req -> description, for error messages
  quality: null,
  errors: [], // error answers received, newest last
  log: [], // the last signaling messages received (types), for support
  resumed: 0, // reconnections whose media the server kept
};

// For the end-to-end tests and for support staff debugging a session: read-only use.
window.gavel = state;

function show(section) {
  const visible = section === "precheck" ? ["details", "precheck"] : [section];
  for (const id of ["details", "precheck", "lobby", "room", "ended"]) $(id).hidden = !visible.includes(id);
  $("toolbar").hidden = section !== "room" && section !== "lobby";
}

function roleName(role) {
  return t(`role_${role}`);
}

async function main() {
  translate();
  $("lang").onclick = () => { toggleLanguage(); renderAll(); };
  const match = location.pathname.match(/^\/join\/([0-9a-f-]{36})$/);
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (!match || !token) {
    status(t("open_link"));
    return;
  }
  state.token = token;
  state.base = `/api/v1/hearings/${match[1]}`;
  const res = await fetch(`${state.base}/session`, { headers: { Authorization: `Bearer ${token}` } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    // After the hearing, the link opens its written record (to read and sign) instead.
    if (res.status === 403 && body.detail === "this hearing has ended") {
      location.replace(`/review/${match[1]}${location.hash}`);
      return;
    }
    status(`${t("link_refused")}: ${body.detail || `HTTP ${res.status}`}`, true);
    return;
  }
  state.session = body;
  state.phase = body.hearing.state;
  $("case").textContent = `${body.docket.case_number} — ${body.docket.title}`;
  $("court").textContent = body.docket.court;
  $("hearing").textContent = `${body.hearing.title || body.hearing.kind.replace("_", "-")} (${body.hearing.state.replace("_", " ")})`;
  $("scheduled").textContent = new Date(body.hearing.scheduled_start).toLocaleString();
  $("who").textContent = `${body.display_name}, ${roleName(body.role)}`;
  $("case-line").textContent = body.docket.case_number;
  status(t("link_valid"));
  show("precheck");
  await runPrecheck();
}

async function runPrecheck() {
  const caps = new Set(state.session.capabilities);
  for (const id of ["camera", "microphone", "network", "udp"]) precheck.report(id, "pending", "");
  precheck.report("speakers", "manual", "");
  $("speaker-test").onclick = precheck.testSpeakers;
  $("join").onclick = join;
  const devices = precheck.checkDevices(caps.has("publish_audio"), caps.has("publish_video"), $("preview"), $("mic-level"));
  const network = precheck
    .checkNetwork(state.base, state.token, state.session.requirements)
    .then((n) => { if (n.weak) $("audio-only-start").checked = true; })
    .catch(() => precheck.report("network", "fail", t("unreachable")));
  const udp = precheck.checkUdp(state.base, state.token).catch(() => precheck.report("udp", "fail", t("udp_fail")));
  // Joining may be clicked before the devices answer: publishing waits for them.
  state.devicesReady = devices.then((stream) => (state.localStream = stream));
  await Promise.all([state.devicesReady, network, udp]);
}

function join() {
  if (state.signal) return; // a double click joins once
  $("join").disabled = true;
  state.joinClicked = performance.now();
  state.audioOnly = $("audio-only-start").checked;
  status("");
  // Messages are handled one at a time, in order: a negotiation must finish before the next
  // description is applied.
  let queue = Promise.resolve();
  const handle = (msg) => {
    queue = queue.then(() => onMessage(msg)).catch((e) => console.error("message handling failed", e));
  };
  state.signal = new Signal(state.token, { onMessage: handle, onState });
  state.media = new Media(state.signal, { onTrack, onTrackEnded });
  wireToolbar();
  state.signal.connect();
}

function onState(s) {
  const el = $("conn");
  el.hidden = false;
  el.dataset.state = s;
  el.textContent = s === "closed" ? "" : t(s);
}

async function onMessage(msg) {
  state.log.push(`${msg.type}@${Math.round(performance.now())}`);
  if (state.log.length > 100) state.log.shift();
  switch (msg.type) {
    case "welcome": {
      state.me = msg.you;
      state.caps = new Set(msg.capabilities);
      if (msg.media_resumed) state.resumed += 1;
      if (!msg.media_resumed) {
        state.media.reset();
        clearRemote();
        await state.devicesReady;
        if (state.localStream) {
          applyLocalState();
          await state.media.publish(state.localStream);
        }
      }
      enterPlace(msg.you.place);
      break;
    }
    case "roster":
      state.roster = new Map(msg.participants.map((p) => [p.id, p]));
      if (state.me && state.roster.has(state.me.id)) state.me = state.roster.get(state.me.id);
      renderAll();
      break;
    case "moved":
      state.me.place = msg.place;
      if (msg.reason === "dismissed") notice(t("sent_out"));
      enterPlace(msg.place);
      break;
    case "muted":
      if (msg.kind === "audio") { state.mic = false; notice(t("muted_by_moderator")); }
      else { state.cam = false; notice(t("video_stopped_by_moderator")); }
      applyLocalState();
      state.signal.send({ type: "set_muted", kind: msg.kind, muted: true });
      break;
    case "active_speaker":
      state.speaker = msg.participant;
      for (const [id, tile] of state.tiles) tile.classList.toggle("speaking", id === state.speaker);
      break;
    case "publish_answer":
      await state.media.onPublishAnswer(msg.sdp);
      break;
    case "subscribe_offer":
      await state.media.onSubscribeOffer(msg.sdp, msg.tracks);
      break;
    case "notice":
      if (msg.code === "recording.on" || msg.code === "recording.off") {
        state.recording = msg.code === "recording.on";
        renderToolbar();
      }
      notice(msg.text);
      break;
    case "caption":
      addCaption(msg);
      break;
    case "hearing_state":
      state.phase = msg.state;
      renderAll();
      break;
    case "error":
      state.errors.push(msg);
      notice(t("refused", { why: msg.message }));
      break;
    case "ended":
      end(msg.reason);
      break;
    default:
      break;
  }
}

function enterPlace(place) {
  if (place === "waiting") {
    $("lobby-text").textContent = state.me.role === "witness" || state.me.role === "expert" ? t("witness_wait") : t("lobby_wait");
    show("lobby");
  } else {
    show("room");
    showSelf();
  }
  renderAll();
}

/** My own camera, mirrored, in a tile of its own (never my own sound). */
function showSelf() {
  const video = state.localStream?.getVideoTracks()[0];
  if (!video || !state.me) return;
  const tile = tileFor(state.me.id);
  tile.classList.add("self");
  const el = tile.querySelector("video");
  if (!el.srcObject) {
    el.srcObject = new MediaStream([video]);
    el.play().catch(() => {});
  }
}

function end(reason) {
  const text = {
    removed: "ended_removed", replaced: "ended_replaced", hearing_ended: "ended_hearing", protocol_violation: "ended_violation",
  }[reason] || "ended_hearing";
  $("ended-text").textContent = t(text);
  state.media?.reset();
  state.localStream?.getTracks().forEach((tr) => tr.stop());
  show("ended");
}

// ---- tiles ----

function tileFor(id) {
  let tile = state.tiles.get(id);
  if (!tile) {
    tile = document.createElement("figure");
    tile.className = "tile";
    tile.dataset.participant = id;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // sound plays through the audio element
    const audio = document.createElement("audio");
    audio.autoplay = true;
    const cap = document.createElement("figcaption");
    tile.append(video, audio, cap);
    $("tiles").append(tile);
    state.tiles.set(id, tile);
  }
  return tile;
}

function onTrack(track, info) {
  if (info.source === "screen") {
    let tile = document.querySelector(`.tile.screen[data-participant="${info.participant}"]`);
    if (!tile) {
      tile = document.createElement("figure");
      tile.className = "tile screen";
      tile.dataset.participant = info.participant;
      const video = document.createElement("video");
      video.autoplay = true;
      video.playsInline = true;
      video.muted = true;
      tile.append(video, document.createElement("figcaption"));
      $("tiles").prepend(tile);
    }
    tile.querySelector("video").srcObject = new MediaStream([track]);
    tile.dataset.track = track.id;
    renderAll();
    return;
  }
  const tile = tileFor(info.participant);
  const el = tile.querySelector(track.kind === "audio" ? "audio" : "video");
  el.srcObject = new MediaStream([track]);
  el.play().catch(() => {});
  if (track.kind === "video") {
    tile.dataset.track = track.id;
    sendVideoSize(tile);
  }
  renderAll();
}

function onTrackEnded(track) {
  const screen = document.querySelector(`.tile.screen[data-track="${track.id}"]`);
  if (screen) screen.remove();
}

function clearRemote() {
  for (const tile of state.tiles.values()) tile.remove();
  state.tiles.clear();
  document.querySelectorAll(".tile.screen").forEach((el) => el.remove());
}

/** Tells the server how tall a tile is shown (0 in audio-only mode), for simulcast. */
function sendVideoSize(tile) {
  if (!tile.dataset.track) return;
  const height = state.audioOnly ? 0 : Math.round(tile.clientHeight * (window.devicePixelRatio || 1));
  state.signal.send({ type: "video_size", track: tile.dataset.track, height: Math.min(height, 4320) });
}

// ---- roster and controls ----

function can(cap) {
  return state.caps.has(cap);
}

function command(msg, what) {
  const req = ++state.req;
  state.pending.set(req, what);
  state.signal.send({ ...msg, req });
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
    // A muted participant may have muted themselves; "allow" lifts only the court's mute.
    out.push(p.audio_muted
      ? ["unmute_mod", () => command({ type: "mute", participant: p.id, kind: "audio", muted: false })]
      : ["mute", () => command({ type: "mute", participant: p.id, kind: "audio" })]);
    out.push(p.video_muted
      ? ["allow_video", () => command({ type: "mute", participant: p.id, kind: "video", muted: false })]
      : ["stop_video", () => command({ type: "mute", participant: p.id, kind: "video" })]);
  }
  if (can("remove_others")) {
    out.push(["remove", () => { if (confirm(t("confirm_remove", { name: p.name }))) command({ type: "remove", participant: p.id }); }]);
  }
  return out;
}

function renderAll() {
  translate();
  renderRoster();
  renderTiles();
  renderToolbar();
}

function renderRoster() {
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

function renderTiles() {
  for (const [id, tile] of state.tiles) {
    const p = state.roster.get(id);
    if (!p || p.place === "waiting") {
      tile.hidden = true;
      continue;
    }
    tile.hidden = false;
    const self = state.me && id === state.me.id;
    tile.classList.toggle("presiding", !self && (p.role === "judge" || p.role === "mediator"));
    tile.classList.toggle("speaking", id === state.speaker);
    tile.classList.toggle("audio-only", state.audioOnly || p.video_muted);
    tile.querySelector("figcaption").textContent =
      `${p.name} — ${roleName(p.role)}${p.role === "judge" ? ` (${t("presiding")})` : ""}${p.audio_muted ? " 🔇" : ""}`;
  }
  for (const tile of document.querySelectorAll(".tile.screen")) {
    const p = state.roster.get(tile.dataset.participant);
    tile.querySelector("figcaption").textContent = t("screen_of", { name: p ? p.name : "" });
  }
}

function renderToolbar() {
  const mic = $("btn-mic");
  mic.textContent = t(state.mic ? "mic_on" : "mic_off");
  mic.setAttribute("aria-pressed", String(!state.mic));
  mic.hidden = !can("publish_audio");
  const cam = $("btn-cam");
  cam.textContent = t(state.cam ? "cam_on" : "cam_off");
  cam.setAttribute("aria-pressed", String(!state.cam));
  cam.hidden = !can("publish_video");
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
  $("rec").hidden = !state.recording;
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
}

function applyLocalState() {
  state.media?.setMicEnabled(state.mic);
  state.media?.setCameraEnabled(state.cam && !state.audioOnly);
  renderToolbar();
}

function wireToolbar() {
  $("btn-mic").onclick = () => {
    state.mic = !state.mic;
    applyLocalState();
    state.signal.send({ type: "set_muted", kind: "audio", muted: !state.mic });
  };
  $("btn-cam").onclick = () => {
    state.cam = !state.cam;
    applyLocalState();
    state.signal.send({ type: "set_muted", kind: "video", muted: !state.cam });
  };
  $("btn-share").onclick = async () => {
    try {
      if (state.media.screen) await state.media.stopScreen();
      else await state.media.shareScreen(renderToolbar);
    } catch { /* the user cancelled the picker */ }
    renderToolbar();
  };
  $("btn-audio-only").onclick = () => {
    state.audioOnly = !state.audioOnly;
    applyLocalState();
    state.signal.send({ type: "set_muted", kind: "video", muted: state.audioOnly || !state.cam });
    for (const tile of state.tiles.values()) sendVideoSize(tile);
    renderTiles();
  };
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
    state.media.reset();
    state.localStream?.getTracks().forEach((tr) => tr.stop());
    $("ended-text").textContent = t("left");
    show("ended");
  };
  // Tile sizes go to the server once the window has settled, not on every resize event.
  let resized = null;
  window.addEventListener("resize", () => {
    clearTimeout(resized);
    resized = setTimeout(() => { for (const tile of state.tiles.values()) sendVideoSize(tile); }, 400);
  });
  setInterval(updateQuality, 2000);
}

/** Connection quality from the subscribe connection's statistics: loss and round trip. */
async function updateQuality() {
  const pc = state.media?.sub || state.media?.pub;
  if (!pc) return;
  let lost = 0, received = 0, rtt = 0;
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp") { lost += s.packetsLost || 0; received += s.packetsReceived || 0; }
    if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime) rtt = s.currentRoundTripTime * 1000;
  });
  const prev = state.quality || { lost, received };
  const dl = lost - prev.lost, dr = received - prev.received;
  const loss = dr + dl > 0 ? dl / (dr + dl) : 0;
  state.quality = { lost, received };
  const level = loss > 0.08 || rtt > 600 ? "poor" : loss > 0.02 || rtt > 300 ? "fair" : "good";
  const el = $("conn");
  if (el.dataset.state === "connected") {
    el.dataset.quality = level;
    el.textContent = t(`quality_${level}`);
  }
}

function addCaption(msg) {
  const box = $("captions");
  box.querySelector(".hint")?.remove();
  const p = document.createElement("p");
  const who = state.roster.get(msg.participant);
  p.textContent = `${who ? who.name : ""}: ${msg.text}`;
  box.append(p);
  while (box.children.length > 50) box.firstChild.remove();
  box.scrollTop = box.scrollHeight;
}

main().catch((e) => {
  console.error(e);
  status(t("unreachable"), true);
});
