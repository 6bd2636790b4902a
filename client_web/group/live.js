// #/group-sessions/<id>/live?g=<group id>: a live group programme session (issue 14).
// A participant, on a phone: device and network test -> safe-space check with the group's
// question -> (at their first session) the cohort's confidentiality agreement -> the lobby ->
// the session: the active speaker large and thumbnails, their own controls, the group chat.
// Staff answer their own safe-space questions; those who run the session get the console
// (console.js). A room device (role room_device) joins at once and shows a full-screen grid
// of the online participants, with no personal controls and nothing stored on the device.
// The session is never recorded, and the page says so.
// A case-network meeting by video (issue 16) is a live session of the same kind, reached as
// #/group-sessions/netmeet-<meeting id>/live?case=<case id>: its own safe-space check, no
// agreement and no group chat; the case leader runs it, partners and the client take part.
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

const MEETING_PREFIX = "netmeet-";
const MEETING_ROLES = { facilitator: "live.role.case_leader", observer: "live.role.network_member" };

function enter(view, slot, ctx, { sessionId, groupId, mode, kind, caseId = null }) {
  const { t, me } = ctx;
  if (current) current.live.close();
  const live = joinLive(sessionId, { video: mode !== "audio_only" });
  if (caseId) live.roleKeys = MEETING_ROLES; // a network meeting: the case leader and the network's members
  current = { sessionId, live };
  if (kind === "room") {
    document.body.classList.add("room-mode");
    live.on("place", () => { if (live.final) document.body.classList.remove("room-mode"); });
  }
  const controls = participantControls(live, { room: kind === "room" });
  const tiles = stage(live, { layout: kind === "participant" ? "speaker" : "grid", self: kind !== "room" });
  const registerHref = caseId && ctx.me.role !== "client" && ctx.me.role !== "partner"
    ? `#/cases/${enc(caseId)}` : "#/home";
  const extra = h("div", { class: "stack", id: "live-extra" });
  slot.replaceChildren(controls.status, controls.told, controls.where, tiles, controls.bar, extra);
  heading(view, t, kind === "room" ? "live.room_title" : caseId ? "live.meeting_title" : "live.title");
  let present = false; // let into the session at least once: a participant who was is asked afterwards
  live.on("place", () => { if (live.place === "present") present = true; });
  live.on("joined", () => {
    if (live.runs && !extra.querySelector("#live-console")) {
      extra.prepend(facilitatorConsole(live, { registerHref }));
    }
    if (kind !== "room" && !caseId && !extra.querySelector("#live-chat")) {
      const chat = groupChat(ctx, groupId);
      extra.append(chat.section);
    }
  });
  live.on("place", () => {
    if (!live.final) return;
    tiles.hidden = true;
    const runner = live.runs || (me.role !== "client" && me.role !== "room_device");
    extra.replaceChildren(h("p", {}, runner && !caseId
      ? h("a", { class: "button secondary", id: "live-register-after", href: registerHref }, t("live.register"))
      : caseId ? h("a", { class: "button secondary", id: "live-back", href: registerHref }, t("live.back_to_network"))
      : h("a", { class: "button secondary", id: "live-home", href: "#/home" }, t("nav.home"))));
    // "How did this go?" (issue 16): for those who were in the session, staff and participants.
    if (kind !== "room" && !caseId && present && ASK_AFTER.has(live.final)) { // a group session's, not a meeting's
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
  const meetingId = sessionId.startsWith(MEETING_PREFIX) ? sessionId.slice(MEETING_PREFIX.length) : null;
  const caseId = meetingId ? params.get("case") : null;
  if (meetingId) {
    renderMeeting(view, ctx, { sessionId, meetingId, caseId, staff });
    return;
  }
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

/** A case-network meeting by video: device test (the client), the meeting's safe-space check, the session. */
function renderMeeting(view, ctx, { sessionId, meetingId, caseId, staff }) {
  const { t, api } = ctx;
  view.append(pageHeading(t("live.meeting_title")),
    h("p", { class: "note not-recorded", id: "live-not-recorded" }, t("live.not_recorded")));
  const slot = h("div", { class: "stack", id: "live-step" });
  view.append(h("p", { class: "muted", id: "live-about" }, t("live.meeting_about")), slot);
  if (current && current.sessionId === sessionId && !current.live.final) current.live.leave();
  queueMicrotask(async () => {
    let mode = "video";
    if (!staff) {
      heading(view, t, "device.title");
      ({ mode } = await deviceTest(slot, { api, t, iceServers: [] }));
    }
    heading(view, t, "safe.title");
    const url = `/api/cases/${enc(caseId || "")}/network/meetings/${enc(meetingId)}/safe-space`;
    const meetingCheck = { get: () => api.get(url), post: (body) => api.post(url, body) };
    const safe = await groupSafeSpace(slot, { api, t, sessionId, meetingCheck });
    if (safe.failed) return; // the server's words (and its rule) are in the slot
    if (!safe.passed) {
      heading(view, t, "live.ended_title");
      ended(slot, t("checkin.ended_neutral"));
      return;
    }
    enter(view, slot, ctx, { sessionId, groupId: null, mode, kind: staff ? "staff" : "participant", caseId });
  });
}
