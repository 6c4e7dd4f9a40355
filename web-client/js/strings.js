// Every word the page shows, in one place: English and Simplified Chinese. Add a language by
// adding a table with the same keys; `t` falls back to English for a missing key.

const TABLES = {
  en: {
    title: "Gavel — online hearing",
    checking_link: "Checking your join link…",
    open_link: "Open the join link the court sent you. It contains your personal access code.",
    link_refused: "The join link could not be used",
    unreachable: "The server could not be reached. Check your connection and reload.",
    your_hearing: "Your hearing",
    case: "Case", court: "Court", hearing: "Hearing", scheduled: "Scheduled", you_join_as: "You join as",
    link_valid: "Your link is valid. Check your camera, microphone and connection, then join.",
    precheck: "Before you join",
    camera: "Camera", microphone: "Microphone", speakers: "Speakers", network: "Network",
    udp: "Media connection",
    test_speakers: "Play a test sound",
    speakers_hint: "You should hear a short tone. If not, check your volume or headphones.",
    pass: "OK", warn: "Weak", fail: "Problem", pending: "Checking…", skipped: "Not needed for your role", manual: "",
    camera_ok: "Your camera works.", camera_fail: "No camera picture. Allow camera access, or close other apps that use it.",
    mic_ok: "Your microphone picks up sound.", mic_quiet: "Your microphone is on but very quiet. Speak, or choose another microphone.",
    mic_fail: "No microphone. Allow microphone access, or plug one in.",
    net_result: "Round trip {rtt} ms, download {down} kbit/s, upload {up} kbit/s.",
    net_warn: "Your connection is below what the court asks for ({need}). Video may stutter; audio only is recommended.",
    net_fail: "Your connection is far below what the court asks for ({need}). Use audio only, or move to a better network.",
    net_need: "upload {up} kbit/s, download {down} kbit/s, round trip under {rtt} ms",
    udp_ok: "Audio and video can reach the court's server directly.",
    udp_fail: "Audio and video cannot reach the server directly (a firewall may block UDP). Try another network, such as mobile data.",
    join: "Join the hearing",
    lobby_wait: "Please wait. The court will let you in shortly.",
    witness_wait: "You are a witness. Please wait until the judge calls you in. You will not see or hear the hearing until then.",
    sent_out: "You have been asked to wait outside the hearing.",
    participants: "Participants",
    captions: "Live captions",
    captions_empty: "Captions appear here when transcription is on.",
    mic_on: "Mute microphone", mic_off: "Unmute microphone",
    cam_on: "Turn camera off", cam_off: "Turn camera on",
    share: "Share screen", share_stop: "Stop sharing",
    audio_only: "Audio only", audio_only_off: "Show video",
    leave: "Leave",
    end_hearing: "End hearing",
    confirm_end: "End the hearing for everyone?",
    admit: "Admit", call_in: "Call in", send_out: "Send out",
    mute: "Mute", unmute_mod: "Allow mic", stop_video: "Stop video", allow_video: "Allow video",
    remove: "Remove", confirm_remove: "Remove {name} from the hearing?",
    caucus_start: "Private session", caucus_end: "End private session",
    begin_session: "Begin the session", recess: "Recess", resume: "Resume",
    recording_on: "● Recording", record_start: "Start recording", record_stop: "Stop recording",
    record_reason: "Reason (kept in the record):",
    in_recess: "The hearing is in recess. Please stay connected.",
    not_begun: "The session has not begun yet.",
    waiting: "waiting", in_hearing: "in the hearing", private: "in private session",
    muted_by_moderator: "The court muted your microphone.",
    video_stopped_by_moderator: "The court stopped your video.",
    unmuted_by_moderator: "The court allowed your microphone again.",
    connecting: "Connecting…", connected: "Connected", reconnecting: "Connection lost — reconnecting…",
    quality_good: "Good connection", quality_fair: "Unstable connection", quality_poor: "Poor connection",
    ended_removed: "You were removed from the hearing.",
    ended_replaced: "You joined from another device or tab; this one is closed.",
    ended_hearing: "The hearing has ended. Thank you.",
    ended_violation: "The connection was closed after repeated errors. Reload to join again.",
    left: "You left the hearing. Reload the page to join again.",
    refused: "Not allowed: {why}",
    you: "you",
    presiding: "presiding",
    speaking: "speaking",
    screen_of: "{name} — shared screen",
    role_judge: "Judge", role_clerk: "Clerk", role_party: "Party", role_counsel: "Counsel",
    role_witness: "Witness", role_expert: "Expert", role_interpreter: "Interpreter",
    role_mediator: "Mediator", role_observer: "Observer",
    language: "中文",
  },
  "zh-CN": {
    title: "Gavel — 在线庭审",
    checking_link: "正在核验您的入会链接…",
    open_link: "请打开法院发送给您的入会链接，其中包含您的个人访问码。",
    link_refused: "该入会链接无法使用",
    unreachable: "无法连接服务器。请检查网络后刷新页面。",
    your_hearing: "您的庭审",
    case: "案号", court: "法院", hearing: "庭审", scheduled: "预定时间", you_join_as: "参加身份",
    link_valid: "链接有效。请检查摄像头、麦克风和网络，然后进入庭审。",
    precheck: "进入前检查",
    camera: "摄像头", microphone: "麦克风", speakers: "扬声器", network: "网络",
    udp: "音视频连接",
    test_speakers: "播放测试音",
    speakers_hint: "您应听到一声短促的提示音。如未听到，请检查音量或耳机。",
    pass: "正常", warn: "较弱", fail: "异常", pending: "检测中…", skipped: "您的身份无需此项", manual: "",
    camera_ok: "摄像头工作正常。", camera_fail: "没有摄像头画面。请允许访问摄像头，或关闭占用摄像头的其他程序。",
    mic_ok: "麦克风可以收音。", mic_quiet: "麦克风已开启但声音很小。请说话，或更换麦克风。",
    mic_fail: "没有麦克风。请允许访问麦克风，或连接麦克风。",
    net_result: "往返 {rtt} 毫秒，下载 {down} kbit/s，上传 {up} kbit/s。",
    net_warn: "您的网络低于法院要求（{need}）。视频可能卡顿，建议仅用音频。",
    net_fail: "您的网络远低于法院要求（{need}）。请仅用音频，或更换更好的网络。",
    net_need: "上传 {up} kbit/s，下载 {down} kbit/s，往返低于 {rtt} 毫秒",
    udp_ok: "音视频可以直接到达法院服务器。",
    udp_fail: "音视频无法直接到达服务器（防火墙可能阻止了 UDP）。请尝试其他网络，例如移动数据。",
    join: "进入庭审",
    lobby_wait: "请稍候，法院将很快让您进入。",
    witness_wait: "您是证人。请等待法官传唤。在此之前您看不到也听不到庭审。",
    sent_out: "您已被请到庭外等候。",
    participants: "参与人",
    captions: "实时字幕",
    captions_empty: "开启转写后字幕将显示在这里。",
    mic_on: "关闭麦克风", mic_off: "打开麦克风",
    cam_on: "关闭摄像头", cam_off: "打开摄像头",
    share: "共享屏幕", share_stop: "停止共享",
    audio_only: "仅音频", audio_only_off: "显示视频",
    leave: "离开",
    end_hearing: "结束庭审",
    confirm_end: "为所有人结束庭审？",
    admit: "准许进入", call_in: "传唤", send_out: "请出",
    mute: "静音", unmute_mod: "允许发言", stop_video: "停止视频", allow_video: "允许视频",
    remove: "移出", confirm_remove: "将 {name} 移出庭审？",
    caucus_start: "单独会谈", caucus_end: "结束单独会谈",
    begin_session: "开庭", recess: "休庭", resume: "继续开庭",
    recording_on: "● 录制中", record_start: "开始录制", record_stop: "停止录制",
    record_reason: "原因（将记入记录）：",
    in_recess: "庭审休庭中，请保持连接。",
    not_begun: "庭审尚未开始。",
    waiting: "等候中", in_hearing: "在庭审中", private: "单独会谈中",
    muted_by_moderator: "法院已将您的麦克风静音。",
    video_stopped_by_moderator: "法院已停止您的视频。",
    unmuted_by_moderator: "法院已允许您再次发言。",
    connecting: "正在连接…", connected: "已连接", reconnecting: "连接中断——正在重连…",
    quality_good: "网络良好", quality_fair: "网络不稳定", quality_poor: "网络较差",
    ended_removed: "您已被移出庭审。",
    ended_replaced: "您已在其他设备或标签页加入，此页面已关闭。",
    ended_hearing: "庭审已结束，谢谢。",
    ended_violation: "因多次错误连接已关闭。请刷新后重新加入。",
    left: "您已离开庭审。刷新页面可重新加入。",
    refused: "不允许：{why}",
    you: "您",
    presiding: "审判长",
    speaking: "正在发言",
    screen_of: "{name} — 共享屏幕",
    role_judge: "法官", role_clerk: "书记员", role_party: "当事人", role_counsel: "代理人",
    role_witness: "证人", role_expert: "鉴定人", role_interpreter: "翻译",
    role_mediator: "调解员", role_observer: "旁听",
    language: "English",
  },
};

function pick() {
  const asked = new URLSearchParams(location.search).get("lang") || localStorage.getItem("gavel.lang");
  if (asked && TABLES[asked]) return asked;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export let lang = pick();

/** The text for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const s = (TABLES[lang] && TABLES[lang][key]) ?? TABLES.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

/** Fills every element with `data-i18n` (text) or `data-i18n-label` (aria-label). */
export function translate(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

/** Switches between the shipped languages and redraws. */
export function toggleLanguage() {
  lang = lang === "en" ? "zh-CN" : "en";
  localStorage.setItem("gavel.lang", lang);
  translate();
}
