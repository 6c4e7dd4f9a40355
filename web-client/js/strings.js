// Every word the page shows, in one place: English and Simplified Chinese. Add a language by
// adding a table with the same keys; `t` falls back to English for a missing key.

const TABLES = {
  en: {
    title: "Gavel — online hearing",
    checking_link: "Checking your join link…",
    open_link: "Open the join link the court sent you. It contains your personal access code.",
    link_refused: "The join link could not be used",
    colon: ": ",
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
    camera_ok: "Your camera works.", mic_ok: "Your microphone picks up sound.",
    mic_quiet: "Your microphone is on but very quiet. Speak, or choose another microphone.",
    camera_denied: "The browser blocks the camera. Allow it in the site settings (the icon beside the address), then press Try again.",
    camera_missing: "No camera found. Plug one in and press Try again, or join without video.",
    camera_busy: "Another app is using the camera. Close it, then press Try again.",
    camera_failed: "No camera picture. Allow camera access, or close other apps that use it.",
    microphone_denied: "The browser blocks the microphone. Allow it in the site settings (the icon beside the address), then press Try again.",
    microphone_missing: "No microphone found. Plug one in, then press Try again.",
    microphone_busy: "Another app is using the microphone. Close it, then press Try again.",
    microphone_failed: "No microphone. Allow microphone access, or plug one in.",
    devices_warning: "Your camera or microphone is not working, so the court may not see or hear you. Follow the advice above, then try again.",
    retry: "Try again",
    net_result: "Round trip {rtt} ms, download {down} kbit/s, upload {up} kbit/s.",
    net_warn: "Your connection is below what the court asks for ({need}). Video may stutter; audio only is recommended.",
    net_fail: "Your connection is far below what the court asks for ({need}). Use audio only, or move to a better network.",
    net_need: "upload {up} kbit/s, download {down} kbit/s, round trip under {rtt} ms",
    udp_ok: "Audio and video can reach the court's server directly.",
    udp_fail: "Audio and video cannot reach the server directly (a firewall may block UDP). Try another network, such as mobile data.",
    join: "Join the hearing",
    audio_only_suggested: "Recommended for your connection.",
    join_refused_link: "This link can no longer be used (it may have expired). Ask the court for a new join link.",
    join_failed: "Joining failed. Reload the page to try again.",
    lobby_wait: "Please wait. The court will let you in shortly.",
    witness_wait: "You are a witness. Please wait until the judge calls you in. You will not see or hear the hearing until then.",
    sent_out: "You have been asked to wait outside the hearing.",
    participants: "Participants",
    captions: "Live captions",
    captions_empty: "Captions appear here when transcription is on.",
    mic_on: "Mute microphone", mic_off: "Unmute microphone", mic_held: "Muted by the court",
    cam_on: "Turn camera off", cam_off: "Turn camera on", cam_held: "Video stopped by the court",
    share: "Share screen", share_stop: "Stop sharing",
    audio_only: "Audio only", audio_only_off: "Show video",
    suggest_audio_only: "Your connection has been poor for a while. Audio only may keep your voice clear.",
    suggest_video: "Your connection has recovered. Show video again?",
    dismiss: "Not now",
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
    video_allowed_by_moderator: "The court allowed your video again.",
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
    role_mediator: "Mediator", role_observer: "Observer", role_courtroom: "Courtroom",
    review_title: "Written record", transcript: "Transcript", revision_n: "revision {n}",
    time: "Time", speaker: "Speaker", words: "Words",
    play: "Play", correct: "Correct", save: "Save", cancel: "Cancel", reason: "Why (kept with the correction)",
    corrected_n: "(corrected {n}×)", heard: "Heard: {text}", not_transcribed: "[not transcribed: {why}]",
    saved: "Saved as revision {n}. The earlier words are kept.",
    no_recording: "No recording covers this moment.",
    playing_from: "Playing {who} from {time}",
    finalise_hint: "When the hearing has ended and the transcript is right, finalise it for signing.",
    finalise: "Finalise this revision",
    finalised: "Revision {n} finalised for {signers} signers. SHA-256 {sha}",
    record_title: "The written record", signatures: "Signatures", sha256: "Document SHA-256:",
    record_state_awaiting_signatures: "Revision {n}, finalised {at}: awaiting signatures.",
    record_state_complete: "Revision {n}, finalised {at}: every signer has decided.",
    record_state_superseded: "Revision {n}, finalised {at}: replaced by a later revision.",
    decision_signed: "signed {at}", decision_refused: "refused to sign {at}: {reason}", decision_none: "not yet decided",
    decide_hint: "Read the record above. Sign it if it is what was said, or refuse and say why; your refusal is recorded.",
    sign: "Sign the record", refuse: "Refuse to sign", refusal_reason: "Why you refuse:",
    sign_confirm: "Sign revision {n} of the record? Your decision is final.", sign_confirm_yes: "Yes, sign",
    you_signed: "You signed the record.", you_refused: "Your refusal is recorded.",
    nothing_to_sign: "There is no record to read or sign yet.",
    // Why the server refused a request, by the problem's `type` slug (problemText below).
    problem_join_token_malformed: "The join link is incomplete or damaged. Open it again exactly as the court sent it, or ask the court for a new link.",
    problem_join_token_unknown_key: "This join link was not issued by this court's system. Open the link the court sent you, or ask the court for a new link.",
    problem_join_token_bad_signature: "This join link is not valid (it may have been altered). Open it exactly as the court sent it, or ask the court for a new link.",
    problem_join_token_expired: "This join link has expired. Ask the court for a new link.",
    problem_join_token_not_yet_valid: "This join link is not valid yet. Check that your device's date, time and time zone are correct, then reload the page.",
    problem_join_token_wrong_audience: "This is not a join link. Open the join link the court sent you.",
    problem_participant_role_changed: "Your role in this hearing has changed, so this link no longer applies. Ask the court for a new link.",
    problem_unauthorized: "No valid access code was given. Open the join link the court sent you.",
    problem_join_link_wrong_hearing: "This join link is for a different hearing. Check that you opened the right link, or ask the court for the link to this hearing.",
    problem_hearing_ended: "This hearing has ended.",
    problem_participant_not_registered: "You are not registered as a participant in this hearing. If you think this is a mistake, contact the court.",
    problem_participant_removed: "You were removed from this hearing. If you have questions, contact the court.",
    problem_participant_no_longer_allowed: "You may no longer open this hearing's record (you were removed, or your role changed). If you have questions, contact the court.",
    problem_hearing_not_found: "This hearing could not be found. Check the link, or contact the court.",
    problem_transition_not_allowed: "That step is not possible at this stage of the hearing.",
    problem_database_unavailable: "The court's system is briefly unavailable. Try again in a moment; if you were saving something, check that it was saved.",
    problem_busy: "The court's system is busy. Try again in a moment.",
    problem_not_found: "What was asked for could not be found. Reload the page; if this keeps happening, contact the court.",
    problem_forbidden: "You are not permitted to do this in this hearing.",
    problem_conflict: "This could not be done because the hearing or its record changed meanwhile. Reload the page and try again.",
    problem_internal: "Something went wrong in the court's system. Try again; if this keeps happening, contact the court.",
    problem_timeout: "The request took too long. Check your connection and try again.",
    problem_invalid_field: "Something you entered was not accepted. Check it and try again.",
    problem_payload_too_large: "What you sent is too large.",
    // 409: the hearing or its record is not in a state that allows the request.
    problem_already_exists: "This already exists, so it was not created again. Reload the page to see it.",
    problem_hearing_closed: "The hearing is closed; no one can be added to it any more.",
    problem_hearing_not_ended: "The hearing has not ended yet. This can be done once the hearing has ended.",
    problem_nothing_recorded: "Nothing of this hearing was recorded, so there is no recording to work with.",
    problem_composite_running: "The combined recording of this hearing is already being prepared. Wait until it is finished.",
    problem_recording_closing: "The recording is still being closed and saved. Try again in a moment.",
    problem_stale_revision: "The transcript was changed after you opened it. Reload the page and review the current version again before finalising.",
    problem_revision_signed: "This version of the transcript is already finalised and every signer has decided. To finalise again, first correct the transcript.",
    problem_revision_finalised: "This version of the transcript is already finalised and is awaiting signatures. It need not be finalised again.",
    problem_later_revision_finalised: "A newer version of the record has been finalised since you opened this one. Reload the page, read the new version, then sign or refuse that one.",
    problem_record_complete: "Every signer has already decided on this record; it is complete and can no longer be signed or refused.",
    problem_already_decided: "You have already signed or refused this record. Your decision is recorded and cannot be changed.",
    problem_too_many_devices: "This hearing has as many devices as it may have. Remove one first.",
    // What the written-record page says when it has shown the record again after such a refusal.
    transcript_reloaded: "The transcript was changed meanwhile; revision {n} is now shown. Review it again, then finalise.",
    record_reloaded: "A newer version of the record (revision {n}) has been finalised and is now shown. Read it, then sign or refuse it.",
    problem_unknown: "The request was refused (HTTP {status}). Reload the page; if this keeps happening, contact the court.",
    language: "中文",
  },
  "zh-CN": {
    title: "Gavel — 在线庭审",
    checking_link: "正在核验您的入会链接…",
    open_link: "请打开法院发送给您的入会链接，其中包含您的个人访问码。",
    link_refused: "该入会链接无法使用",
    colon: "：",
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
    camera_ok: "摄像头工作正常。", mic_ok: "麦克风可以收音。",
    mic_quiet: "麦克风已开启但声音很小。请说话，或更换麦克风。",
    camera_denied: "浏览器阻止了摄像头。请在网站设置（地址栏旁的图标）中允许，然后点“重试”。",
    camera_missing: "未找到摄像头。请连接摄像头后点“重试”，或不开视频进入。",
    camera_busy: "摄像头正被其他程序占用。请关闭该程序，然后点“重试”。",
    camera_failed: "没有摄像头画面。请允许访问摄像头，或关闭占用摄像头的其他程序。",
    microphone_denied: "浏览器阻止了麦克风。请在网站设置（地址栏旁的图标）中允许，然后点“重试”。",
    microphone_missing: "未找到麦克风。请连接麦克风，然后点“重试”。",
    microphone_busy: "麦克风正被其他程序占用。请关闭该程序，然后点“重试”。",
    microphone_failed: "没有麦克风。请允许访问麦克风，或连接麦克风。",
    devices_warning: "摄像头或麦克风无法使用，法庭可能看不到或听不到您。请按上面的提示处理，然后重试。",
    retry: "重试",
    net_result: "往返 {rtt} 毫秒，下载 {down} kbit/s，上传 {up} kbit/s。",
    net_warn: "您的网络低于法院要求（{need}）。视频可能卡顿，建议仅用音频。",
    net_fail: "您的网络远低于法院要求（{need}）。请仅用音频，或更换更好的网络。",
    net_need: "上传 {up} kbit/s，下载 {down} kbit/s，往返低于 {rtt} 毫秒",
    udp_ok: "音视频可以直接到达法院服务器。",
    udp_fail: "音视频无法直接到达服务器（防火墙可能阻止了 UDP）。请尝试其他网络，例如移动数据。",
    join: "进入庭审",
    audio_only_suggested: "根据您的网络，建议仅用音频。",
    join_refused_link: "此链接已无法使用（可能已过期）。请向法院索取新的入会链接。",
    join_failed: "未能进入庭审。请刷新页面重试。",
    lobby_wait: "请稍候，法院将很快让您进入。",
    witness_wait: "您是证人。请等待法官传唤。在此之前您看不到也听不到庭审。",
    sent_out: "您已被请到庭外等候。",
    participants: "参与人",
    captions: "实时字幕",
    captions_empty: "开启转写后字幕将显示在这里。",
    mic_on: "关闭麦克风", mic_off: "打开麦克风", mic_held: "已被法庭静音",
    cam_on: "关闭摄像头", cam_off: "打开摄像头", cam_held: "视频已被法庭关闭",
    share: "共享屏幕", share_stop: "停止共享",
    audio_only: "仅音频", audio_only_off: "显示视频",
    suggest_audio_only: "您的网络持续较差。改为仅音频可使声音更清楚。",
    suggest_video: "您的网络已恢复。要重新显示视频吗？",
    dismiss: "暂不",
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
    video_allowed_by_moderator: "法院已允许您再次开启视频。",
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
    role_mediator: "调解员", role_observer: "旁听", role_courtroom: "法庭设备",
    review_title: "庭审笔录", transcript: "笔录", revision_n: "第 {n} 版",
    time: "时间", speaker: "发言人", words: "内容",
    play: "播放", correct: "更正", save: "保存", cancel: "取消", reason: "更正理由（随更正保存）",
    corrected_n: "（已更正 {n} 次）", heard: "识别原文：{text}", not_transcribed: "［未转写：{why}］",
    saved: "已保存为第 {n} 版，原内容保留。",
    no_recording: "此时刻没有录音录像。",
    playing_from: "正在播放 {who}，自 {time} 起",
    finalise_hint: "庭审结束且笔录无误后，定稿并交各方签名。",
    finalise: "定稿此版本",
    finalised: "第 {n} 版已定稿，待 {signers} 人签名。SHA-256 {sha}",
    record_title: "庭审笔录", signatures: "签名", sha256: "文档 SHA-256：",
    record_state_awaiting_signatures: "第 {n} 版，{at} 定稿：待签名。",
    record_state_complete: "第 {n} 版，{at} 定稿：全部签名人已作出决定。",
    record_state_superseded: "第 {n} 版，{at} 定稿：已被后续版本取代。",
    decision_signed: "{at} 已签名", decision_refused: "{at} 拒绝签名：{reason}", decision_none: "尚未决定",
    decide_hint: "请阅读以上笔录。如记录属实请签名；如拒绝签名，请说明理由，拒签将记录在案。",
    sign: "签名确认", refuse: "拒绝签名", refusal_reason: "拒签理由：",
    sign_confirm: "确认签署第 {n} 版笔录？签名后不能更改。", sign_confirm_yes: "确认签名",
    you_signed: "您已签名。", you_refused: "您的拒签已记录。",
    nothing_to_sign: "目前没有可阅读或签名的笔录。",
    problem_join_token_malformed: "入会链接不完整或已损坏。请按法院发送的原样重新打开，或向法院索取新的链接。",
    problem_join_token_unknown_key: "此入会链接并非本法院系统签发。请打开法院发送给您的链接，或向法院索取新的链接。",
    problem_join_token_bad_signature: "此入会链接无效（可能已被改动）。请按法院发送的原样打开，或向法院索取新的链接。",
    problem_join_token_expired: "此入会链接已过期。请向法院索取新的链接。",
    problem_join_token_not_yet_valid: "此入会链接尚未生效。请检查设备的日期、时间和时区是否正确，然后刷新页面。",
    problem_join_token_wrong_audience: "这不是入会链接。请打开法院发送给您的入会链接。",
    problem_participant_role_changed: "您在本次庭审中的参加身份已变更，此链接不再适用。请向法院索取新的链接。",
    problem_unauthorized: "未提供有效的访问码。请打开法院发送给您的入会链接。",
    problem_join_link_wrong_hearing: "此入会链接属于另一场庭审。请确认打开的链接是否正确，或向法院索取本场庭审的链接。",
    problem_hearing_ended: "本场庭审已结束。",
    problem_participant_not_registered: "您未登记为本场庭审的参与人。如认为有误，请与法院联系。",
    problem_participant_removed: "您已被移出本场庭审。如有疑问，请与法院联系。",
    problem_participant_no_longer_allowed: "您已无权查阅本场庭审的记录（您已被移出，或您的身份已变更）。如有疑问，请与法院联系。",
    problem_hearing_not_found: "未找到该庭审。请核对链接，或与法院联系。",
    problem_transition_not_allowed: "庭审当前阶段无法进行此操作。",
    problem_database_unavailable: "法院系统暂时无法使用。请稍后重试；如您刚才在保存内容，请核实是否已保存。",
    problem_busy: "法院系统繁忙。请稍后重试。",
    problem_not_found: "未找到所请求的内容。请刷新页面；如问题反复出现，请与法院联系。",
    problem_forbidden: "您在本场庭审中无权进行此操作。",
    problem_conflict: "庭审或笔录已发生变化，此操作未能完成。请刷新页面后重试。",
    problem_internal: "法院系统出现故障。请重试；如问题反复出现，请与法院联系。",
    problem_timeout: "请求超时。请检查网络连接后重试。",
    problem_invalid_field: "您填写的内容不符合要求。请检查后重试。",
    problem_payload_too_large: "提交的内容过大。",
    problem_already_exists: "该项已存在，未重复创建。请刷新页面查看。",
    problem_hearing_closed: "本场庭审已关闭，不能再添加参与人。",
    problem_hearing_not_ended: "本场庭审尚未结束。请在庭审结束后再进行此操作。",
    problem_nothing_recorded: "本场庭审没有任何录音录像，无法进行此操作。",
    problem_composite_running: "本场庭审的合成录像正在生成中。请待其完成后再试。",
    problem_recording_closing: "录音录像仍在收尾保存中。请稍后重试。",
    problem_stale_revision: "笔录在您打开后已被修改。请刷新页面，重新审阅最新版本后再定稿。",
    problem_revision_signed: "此版笔录已定稿，且全部签名人均已作出决定。如需重新定稿，请先更正笔录。",
    problem_revision_finalised: "此版笔录已定稿，正在等待签名，无需再次定稿。",
    problem_later_revision_finalised: "在您打开此版笔录后，已有更新的版本定稿。请刷新页面，阅读新版本后对其签名或拒签。",
    problem_record_complete: "全部签名人均已对此笔录作出决定，笔录已完成，不能再签名或拒签。",
    problem_already_decided: "您已对此笔录签名或拒签。您的决定已记录在案，不能更改。",
    problem_too_many_devices: "本场庭审的设备数量已达上限。请先移除一台设备。",
    transcript_reloaded: "笔录在此期间已被修改，现显示第 {n} 版。请重新审阅后再定稿。",
    record_reloaded: "已有更新的笔录版本（第 {n} 版）定稿，现已显示。请阅读后签名或拒签。",
    problem_unknown: "请求被拒绝（HTTP {status}）。请刷新页面；如问题反复出现，请与法院联系。",
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

/** Fills every element with `data-i18n` (text) or `data-i18n-label` (aria-label), and composes
 *  again the text of every element shown with `compose`. */
export function translate(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll("[data-i18n-compose]")) if (el.i18nCompose) el.textContent = el.i18nCompose();
}

/** Shows `text()` in `el`, and again in the new language after a switch: for text made of
 *  several keys or with values, which `data-i18n` cannot say. */
export function compose(el, text) {
  delete el.dataset.i18n;
  el.dataset.i18nCompose = "";
  el.i18nCompose = text;
  el.textContent = text();
}

/** The slug of a problem document (RFC 9457): its `type` after `/problems/`, or "". */
export function problemSlug(body) {
  const m = String(body?.type ?? "").match(/\/problems\/([a-z0-9-]+)$/);
  return m ? m[1] : "";
}

// For a slug the page has no words for: the generic problem of its HTTP status.
const BY_STATUS = {
  400: "invalid-field", 401: "unauthorized", 403: "forbidden", 404: "not-found", 408: "timeout",
  409: "conflict", 413: "payload-too-large", 422: "invalid-field", 503: "busy",
};

/** Whether the page has its own words for problem `slug`. */
export function knownProblem(slug) {
  return Boolean(slug) && TABLES.en[`problem_${slug.replace(/-/g, "_")}`] !== undefined;
}

/** What a refusal means for the participant, in the page's language: chosen by the slug of
 *  the problem document's `type`, else by `status` (never by the server's English `detail`). */
export function problemText(body, status = body?.status) {
  const known = knownProblem;
  let slug = problemSlug(body);
  if (!known(slug)) slug = BY_STATUS[status] ?? (status >= 500 ? "internal" : "");
  return known(slug) ? t(`problem_${slug.replace(/-/g, "_")}`) : t("problem_unknown", { status: status ?? "?" });
}

/** Switches between the shipped languages and redraws. */
export function toggleLanguage() {
  lang = lang === "en" ? "zh-CN" : "en";
  localStorage.setItem("gavel.lang", lang);
  translate();
}
