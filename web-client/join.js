// Join page: reads the join token from the URL fragment (never sent to servers or logs),
// asks the server what it opens, and shows the case, hearing and role before anything else.
// The full hearing client (pre-join check, lobby, media) builds on this page.

const $ = (id) => document.getElementById(id);

function show(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.className = isError ? "error" : "";
}

async function main() {
  const match = location.pathname.match(/^\/join\/([0-9a-f-]{36})$/);
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (!match || !token) {
    show("Open the join link the court sent you. It contains your personal access code.", false);
    return;
  }
  const res = await fetch(`/api/v1/hearings/${match[1]}/session`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    show(body.detail || `The join link could not be used (HTTP ${res.status}).`, true);
    return;
  }
  $("case").textContent = `${body.docket.case_number} — ${body.docket.title}`;
  $("court").textContent = body.docket.court;
  $("hearing").textContent = `${body.hearing.title || body.hearing.kind.replace("_", "-")} (${body.hearing.state.replace("_", " ")})`;
  $("scheduled").textContent = new Date(body.hearing.scheduled_start).toLocaleString();
  $("who").textContent = `${body.display_name}, ${body.role}`;
  $("details").hidden = false;
  show("Your link is valid.", false);
}

main().catch(() => show("The server could not be reached. Check your connection and reload.", true));
