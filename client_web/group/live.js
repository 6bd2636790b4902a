// #/group-sessions/<id>/live?g=<group id>: a live group programme session (issue 14).
// A participant, on a phone: device and network test -> safe-space check with the group's
// question -> (at their first session) the cohort's confidentiality agreement -> the lobby ->
// the session: the active speaker large and thumbnails, their own controls, the group chat.
// Staff answer their own safe-space questions; those who run the session get the console
// (console.js). A room device (role room_device) joins at once and shows a full-screen grid
// of the online participants, with no personal controls and nothing stored on the device.
// The session is never recorded, and the page says so.
import { h } from "../shared/dom.js";
import { pageHeading } from "../shared/ui.js";
import { sessionWhen } from "../shared/group_sessions.js";
import { deviceTest } from "../checkin/device_test.js";
import { joinLive } from "./core.js";
import { stage } from "./stage.js";
import { participantControls } from "./controls.js";
import { facilitatorConsole } from "./console.js";
import { groupSafeSpace, agreementStep } from "./steps.js";
import { groupChat } from "./chat.js";
import { feedbackCard } from "../checkin/feedback.js";

const enc = encodeURIComponent;
// The ends after which "How did this go?" is asked (not a refused or removed join).
const ASK_AFTER = new Set(["ended", "left"]);
const COMMENT_MAX = 1000; // server/groups/feedback.py
let current = null; // the live session of this tab: {route, live}

export function liveRoute(sessionId, groupId) {
  return `/group-sessions/${enc(sessionId)}/live${groupId ? `?g=${enc(groupId)}` : ""}`;
}

window.addEventListener("hashchange", () => {
  if (current && !location.hash.startsWith(`#/group-sessions/${enc(current.sessionId)}/live`)) {
    current.live.leave(); // leaving the page leaves the session
    current = null;
  }
});
window.addEventListener("tandem:signed-out", () => {
  if (current) current.live.leave();
  current = null;
});

/** The group and the session's entry, found through the person's own groups. */
async function findSession(api, sessionId, groupId) {
  const { groups } = await api.get("/api/groups");
  for (const g of groups.filter((x) => !groupId || x.id === groupId)) {
    const { sessions } = await api.get(`/api/groups/${enc(g.id)}/sessions`);
    const found = sessions.find((s) => s.id === sessionId);
    if (found) return { group: g, session: found };
  }
  return null;
}

function heading(view, t, key) {
  const title = view.querySelector("h1");
  title.textContent = t(key);
  document.title = t("app.doc_title", { page: title.textContent });
  title.focus();
}

function ended(slot, text) {
  slot.replaceChildren(h("p", { class: "lead", id: "live-ended", role: "status" }, text));
}

function enter(view, slot, ctx, { sessionId, groupId, mode, kind }) {
  const { t, me } = ctx;
  if (current) current.live.close();
  const live = joinLive(sessionId, { video: mode !== "audio_only" });
  current = { sessionId, live };
  if (kind === "room") {
    document.body.classList.add("room-mode");
    live.on("place", () => { if (live.final) document.body.classList.remove("room-mode"); });
  }
  const controls = participantControls(live, { room: kind === "room" });
  const tiles = stage(live, { layout: kind === "participant" ? "speaker" : "grid", self: kind !== "room" });
  const registerHref = "#/home";
  const extra = h("div", { class: "stack", id: "live-extra" });
  slot.replaceChildren(controls.status, controls.told, controls.where, tiles, controls.bar, extra);
  heading(view, t, kind === "room" ? "live.room_title" : "live.title");
  let present = false; // let into the session at least once: a participant who was is asked afterwards
  live.on("place", () => { if (live.place === "present") present = true; });
  live.on("joined", () => {
    if (live.runs && !extra.querySelector("#live-console")) {
      extra.prepend(facilitatorConsole(live, { registerHref }));
    }
    if (kind !== "room" && !extra.querySelector("#live-chat")) {
      const chat = groupChat(ctx, groupId);
      extra.append(chat.section);
    }
  });
  live.on("place", () => {
    if (!live.final) return;
    tiles.hidden = true;
    const runner = live.runs || (me.role !== "client" && me.role !== "room_device");
    extra.replaceChildren(h("p", {}, runner
      ? h("a", { class: "button secondary", id: "live-register-after", href: registerHref }, t("live.register"))
      : h("a", { class: "button secondary", id: "live-home", href: "#/home" }, t("nav.home"))));
    // "How did this go?" (issue 16): for those who were in the session, staff and participants.
    if (kind !== "room" && present && ASK_AFTER.has(live.final)) {
      const send = (body) => ctx.api.post(`/api/group-sessions/${enc(sessionId)}/feedback`, body);
      extra.prepend(feedbackCard(ctx, null, { send, hint: "feedback.group_hint", max: COMMENT_MAX }));
    }
  });
}

export async function render(view, ctx) {
  const { t, params, me, api } = ctx;
  const sessionId = params.get("id");
  const room = me.role === "room_device";
  const staff = !room && me.role !== "client";
  view.append(pageHeading(t(room ? "live.room_title" : "live.title")),
    h("p", { class: "note not-recorded", id: "live-not-recorded" }, t("live.not_recorded")));
  const about = h("p", { class: "muted", id: "live-about" });
  const slot = h("div", { class: "stack", id: "live-step" });
  view.append(about, slot);
  if (current && current.sessionId === sessionId && !current.live.final) current.live.leave();
  queueMicrotask(async () => {
    let groupId = params.get("g");
    if (!room) {
      try {
        const found = await findSession(api, sessionId, groupId);
        if (found) {
          groupId = found.group.id;
          about.textContent = t("live.about", { group: found.group.name, when: sessionWhen(found.session) });
        }
      } catch {
        // not one of the person's groups (e.g. an added officer): the server decides at the join
      }
    }
    let mode = "video";
    if (room) {
      enter(view, slot, ctx, { sessionId, groupId, mode, kind: "room" });
      return;
    }
    if (!staff) {
      heading(view, t, "device.title");
      ({ mode } = await deviceTest(slot, { api, t, iceServers: [] }));
    }
    heading(view, t, "safe.title");
    const safe = await groupSafeSpace(slot, { api, t, sessionId });
    if (safe.failed) return; // the server's words are in the slot
    if (!safe.passed) {
      heading(view, t, "live.ended_title");
      ended(slot, t("checkin.ended_neutral"));
      return;
    }
    if (!staff && groupId) {
      heading(view, t, "my_groups.agreement_title");
      if (!(await agreementStep(slot, { api, t, groupId }))) return;
    }
    enter(view, slot, ctx, { sessionId, groupId, mode, kind: staff ? "staff" : "participant" });
  });
}
