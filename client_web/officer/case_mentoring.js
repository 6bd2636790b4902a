// The case page's mentoring periods (issue 16): for each of the client's mentors, the period
// with its days left, a form to extend it with a reason (audited by the server), the mentor's
// activity log, the outcomes, and the officer's own outcome form (which ends a running
// mentoring). Refusals are shown with the server's reason and rule.
import { h } from "../shared/dom.js";
import { field, loadInto } from "../shared/ui.js";
import { actionForm } from "../shared/forms.js";
import { isoDay } from "../shared/appointments.js";
import { activityLog, hoursText, outcomeBody, outcomeFields, outcomeList, periodText } from "../shared/mentoring.js";

/** A day `days` after the day `from` ("2026-01-05"), as "2026-03-06". */
function dayAfter(from, days) {
  const date = new Date(`${from}T12:00:00`);
  date.setDate(date.getDate() + days);
  return isoDay(date);
}

function periodItem(p, ctx, reload) {
  const { t, api } = ctx;
  const id = p.assignment_id;
  const title = `period-${id}-title`;
  const today = isoDay(new Date());
  const base = p.ends_on && p.ends_on > today ? p.ends_on : today;
  const officerDone = p.outcomes.some((o) => o.party === "officer");
  return h("li", { class: "card stack", "data-assignment-id": id, "data-running": String(p.running),
    "aria-labelledby": title },
  h("h3", { id: title }, p.mentor.display_name),
  h("p", { class: "period" }, periodText(p, t)),
  p.running ? actionForm(`extend-${id}`, [
    field(`extend-${id}-date`, t("mentoring.new_end"), { type: "date", required: true, min: dayAfter(base, 1),
      value: dayAfter(base, 30) }),
    field(`extend-${id}-reason`, t("case.reason"), { type: "text", required: true, maxlength: "2000" }),
  ], t("mentoring.extend"), {
    body: () => ({ ends_on: document.getElementById(`extend-${id}-date`).value,
      reason: document.getElementById(`extend-${id}-reason`).value.trim() }),
    send: (b) => api.post(`/api/mentor-assignments/${encodeURIComponent(id)}/extend`, b),
    done: () => reload(t("mentoring.extended")),
  }) : null,
  h("h4", {}, t("mentoring.log"), " · ", hoursText(p.hours, t)),
  activityLog(p, t, `case-log-${id}`),
  outcomeList(p, t, `case-outcomes-${id}`),
  officerDone ? null : [
    h("h4", {}, t("mentoring.record_outcome")),
    actionForm(`case-outcome-${id}`, outcomeFields(`case-outcome-${id}`, t), t("mentoring.record_outcome"), {
      body: () => outcomeBody(`case-outcome-${id}`),
      send: (b) => api.post(`/api/mentor-assignments/${encodeURIComponent(id)}/outcome`, b),
      done: () => reload(t("mentoring.outcome_recorded")),
    })]);
}

/** The card and a promise settled once its periods are shown. */
export function mentoringCard(file, ctx, reload) {
  const { t, api } = ctx;
  const slot = h("div", { class: "stack", id: "case-mentoring-list" });
  const card = h("section", { class: "card", id: "case-mentoring", "aria-labelledby": "case-mentoring-title" },
    h("h2", { id: "case-mentoring-title" }, t("mentoring.title")), slot);
  const load = async () => {
    const data = await loadInto(slot, () => api.get(`/api/cases/${encodeURIComponent(file.case_id)}/mentoring`),
      load);
    if (!data) return;
    slot.replaceChildren(data.periods.length
      ? h("ul", { class: "plain stack" }, data.periods.map((p) => periodItem(p, ctx, reload)))
      : h("p", { class: "muted" }, t("mentoring.none")));
  };
  return { card, loaded: load() };
}
