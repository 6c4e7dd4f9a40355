// The hearing client: join link -> details -> pre-join check -> lobby or hearing. Every
// permission is enforced by the server; controls a role lacks are simply not shown.

import { t, translate, toggleLanguage, problemSlug, problemText, knownProblem, compose } from "./strings.js";
import { $, status, notice } from "./ui.js";
import { Signal } from "./signal.js";
import { Media, MuteState } from "./media.js";
import * as precheck from "./precheck.js";
import { state, can, roleName } from "./state.js";
import { renderRoster } from "./roster.js";
import { renderConn, renderToolbar, applyLocalState, wireToolbar } from "./toolbar.js";

// For the end-to-end tests and for support staff debugging a session: read-only use.
window.gavel = state;

function show(section) {
  const visible = section === "precheck" ? ["details", "precheck"] : [section];
  for (const id of ["details", "precheck", "lobby", "room", "ended"]) $(id).hidden = !visible.includes(id);
  $("toolbar").hidden = section !== "room" && section !== "lobby";
  if ($("toolbar").hidden) $("suggest").hidden = true;
}

async function main() {
  translate();
  $("lang").onclick = () => { toggleLanguage(); renderAll(); };
  // The fixed toolbar's height, so that nothing is left hidden behind it (style.css).
  const dock = $("dock");
  new ResizeObserver(() => document.documentElement.style.setProperty("--dock-h", `${dock.offsetHeight}px`)).observe(dock);
  const match = location.pathname.match(/^\/join\/([0-9a-f-]{36})$/);
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (!match || !token) {
    status(() => t("open_link"));
    return;
  }
  state.token = token;
  state.base = `/api/v1/hearings/${match[1]}`;
  const res = await fetch(`${state.base}/session`, { headers: { Authorization: `Bearer ${token}` } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    // After the hearing, the link opens its written record (to read and sign) instead.
    if (res.status === 403 && problemSlug(body) === "hearing-ended") {
      location.replace(`/review/${match[1]}${location.hash}`);
      return;
    }
    status(() => `${t("link_refused")}${t("colon")}${problemText(body, res.status)}`, true);
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
  status(() => t("link_valid"));
  show("precheck");
  await runPrecheck();
}

async function runPrecheck() {
  for (const id of ["network", "udp"]) precheck.report(id, "pending", "");
  precheck.report("speakers", "manual", "");
  $("speaker-test").onclick = precheck.testSpeakers;
  $("join").onclick = join;
  $("device-retry").onclick = () => {
    state.localStream?.getTracks().forEach((tr) => tr.stop());
    checkDevices();
  };
  // A weak network is pointed out; choosing audio only stays the participant's decision.
  const network = precheck
    .checkNetwork(state.base, state.token, state.session.requirements)
    .then((n) => { $("audio-only-hint").hidden = !n.weak; })
    .catch(() => precheck.report("network", "fail", t("unreachable")));
  const udp = precheck.checkUdp(state.base, state.token).catch(() => precheck.report("udp", "fail", t("udp_fail")));
  await Promise.all([checkDevices(), network, udp]);
}

/** Asks for the camera and microphone (again, after Retry); a device that fails is explained
 *  in its row, with a warning and Retry. Joining may be clicked before the devices answer:
 *  publishing waits for them. */
function checkDevices() {
  const caps = new Set(state.session.capabilities);
  for (const id of ["camera", "microphone"]) precheck.report(id, "pending", "");
  $("device-warning").hidden = true;
  $("device-retry").disabled = true;
  state.devicesReady = precheck
    .checkDevices(caps.has("publish_audio"), caps.has("publish_video"), $("preview"), $("mic-level"))
    .then(({ stream, problems }) => {
      state.localStream = stream;
      $("device-warning").hidden = Object.keys(problems).length === 0;
      $("device-retry").disabled = false;
      return stream;
    });
  return state.devicesReady;
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
  state.mute = new MuteState((msg) => state.signal.send(msg), () => state.signal.ping());
  state.mute.audioOnly = state.audioOnly;
  wireToolbar({
    left: () => finish("left"),
    audioOnlyChanged: () => {
      sendVideoSizes();
      renderTiles();
    },
  });
  // Tile sizes go to the server once the window has settled, not on every resize event.
  let resized = null;
  window.addEventListener("resize", () => {
    clearTimeout(resized);
    resized = setTimeout(sendVideoSizes, 400);
  });
  state.signal.connect();
}

function onState(s, code, reason) {
  state.conn = { state: s, quality: null };
  renderConn();
  if (s === "closed" && !state.me) joinRefused(code, reason);
}

/** The server refused the join (an expired or revoked link, say) before any welcome: the Join
 *  button goes, and the page says why and what to do instead. The close reason is the
 *  refusal's slug, as in the API's problem documents. */
function joinRefused(code, reason) {
  if (code === 4401 && reason === "hearing-ended") {
    // Ended meanwhile: the link opens the hearing's written record instead.
    location.replace(location.pathname.replace(/^\/join\//, "/review/") + location.hash);
    return;
  }
  const link = code === 4401 || state.errors.some((e) => e.code === "unauthorized");
  $("join").hidden = true;
  const el = $("join-error");
  if (code === 4401 && knownProblem(reason)) {
    delete el.dataset.i18n;
    compose(el, () => problemText({ type: `/problems/${reason}` }));
  } else {
    el.dataset.i18n = link ? "join_refused_link" : "join_failed";
  }
  el.hidden = false;
  translate(el.parentElement);
}

async function onMessage(msg) {
  state.log.push(`${msg.type}@${Math.round(performance.now())}`);
  if (state.log.length > 100) state.log.shift();
  switch (msg.type) {
    case "welcome": {
      const fresh = !state.me;
      state.me = msg.you;
      state.caps = new Set(msg.capabilities);
      if (msg.media_resumed) state.resumed += 1;
      else {
        state.media.reset();
        clearRemote();
        await state.devicesReady;
      }
      // Which devices there are (null: the role may not publish that kind at all).
      const has = (kind, cap) => (can(cap) ? Boolean(state.localStream?.getTracks().some((tr) => tr.kind === kind)) : null);
      state.mute.has = { audio: has("audio", "publish_audio"), video: has("video", "publish_video") };
      tell(state.mute.welcome(msg.you, fresh));
      applyLocalState();
      if (!msg.media_resumed && state.localStream) await state.media.publish(state.localStream);
      enterPlace(msg.you.place);
      break;
    }
    case "roster":
      state.roster = new Map(msg.participants.map((p) => [p.id, p]));
      for (const p of state.roster.values()) {
        for (const kind of ["audio", "video"]) if (!p[`${kind}_muted`]) state.courtHeld.delete(`${p.id}:${kind}`);
      }
      if (state.me && state.roster.has(state.me.id)) {
        state.me = state.roster.get(state.me.id);
        tell(state.mute.roster(state.me));
        applyLocalState();
      }
      renderAll();
      break;
    case "moved":
      state.me.place = msg.place;
      if (msg.reason === "dismissed") notice(t("sent_out"));
      enterPlace(msg.place);
      break;
    case "muted":
      tell(state.mute.courtMuted(msg.kind));
      applyLocalState();
      break;
    case "pong":
      tell(state.mute.pong(msg.id));
      applyLocalState();
      break;
    case "ok": {
      // The court's mutes this page made hold until lifted (the view may not say whose mute it is).
      const sent = state.pending.get(msg.req);
      state.pending.delete(msg.req);
      if (sent?.type === "mute") {
        const key = `${sent.participant}:${sent.kind}`;
        if (sent.muted === false) state.courtHeld.delete(key);
        else state.courtHeld.add(key);
        renderRoster();
      }
      break;
    }
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
      notice(noticeText(msg));
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
      state.pending.delete(msg.req);
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

/** Notices to show (strings.js keys). */
function tell(keys) {
  for (const key of keys) notice(t(key));
}

function end(reason) {
  const text = {
    removed: "ended_removed", replaced: "ended_replaced", hearing_ended: "ended_hearing", protocol_violation: "ended_violation",
  }[reason] || "ended_hearing";
  finish(text);
}

/** The page's part in the hearing is over (ended, or left): media off, no recording badge. */
function finish(text) {
  state.ended = true;
  $("ended-text").textContent = t(text);
  state.media?.reset();
  state.localStream?.getTracks().forEach((tr) => tr.stop());
  show("ended");
  renderToolbar();
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

/** Every tile's size again: after a resize, or audio only switched. */
function sendVideoSizes() {
  for (const tile of state.tiles.values()) sendVideoSize(tile);
}

// ---- the page, redrawn (the toolbar: toolbar.js) ----

function renderAll() {
  translate();
  renderRoster();
  renderTiles();
  renderToolbar();
  renderConn();
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


/** A caption line; the panel follows the newest unless the reader has scrolled back. */
function addCaption(msg) {
  const box = $("captions");
  box.querySelector(".hint")?.remove();
  const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
  const p = document.createElement("p");
  const who = state.roster.get(msg.participant);
  // The speaker's name and words, joined as the page's language writes it (a full-width
  // colon in Chinese).
  p.textContent = t("caption_line", { name: who ? who.name : "", text: msg.text });
  box.append(p);
  while (box.children.length > 50) box.firstChild.remove();
  if (atEnd) box.scrollTop = box.scrollHeight;
}

main().catch((e) => {
  console.error(e);
  status(() => t("unreachable"), true);
});

/** Notices the client knows say it in the page's language, naming whom they are about from
 *  the roster; any other is shown as the server worded it. */
const NOTICE_WORDS = {
  "device.lost": "notice_device_lost",
  "device.back": "notice_device_back",
  "recording.on": "notice_recording_on",
  "recording.off": "notice_recording_off",
};
function noticeText(msg) {
  const key = NOTICE_WORDS[msg.code];
  if (!key) return msg.text;
  const name = (msg.participant && state.roster.get(msg.participant)?.name) || t("role_courtroom");
  return t(key, { name });
}
