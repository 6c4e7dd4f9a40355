// The page's one state, shared by its modules: what the join token opened, who is here, and
// this page's media and connection. Changed only by the hearing client (app.js) in answer to
// the server; the server enforces every permission.

import { t } from "./strings.js";

export const state = {
  session: null, // what the join token opens (GET .../session)
  token: null,
  me: null, // my ParticipantView
  caps: new Set(),
  roster: new Map(),
  tiles: new Map(), // participant id -> tile element
  localStream: null,
  mute: null, // MuteState: my own switches and the court's mute
  courtHeld: new Set(), // "id:kind" the court muted, as far as this page knows (when the view does not say)
  audioOnly: false,
  speaker: null,
  signal: null,
  media: null,
  req: 0,
  pending: new Map(), // req -> the command sent
  quality: null, // loss counters at the last measurement
  conn: { state: null, quality: null }, // the signaling connection; quality while connected
  poorFor: null, // Lasting: a poor connection that lasts (a moment's spike is only shown)
  goodFor: null,
  suggestedAudioOnly: false, // audio only was taken from a suggestion (video is suggested again later)
  recording: false,
  ended: false,
  errors: [], // error answers received, newest last
  log: [], // the last signaling messages received (types), for support
  resumed: 0, // reconnections whose media the server kept
};

/** Whether this participant's role has `cap` (as the server said in `welcome`). */
export function can(cap) {
  return state.caps.has(cap);
}

/** Sends a command with a request number, remembered until the server answers it. */
export function command(msg) {
  const req = ++state.req;
  state.pending.set(req, msg);
  state.signal.send({ ...msg, req });
}

/** The role's name in the page's language. */
export function roleName(role) {
  return t(`role_${role}`);
}
