// A participant's own controls in a live group session (large targets for a phone): microphone,
// camera, voice only, hand, leave; and the one status line that says what happened to them
// (muted by the facilitator, allowed to unmute, camera stopped, moved to a breakout room).
// The server enforces a facilitator's mute: "Unmute" while muted is refused, and the refusal
// is shown in words.
import { h } from "../shared/dom.js";
import { t, has } from "../shared/i18n.js";
import { reasonText } from "../shared/reasons.js";

const ENDS = new Set(["denied", "removed", "ended", "left"]);

function button(id, text) {
  return h("button", { type: "button", class: "button secondary call-control", id, "aria-pressed": "false" }, text);
}

/** Words for a server error frame. */
export function frameErrorText(frame) {
  const worded = reasonText(frame.reason, frame.params);
  if (worded) return worded;
  if (frame.code && has(`errors.${frame.code}`)) return t(`errors.${frame.code}`);
  return frame.message || t("errors.generic");
}

export function noticeText(kind) {
  return has(`live.notice.${kind}`) ? t(`live.notice.${kind}`) : "";
}

/** The status line and the control bar; `room`: the room device has no personal controls. */
export function participantControls(live, { room = false } = {}) {
  const status = h("p", { role: "status", class: "live lead", id: "live-status" }, t("live.connecting"));
  const told = h("p", { class: "note", id: "live-told", role: "alert" });
  const where = h("p", { class: "note", id: "live-room", hidden: true });
  const mic = button("live-mic", t("call.mute"));
  const camera = button("live-camera", t("call.camera_off"));
  const voice = button("live-voice-only", t("call.audio_only"));
  const hand = button("live-hand", t("live.raise_hand"));
  const leave = h("button", { type: "button", class: "button secondary call-control call-leave", id: "live-leave" },
    t("live.leave"));
  const bar = room ? null : h("div", { class: "call-controls", id: "live-controls", role: "group",
    "aria-label": t("call.controls") }, mic, camera, voice, hand, leave);
  let pendingUnmute = null;
  let wantUnmute = false;

  const draw = () => {
    const seat = live.seat();
    const hardMuted = Boolean(seat && seat.muted);
    mic.textContent = live.micOn ? t("call.mute") : t("live.unmute");
    mic.setAttribute("aria-pressed", String(!live.micOn));
    mic.dataset.hardMuted = String(hardMuted);
    camera.textContent = live.cameraOn ? t("call.camera_off") : t("live.camera_on");
    camera.setAttribute("aria-pressed", String(!live.cameraOn));
    camera.disabled = live.voiceOnly;
    voice.textContent = live.voiceOnly ? t("live.video_back") : t("call.audio_only");
    voice.setAttribute("aria-pressed", String(live.voiceOnly));
    const raised = Boolean(live.state && live.state.hands.includes(live.me));
    hand.textContent = raised ? t("live.lower_hand") : t("live.raise_hand");
    hand.setAttribute("aria-pressed", String(raised));
    const roomName = seat && seat.room !== "main" ? seat.room : null;
    where.hidden = !roomName;
    where.textContent = roomName ? t("live.in_breakout", { room: roomName }) : "";
    for (const control of [mic, camera, voice, hand]) {
      if (live.place !== "present") control.disabled = true;
      else if (control !== camera) control.disabled = false;
    }
  };

  const placeText = {
    connecting: "live.connecting", waiting: "live.waiting", present: "live.present", reconnecting: "live.reconnecting",
    denied: "live.notice.denied", removed: "live.notice.removed", ended: "live.notice.ended", left: "live.left",
    refused: "live.refused",
  };
  live.on("place", (place) => {
    status.textContent = t(placeText[place] || "live.connecting");
    status.dataset.place = place;
    if (live.final && bar) bar.hidden = true;
    draw();
  });
  let lastRoom = "main";
  live.on("state", () => {
    const seat = live.seat();
    if (wantUnmute && seat && seat.audio && !seat.muted) {
      wantUnmute = false;
      live.setMic(true);
    }
    if (seat && seat.room !== lastRoom) {
      told.textContent = seat.room === "main" ? t("live.back_in_main") : t("live.moved_to", { room: seat.room });
      lastRoom = seat.room;
    }
    draw();
  });
  live.on("local", draw);
  live.on("notice", (kind) => {
    const text = noticeText(kind);
    if (text && !ENDS.has(kind)) told.textContent = text; // an end is said once, by the status line
    draw();
  });
  live.on("error", (frame) => {
    if (frame.ref && frame.ref === pendingUnmute) {
      wantUnmute = false;
      live.setMic(false);
      told.textContent = frameErrorText(frame);
      told.dataset.code = frame.code;
    } else if (!live.final) told.textContent = frameErrorText(frame);
  });

  mic.addEventListener("click", () => {
    if (live.micOn) {
      live.setMic(false);
      live.send("group.media", { audio: false }); // the SFU stops forwarding it; the console shows it
      return;
    }
    told.textContent = "";
    delete told.dataset.code;
    const seat = live.seat();
    if (!seat || !seat.muted) live.setMic(true);
    else wantUnmute = true; // the server's word (its state, or a refusal) decides
    pendingUnmute = live.send("group.unmute"); // refused while the facilitator's mute stands
  });
  camera.addEventListener("click", () => live.setCamera(!live.cameraOn));
  voice.addEventListener("click", () => live.setVoiceOnly(!live.voiceOnly));
  hand.addEventListener("click", () => {
    const raised = Boolean(live.state && live.state.hands.includes(live.me));
    live.send("group.hand", { raised: !raised });
  });
  leave.addEventListener("click", () => live.leave());
  draw();
  return { status, told, where, bar };
}
