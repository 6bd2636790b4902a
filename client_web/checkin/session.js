// The call above the router. A check-in's call (its RTCPeerConnections, camera and microphone,
// and signalling socket) belongs to this module, not to a screen, so tapping Messages or Home
// during a call keeps it. Its stage (status, who is waiting, the tiles, the control bar) lives
// in #call-dock inside <main>, which app.js never clears: on the check-in's own page
// (#/checkin?c=<id>) the stage shows in full; on any other page it is hidden (still in the
// document, so the media elements keep playing) and a compact bar offers "Back to the call"
// and "Leave". A tab that reloads or comes back to the link after a drop rejoins: the device
// test passed for the check-in is remembered for this tab (sessionStorage), and the server says
// whether the safe-space check must be answered again (it keeps the last answer per person).
import { h } from "../shared/dom.js";
import { ApiError } from "../shared/api.js";
import { t } from "../shared/i18n.js";
import { errorBox } from "../shared/ui.js";
import { dayAndTime } from "../shared/appointments.js";
import { startCall } from "./call.js";

const READY_KEY = (checkinId) => `tandem.checkin_ready.${checkinId}`;
const ENDED_KEY = (checkinId) => `tandem.checkin_ended.${checkinId}`;
// Ends that are final for the check-in (the officer ended it, or its window closed). After any
// other (left, replaced, or "ended" after "I can't talk safely now", when a later safe answer
// lets the client in again) the person may come back through the link.
const FINAL = new Set(["ended_by_host", "window_closed"]);

let active = null; // the call in this tab: {checkinId, host, call, stage, bar, ...}
const endedHere = new Map(); // check-in id -> reason, for ends that are not final

function stored(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null; // storage disabled: the person repeats the step
  }
}

function store(key, value) {
  try {
    sessionStorage.setItem(key, value);
  } catch {
    // storage disabled: nothing is remembered
  }
}

/** The device test was passed for this check-in in this tab: its chosen mode, else null. */
export function readyMode(checkinId) {
  const mode = stored(READY_KEY(checkinId));
  return mode === "video" || mode === "audio_only" ? mode : null;
}

export function rememberReady(checkinId, mode) {
  store(READY_KEY(checkinId), mode);
}

/** How this tab's call of the check-in ended, or null. A non-final end is told only once. */
export function endedReason(checkinId) {
  const reason = stored(ENDED_KEY(checkinId)) || endedHere.get(checkinId) || null;
  endedHere.delete(checkinId);
  return reason;
}

/** The call of this check-in if this tab is in it. */
export function activeCall(checkinId) {
  return active && active.checkinId === checkinId ? active : null;
}

function onItsPage(checkinId) {
  const route = location.hash.replace(/^#/, "");
  if (!route.startsWith("/checkin?")) return false;
  return new URLSearchParams(route.slice("/checkin?".length)).get("c") === checkinId;
}

function dock() {
  let el = document.getElementById("call-dock");
  if (!el) {
    el = h("div", { id: "call-dock" });
    document.getElementById("main").append(el);
  }
  return el;
}

/** Full stage on the call's page, the compact bar anywhere else. */
function place() {
  const body = document.body;
  if (!active) {
    body.classList.remove("in-call", "call-elsewhere");
    return;
  }
  const here = onItsPage(active.checkinId);
  active.stage.classList.toggle("docked", !here);
  active.stage.setAttribute("aria-hidden", here ? "false" : "true");
  active.bar.hidden = here;
  body.classList.toggle("in-call", here);
  body.classList.toggle("call-elsewhere", !here);
}

window.addEventListener("hashchange", place);
window.addEventListener("tandem:signed-out", () => {
  if (!active) return;
  const { call } = active;
  active.quiet = true;
  call.leaveNow();
});

function title(session, key) {
  session.titleKey = key;
  const heading = document.getElementById("page-title");
  if (!heading || !onItsPage(session.checkinId)) return;
  heading.textContent = t(key);
  document.title = t("app.doc_title", { page: heading.textContent });
}

function videoTile(id, label, stream, { muted = false } = {}) {
  const el = h("video", { id, autoplay: true, playsinline: true, "aria-label": label });
  el.muted = muted;
  el.srcObject = stream;
  return h("figure", { class: "tile" }, el, h("figcaption", {}, label));
}

function toggle(id, key) {
  return h("button", { type: "button", class: "button secondary call-control", id, "aria-pressed": "false" }, t(key));
}

/**
 * Join the check-in's call in this tab (after the device test and the safe-space check).
 * ctx: the screen's context (api, navigate); mode: "video" | "audio_only"; host: the officer.
 */
export function joinCall(ctx, { checkinId, mode, host }) {
  if (active) {
    active.quiet = true;
    active.call.close();
  }
  const { api, navigate } = ctx;
  const status = h("p", { role: "status", class: "live lead", id: "call-status" }, t("checkin.connecting"));
  const meeting = h("div", { class: "stack call-meeting", id: "call-meeting" });
  const tiles = h("div", { class: "tiles", id: "call-tiles" });
  const waitingList = h("ul", { class: "stack", id: "call-lobby" });
  const lobbyCard = host ? h("section", { class: "card", "aria-labelledby": "call-lobby-title" },
    h("h2", { id: "call-lobby-title" }, t("waiting.title")), waitingList) : null;
  const mute = toggle("call-mute", "call.mute");
  const camera = toggle("call-camera", "call.camera_off");
  const flip = h("button", { type: "button", class: "button secondary call-control", id: "call-switch-camera", hidden: true },
    t("call.switch_camera"));
  const voice = h("button", { type: "button", class: "button secondary call-control", id: "call-audio-only" }, t("call.audio_only"));
  const leave = h("button", { type: "button", class: "button secondary call-control call-leave", id: "call-leave" },
    t(host ? "call.end" : "call.leave"));
  const cantTalk = host ? null
    : h("button", { type: "button", class: "button secondary call-control call-cant-talk", id: "call-cant-talk" },
      t("safe.cant_talk"));
  const controls = h("div", { class: "call-controls", id: "call-controls", role: "group", "aria-label": t("call.controls") },
    mute, camera, flip, voice, leave, cantTalk);
  const stage = h("section", { class: "call-stage", id: "call-stage", "aria-label": t("call.title") },
    status, meeting, lobbyCard, tiles, controls);
  const barText = h("span", { class: "call-bar-text", id: "call-bar-text" }, t("call.in_progress"));
  const barLeave = h("button", { type: "button", class: "button secondary", id: "call-bar-leave" },
    t(host ? "call.end" : "call.leave"));
  const bar = h("div", { class: "call-bar", id: "call-bar", hidden: true },
    barText,
    h("a", { class: "button primary", id: "call-return", href: `#/checkin?c=${encodeURIComponent(checkinId)}` },
      t("call.return")),
    barLeave);
  dock().replaceChildren(stage, bar);

  const names = new Map(); // participant id -> display name (room snapshots, peer_joined)
  const shown = new Map(); // participant id -> its tile
  const session = { checkinId, host, stage, bar, quiet: false, other: null, me: null, seats: [], note: null,
    titleKey: host ? "call.title" : "checkin.waiting_title" };
  let admitted = false;

  const otherName = (participant) => names.get(participant) || session.other || t("call.other");
  const others = () => session.seats.filter((s) => s.participant !== session.me && s.state !== "left");
  const nameList = (seats) => seats.map((s) => otherName(s.participant)).join(", ");

  /** What is true now, said plainly: who is here, who waits, who is gone. */
  const describe = () => {
    if (!admitted) return;
    if (!call.video) {
      status.textContent = t("call.audio_only_on");
      return;
    }
    const present = others();
    const inCall = present.filter((s) => s.state === "admitted");
    const dropped = present.filter((s) => s.state === "dropped");
    const waiting = present.filter((s) => s.state === "waiting");
    let text;
    if (inCall.length) text = t("call.connected_with", { name: nameList(inCall) });
    else if (dropped.length) text = t("call.peer_dropped_named", { name: nameList(dropped) });
    else if (waiting.length) text = t("call.host_in_waiting_room", { name: nameList(waiting) });
    else if (session.note && session.note.left) text = t("call.peer_left_named", { name: session.note.left });
    else text = host ? t("call.host_waiting_for", { name: session.other || t("waiting.client") }) : t("checkin.waiting");
    status.textContent = text;
    barText.textContent = inCall.length ? t("call.in_progress_with", { name: nameList(inCall) }) : t("call.in_progress");
  };

  const relabel = () => {
    for (const [participant, tile] of shown) {
      const label = otherName(participant);
      tile.querySelector("figcaption").textContent = label;
      tile.querySelector("video").setAttribute("aria-label", label);
    }
  };

  const selfView = (stream) => {
    const old = document.getElementById("local-tile");
    const hasVideo = stream.getVideoTracks().some((track) => track.readyState === "live");
    const tile = hasVideo ? videoTile("local-video", t("call.you"), stream, { muted: true })
      : h("figure", { class: "tile tile-voice" }, h("p", { class: "muted" }, t("call.audio_only_on")),
        h("figcaption", {}, t("call.you")));
    tile.id = "local-tile";
    tile.classList.add("tile-local");
    if (old) old.replaceWith(tile);
    else tiles.prepend(tile);
    camera.hidden = !hasVideo;
  };

  // Who is waiting to be let in (hosts): from `lobby` frames and the room's own snapshots.
  const drawLobby = (waiting) => {
    waitingList.replaceChildren(...(waiting.length ? waiting.map((w) =>
      h("li", { class: "row" }, h("span", { class: "big" }, w.display_name), " ",
        h("button", { type: "button", class: "button primary admit", "data-participant": w.participant,
          onclick: () => call.admit(w.participant) }, t("waiting.admit", { name: w.display_name }))))
      : [h("li", { class: "muted" }, t("waiting.nobody"))]));
  };

  const finished = (reason) => {
    const here = onItsPage(checkinId);
    if (active === session) active = null;
    stage.remove();
    bar.remove();
    place();
    if (session.quiet) return;
    if (FINAL.has(reason)) store(ENDED_KEY(checkinId), reason);
    else endedHere.set(checkinId, reason);
    // The officer is asked for the outcome at once, wherever they ended the call from.
    // A client told their officer can't talk safely now is shown why, wherever they are.
    if (here || (host && reason === "ended_by_host") || reason === "officer_unavailable") navigate(`/checkin?c=${encodeURIComponent(checkinId)}`);
  };

  const call = startCall({
    room: checkinId,
    api,
    mode,
    onEvent(kind, d) {
      if (kind === "joined") {
        admitted = d.state === "admitted";
        if (admitted) {
          if (!host) meeting.hidden = true;
          title(session, "call.title");
          describe();
        } else {
          title(session, "checkin.waiting_title");
          status.textContent = t("checkin.waiting");
        }
      } else if (kind === "local") {
        selfView(d.stream);
      } else if (kind === "admitted") {
        admitted = true;
        if (!host) meeting.hidden = true; // the waiting room's details; the call needs the room
        title(session, "call.title");
        describe();
      } else if (kind === "room") {
        session.me = call.participant;
        session.seats = d.participants;
        for (const s of d.participants) names.set(s.participant, s.display_name);
        if (host) drawLobby(d.participants.filter((p) => p.state === "waiting"));
        relabel();
        describe();
      } else if (kind === "peer_joined") {
        names.set(d.participant, d.display_name);
        session.note = null;
        relabel();
      } else if (kind === "remote") {
        if (shown.has(d.participant)) shown.get(d.participant).querySelector("video").srcObject = d.stream;
        else {
          const tile = videoTile(`remote-${d.participant}`, otherName(d.participant), d.stream);
          tile.querySelector("video").classList.add("remote-video");
          shown.set(d.participant, tile);
          tiles.append(tile);
        }
      } else if (kind === "peer_left") {
        if (d.reason !== "dropped" && shown.has(d.participant)) {
          shown.get(d.participant).remove();
          shown.delete(d.participant);
          session.note = { left: otherName(d.participant) };
        }
        describe();
      } else if (kind === "lobby" && host && d.checkin_id === checkinId) {
        drawLobby(d.waiting);
      } else if (kind === "quality") {
        // Advice only: the weak link is named and "Voice only" becomes the main button.
        const weak = d.mode === "audio_only";
        if (weak) status.textContent = t("call.suggest_audio_only");
        else describe();
        voice.className = `button call-control ${weak ? "primary" : "secondary"}`;
      } else if (kind === "media") {
        voice.disabled = true;
        flip.hidden = true;
        if (call.local) selfView(call.local);
        status.textContent = t("call.audio_only_on");
      } else if (kind === "reconnecting") {
        status.textContent = t("live.reconnecting");
      } else if (kind === "ended") {
        finished(d.reason);
      } else if (kind === "error") {
        status.replaceChildren(errorBox(new ApiError(0, d.code, d.message, d.ruleId,
          { reason: d.reason, params: d.params })));
      }
    },
  });

  const pressed = (button, on) => button.setAttribute("aria-pressed", on ? "true" : "false");
  mute.addEventListener("click", () => {
    call.setMuted(!call.muted);
    pressed(mute, call.muted);
  });
  camera.addEventListener("click", () => {
    call.setCameraOff(!call.cameraOff);
    pressed(camera, call.cameraOff);
  });
  flip.addEventListener("click", async () => {
    flip.disabled = true;
    try {
      await call.switchCamera();
    } catch {
      // the other camera could not be opened: the call goes on with no picture change
    } finally {
      flip.disabled = false;
    }
  });
  voice.addEventListener("click", () => call.audioOnly());
  const end = () => (host ? call.end() : call.leave());
  leave.addEventListener("click", end);
  barLeave.addEventListener("click", end);
  if (cantTalk) cantTalk.addEventListener("click", () => call.cantTalk());

  // "Switch camera" only where there is another camera to switch to.
  if (mode === "video" && navigator.mediaDevices && navigator.mediaDevices.enumerateDevices) {
    navigator.mediaDevices.enumerateDevices()
      .then((devices) => { flip.hidden = devices.filter((d) => d.kind === "videoinput").length < 2 || !call.video; })
      .catch(() => {});
  }

  // Who meets whom, and when (the waiting room shows it; the tiles are named from it).
  api.get(`/api/checkins/${encodeURIComponent(checkinId)}`).then((checkin) => {
    const person = host ? checkin.client : checkin.officer;
    session.other = person ? person.display_name : null;
    meeting.replaceChildren(
      h("p", { id: "call-when" }, t("call.appointment_when", { when: dayAndTime(checkin.starts_at || checkin.opens_at) })),
      session.other ? h("p", { id: "call-with" }, t("call.appointment_with", { name: session.other })) : null);
    relabel();
    describe();
  }).catch(() => {}); // the call goes on without it

  session.call = call;
  active = session;
  place();
  window.__tandemCall = call; // for the browser test's getStats; holds nothing secret
  return session;
}
