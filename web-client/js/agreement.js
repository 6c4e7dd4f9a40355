// The mediation agreement on the record page (Art. 16). The mediator writes the agreed terms
// and sends them to the sides; each side that took part reads exactly that text and signs it
// or refuses with a reason; everyone who may read it sees who has decided. A refused agreement
// is drafted again. The page asks the server again every few seconds while it is shown, so a
// new draft or a decision made elsewhere appears without reloading. Every rule (who drafts,
// who signs, what may be written) is the server's; this page only asks.

import { t } from "./strings.js";
import { $, notice } from "./ui.js";

/** How often the agreement is asked for again while the page is shown (ms). */
const REFRESH_MS = 4000;

const state = {
  api: null, // (method, path, body) => JSON, or throws the server's refusal
  me: null, // the join token's claims
  newest: null, // the newest agreement this participant may read
  shown: false, // whether this participant may read agreements at all
  mediation: false, // whether the hearing is a mediation (only a mediation has an agreement)
};
window.gavelAgreement = state;

/** Starts the section: loads what this participant may read, then keeps it current. */
export async function startAgreement(api, me) {
  state.api = api;
  state.me = me;
  $("agreement-draft").onsubmit = (ev) => {
    ev.preventDefault();
    draft().catch((e) => notice(e.message));
  };
  $("agreement-sign").onclick = () => {
    const dialog = $("agreement-confirm");
    $("agreement-confirm-text").textContent = t("agreement_sign_confirm", { n: state.newest.version });
    $("agreement-confirm-sha").textContent = state.newest.sha256;
    dialog.returnValue = "";
    dialog.showModal();
    $("agreement-no").focus();
  };
  $("agreement-confirm").onclose = () => {
    if ($("agreement-confirm").returnValue === "sign") decide("signed");
  };
  $("agreement-refuse").onclick = () => decide("refused");
  const session = await api("GET", "/session").catch(() => null);
  state.mediation = session?.hearing?.kind === "mediation";
  if (!state.mediation) return;
  await refresh();
  setInterval(() => {
    if (document.visibilityState === "visible") refresh().catch(() => {});
  }, REFRESH_MS);
}

/** Whether this participant drafts (the server decides; this only shows the form). */
function isMediator() {
  return state.me?.role === "mediator";
}

/** Whether this participant is a side, asked to sign what the mediator drafts. */
function isSide() {
  return state.me?.role === "party" || state.me?.role === "counsel";
}

async function refresh() {
  let list;
  try {
    list = await state.api("GET", "/agreements");
  } catch {
    state.shown = false; // not theirs to read (an observer), or the server is away
    renderAgreement();
    return;
  }
  state.shown = isMediator() || isSide() || list.length > 0;
  state.newest = list[0] || null;
  renderAgreement();
}

export function renderAgreement() {
  $("agreement").hidden = !state.shown;
  if (!state.shown) return;
  const a = state.newest;
  const mayDraft = isMediator() && !(a?.state === "complete" && a.all_signed);
  const form = $("agreement-draft");
  if (form.hidden && mayDraft && a && !$("agreement-text").value) $("agreement-text").value = a.text;
  form.hidden = !mayDraft;
  $("agreement-state").textContent = a
    ? t(`agreement_state_${a.state}${a.state === "complete" ? (a.all_signed ? "_signed" : "_refused") : ""}`, {
        n: a.version,
        at: new Date(a.drafted_at).toLocaleString(),
        by: a.drafted_by,
      })
    : t("agreement_none");
  $("agreement-terms").textContent = a ? a.text : "";
  $("agreement-terms").hidden = !a;
  $("agreement-sha").textContent = a ? a.sha256 : "";
  $("agreement-sha-line").hidden = !a;
  const list = $("agreement-signers");
  list.replaceChildren();
  let mine = null;
  for (const s of a?.signers || []) {
    const li = document.createElement("li");
    li.dataset.participant = s.participant_id;
    const when = s.at ? new Date(s.at).toLocaleString() : "";
    const decided = s.decision ? t(`decision_${s.decision}`, { at: when, reason: s.reason || "" }) : t("decision_none");
    li.textContent = `${s.name} (${t(`role_${s.role}`)}): ${decided}`;
    list.append(li);
    if (s.participant_id === state.me.sub) mine = s;
  }
  $("agreement-decide").hidden = !(mine && !mine.decision && a.state === "awaiting_signatures");
}

async function draft() {
  const button = $("agreement-send");
  if (button.disabled) return;
  button.disabled = true;
  try {
    state.newest = await state.api("POST", "/agreements", { text: $("agreement-text").value });
    state.shown = true;
    renderAgreement();
    notice(t("agreement_sent", { n: state.newest.version, signers: state.newest.signers.length }));
  } finally {
    button.disabled = false;
  }
}

async function decide(decision) {
  const body = decision === "refused" ? { decision, reason: $("agreement-refusal").value } : { decision };
  try {
    state.newest = await state.api("POST", `/agreements/${state.newest.id}/signatures`, body);
    renderAgreement();
    notice(t(decision === "signed" ? "agreement_you_signed" : "you_refused"));
  } catch (e) {
    // Drafted again or decided meanwhile: shown as it is now, with why.
    await refresh().catch(() => {});
    notice(e.message);
  }
}
