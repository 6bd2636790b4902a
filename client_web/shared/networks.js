// A case network's process as its reader sees it (issue 16, TUKO): the stage, the members with
// their agency and last day, the meetings, and the current plan with its tasks and who
// acknowledged it. Shared by the officer's case page and the partner's home.
import { h } from "./dom.js";
import { formatDate } from "./i18n.js";
import { dayAndTime } from "./appointments.js";
import { details, field } from "./ui.js";

/** The common assessment's questions, in order (TUKO stage 2): `QUESTIONS` in server/networks/model.py. */
export const QUESTIONS = ["under_threat", "harm_likelihood", "threat_nature", "risk_factors", "needs_motivation",
  "protective_factors"];

export function stageText(stage, t) {
  return t(`network.stage.${stage || "none"}`);
}

/** A datetime-local input's value as an ISO instant. */
export function instant(id) {
  return new Date(document.getElementById(id).value).toISOString();
}

/** A day `days` from today as "2026-01-05", and a datetime-local value `days` from now. */
export function dayFromNow(days) {
  const d = new Date(Date.now() + days * 24 * 3600_000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

export function localFromNow(days) {
  return `${dayFromNow(days)}T10:00`;
}

/** One labelled textarea per assessment question, ids `${prefix}-${question}`. */
export function questionFields(prefix, t) {
  return QUESTIONS.map((q) => h("div", { class: "field" },
    h("label", { for: `${prefix}-${q}` }, t(`network.q.${q}`)),
    h("textarea", { id: `${prefix}-${q}`, name: `${prefix}-${q}`, maxlength: "8000", rows: "2" })));
}

export function answersOf(prefix) {
  const out = {};
  for (const q of QUESTIONS) {
    const v = document.getElementById(`${prefix}-${q}`).value.trim();
    if (v) out[q] = v;
  }
  return out;
}

function memberName(process, id, t) {
  const m = process.members.find((x) => x.user_id === id);
  return m ? m.agency : t("network.case_leader");
}

/** The PDF of a sent version of the plan. */
export function planPdfUrl(caseId, version) {
  return `/api/cases/${encodeURIComponent(caseId)}/network/plan.pdf?version=${version}`;
}

function taskList(process, plan, t, me, current) {
  return h("ul", { class: `plain stack ${current ? "network-tasks" : "network-earlier-tasks"}` },
    plan.tasks.map((task) => h("li", { [current ? "data-task" : "data-earlier-task"]: task.id, "data-state": task.state, "data-mine": String(task.owner_id === me) },
  h("strong", {}, task.text), " · ", memberName(process, task.owner_id, t), " · ",
  t("network.due", { date: formatDate(task.due_on) }), " · ",
  h("span", { class: "task-state" }, t(`network.task.${task.state}`)),
  task.notes.length ? h("span", { class: "muted" }, ` · ${task.notes[task.notes.length - 1].note}`) : null)));
}

function planView(process, plan, t, me, caseId, current) {
  const titleId = `network-plan-${process.number}-${plan.version}-title`;
  return h("div", { class: "stack network-plan", "data-version": String(plan.version) },
    h(current ? "h3" : "h4", { id: titleId }, t("network.plan_version", { version: String(plan.version) })),
    details([
      plan.crisis ? [t("network.crisis"), t("network.crisis_yes")] : null,
      [t("network.next_meeting"), dayAndTime(plan.next_meeting_at)],
      [t("network.keep_in_touch"), plan.keep_in_touch],
      [t("network.acknowledged"), String(Object.keys(plan.acknowledged).length)],
    ]),
    taskList(process, plan, t, me, current),
    caseId ? h("p", {}, h("a", { class: "text-link network-pdf", href: planPdfUrl(caseId, plan.version),
      download: `risk-reduction-plan-v${plan.version}.pdf`, "aria-describedby": titleId }, t("network.pdf"))) : null);
}

/** A meeting held by video whose join window is open now: the window the server enforces, as it
 * sends it with the meeting (`join_opens_at`, `join_closes_at`); never one of the client's own. */
export function joinable(meeting, now = Date.now()) {
  if (meeting.mode !== "video" || !meeting.join_opens_at || !meeting.join_closes_at) return false;
  return now >= Date.parse(meeting.join_opens_at) && now <= Date.parse(meeting.join_closes_at);
}

/** The live view of a network meeting by video: a live session hosted like a group session. */
export function meetingLiveRoute(meetingId, caseId) {
  return `/group-sessions/netmeet-${encodeURIComponent(meetingId)}/live?case=${encodeURIComponent(caseId)}`;
}

/** The process: stage, members, meetings, the current plan's tasks, earlier versions of the plan. */
export function processView(process, t, me, caseId = null) {
  const plan = process.plans.length ? process.plans[process.plans.length - 1] : null;
  const earlier = process.plans.slice(0, -1).reverse();
  return h("div", { class: "stack", "data-process": String(process.number), "data-stage": process.stage },
    details([
      [t("network.stage"), h("span", { class: "network-stage" }, stageText(process.stage, t))],
      [t("network.members"), process.members.length ? h("ul", { class: "plain network-members" },
        process.members.map((m) => h("li", { "data-member": m.user_id, "data-kind": m.kind },
          `${m.agency} · ${t("network.until", { date: formatDate(m.ends_on) })}`)))
        : t("network.no_members")],
      process.meetings.length ? [t("network.meetings"), h("ul", { class: "plain network-meetings" },
        process.meetings.map((m) => h("li", { "data-meeting": m.id },
          `${dayAndTime(m.starts_at)} · ${m.place || t("network.video")}`,
          caseId && process.stage !== "closed" && joinable(m) ? [" ", h("a", {
            class: "button primary network-join-video", "data-join-meeting": m.id,
            href: `#${meetingLiveRoute(m.id, caseId)}` }, t("network.join_video"))] : null))),
      caseId && process.stage !== "closed" ? h("a", { class: "text-link network-ics",
        href: `/api/cases/${encodeURIComponent(caseId)}/network/meetings.ics`, download: "network-meetings.ics" },
      t("network.meetings_ics")) : null]
        : null,
      process.conclusion ? [t("network.conclusion"), process.conclusion] : null,
    ]),
    plan ? planView(process, plan, t, me, caseId, true) : null,
    earlier.length ? h("details", { class: "network-earlier" }, h("summary", {}, t("network.earlier_versions")),
      earlier.map((p) => planView(process, p, t, me, caseId, false))) : null);
}

/** A labelled text input with a length limit. */
export function textField(id, label, max = "200") {
  return field(id, label, { type: "text", required: true, maxlength: max });
}
