// The pre-join check (Art. 22): camera preview, microphone level, a speaker test, and the
// network against the court's published minimums (round trip, download and upload throughput,
// and whether UDP media reaches the server). Each result is pass / warn / fail with what to do.

import { t } from "./strings.js";

const DOWNLOAD_BYTES = 1_000_000;
const UPLOAD_BYTES = 500_000;

/** Shows one result row: `state` is "pass" | "warn" | "fail" | "pending" | "skipped". */
export function report(id, state, text) {
  const row = document.getElementById(`check-${id}`);
  if (!row) return;
  row.dataset.state = state;
  row.querySelector(".verdict").textContent = t(state);
  row.querySelector(".detail").textContent = text || "";
}

/** Why `getUserMedia` failed, as the texts name it: denied, missing, busy or failed. */
function problemOf(e) {
  switch (e?.name) {
    case "NotAllowedError": case "SecurityError": return "denied";
    case "NotFoundError": case "OverconstrainedError": return "missing";
    case "NotReadableError": case "AbortError": return "busy";
    default: return "failed";
  }
}

async function ask(constraints) {
  try {
    return { stream: await navigator.mediaDevices.getUserMedia(constraints) };
  } catch (e) {
    return { problem: problemOf(e) };
  }
}

/** Asks for the camera and microphone the role may use; shows the preview and level meter.
 *  Resolves to `{ stream, problems }`: the devices that work (or null), and for each that does
 *  not ("camera", "microphone") why not; its row says what to do. */
export async function checkDevices(canAudio, canVideo, preview, meter) {
  if (!canAudio) report("microphone", "skipped", "");
  if (!canVideo) report("camera", "skipped", "");
  const problems = {};
  if (!canAudio && !canVideo) return { stream: null, problems };
  const audio = canAudio ? { echoCancellation: true, noiseSuppression: true } : false;
  const video = canVideo ? { width: { ideal: 1280 }, height: { ideal: 720 } } : false;
  let { stream, problem } = await ask({ audio, video });
  if (!stream && canAudio && canVideo) {
    // One device may be missing, busy or blocked while the other works: ask for each alone.
    const a = await ask({ audio });
    const v = await ask({ video });
    const tracks = [...(a.stream?.getTracks() || []), ...(v.stream?.getTracks() || [])];
    stream = tracks.length ? new MediaStream(tracks) : null;
    if (a.problem) problems.microphone = a.problem;
    if (v.problem) problems.camera = v.problem;
  } else if (!stream) {
    problems[canAudio ? "microphone" : "camera"] = problem;
  }
  if (canVideo) {
    const track = stream?.getVideoTracks()[0];
    preview.srcObject = track ? new MediaStream([track]) : null;
    if (track) {
      await preview.play().catch(() => {});
      report("camera", "pass", t("camera_ok"));
    } else {
      problems.camera ??= "missing";
      report("camera", "fail", t(`camera_${problems.camera}`));
    }
  }
  if (canAudio) {
    const track = stream?.getAudioTracks()[0];
    if (track) {
      watchLevel(new MediaStream([track]), meter);
    } else {
      problems.microphone ??= "missing";
      report("microphone", "fail", t(`microphone_${problems.microphone}`));
    }
  }
  return { stream, problems };
}

/** Drives the level meter; after 3 s says whether any sound was heard. */
function watchLevel(stream, meter) {
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  ctx.createMediaStreamSource(stream).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  let loudest = 0;
  const started = performance.now();
  let reported = false;
  const tick = () => {
    analyser.getByteTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v - 128) / 128);
    meter.value = peak;
    loudest = Math.max(loudest, peak);
    if (!reported && performance.now() - started > 3000) {
      reported = true;
      report("microphone", loudest > 0.02 ? "pass" : "warn", t(loudest > 0.02 ? "mic_ok" : "mic_quiet"));
    }
    if (stream.getAudioTracks()[0]?.readyState === "live") requestAnimationFrame(tick);
  };
  ctx.resume().catch(() => {});
  tick();
}

/** Plays a short tone on the speakers. */
export function testSpeakers() {
  const ctx = new AudioContext();
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  gain.gain.value = 0.2;
  osc.frequency.value = 660;
  osc.connect(gain).connect(ctx.destination);
  osc.start();
  osc.stop(ctx.currentTime + 0.6);
  report("speakers", "pass", t("speakers_hint"));
}

/** Measures the connection to the server and compares it with `need`. */
export async function checkNetwork(base, token, need) {
  const auth = { Authorization: `Bearer ${token}` };
  // Round trip: the median of five small requests.
  const rtts = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await fetch(`${base}/network-test?bytes=1`, { headers: auth, cache: "no-store" });
    rtts.push(performance.now() - t0);
  }
  rtts.sort((a, b) => a - b);
  const rtt = Math.round(rtts[2]);
  let t0 = performance.now();
  const down = await fetch(`${base}/network-test?bytes=${DOWNLOAD_BYTES}`, { headers: auth, cache: "no-store" });
  const got = (await down.arrayBuffer()).byteLength;
  const downKbps = Math.round((got * 8) / (performance.now() - t0));
  t0 = performance.now();
  await fetch(`${base}/network-test`, { method: "POST", headers: auth, body: new Uint8Array(UPLOAD_BYTES) });
  const upKbps = Math.round((UPLOAD_BYTES * 8) / (performance.now() - t0));
  const needText = t("net_need", { up: need.min_upload_kbps, down: need.min_download_kbps, rtt: need.max_rtt_ms });
  const below = (v, min) => v < min;
  const far = upKbps < need.min_upload_kbps / 2 || downKbps < need.min_download_kbps / 2 || rtt > need.max_rtt_ms * 2;
  const weak = below(upKbps, need.min_upload_kbps) || below(downKbps, need.min_download_kbps) || rtt > need.max_rtt_ms;
  const summary = t("net_result", { rtt, down: downKbps, up: upKbps });
  if (far) report("network", "fail", `${summary} ${t("net_fail", { need: needText })}`);
  else if (weak) report("network", "warn", `${summary} ${t("net_warn", { need: needText })}`);
  else report("network", "pass", summary);
  return { rtt, downKbps, upKbps, weak: weak || far };
}

/** Whether UDP media reaches the server: a data-channel connection must come up in 5 s. */
export async function checkUdp(base, token) {
  const pc = new RTCPeerConnection();
  pc.createDataChannel("probe");
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === "complete") return done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && done();
    setTimeout(done, 2000);
  });
  const res = await fetch(`${base}/network-test/udp`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ sdp: pc.localDescription.sdp }),
  });
  if (!res.ok) {
    report("udp", "warn", t("udp_fail"));
    pc.close();
    return false;
  }
  await pc.setRemoteDescription({ type: "answer", sdp: (await res.json()).sdp });
  const ok = await new Promise((done) => {
    if (pc.connectionState === "connected") return done(true);
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected") done(true);
      if (pc.connectionState === "failed") done(false);
    };
    setTimeout(() => done(false), 5000);
  });
  pc.close();
  report("udp", ok ? "pass" : "fail", t(ok ? "udp_ok" : "udp_fail"));
  return ok;
}
