// Mentors see the names of their mentees and nothing of their cases (DESIGN: scope), their
// mentoring conversations, and for each mentoring period (issue 16) its end and the days
// left, the form to record an activity, the log, and when the period ends the outcome form.
// After the end the mentee leaves the list: the period shows only until the outcome is given.
import { h } from "../shared/dom.js";
import { pageHeading, loadInto, greeting } from "../shared/ui.js";
import { messagesCard } from "../shared/conversations.js";
import { pushCard } from "../shared/push.js";
import { actionForm } from "../shared/forms.js";
import { activityBody, activityFields, activityLog, hoursText, outcomeBody, outcomeFields, outcomeList,
  periodText } from "../shared/mentoring.js";

function periodCard(p, api, t, reload, said) {
  const id = p.assignment_id;
  const mine = p.outcomes.some((o) => o.party === "mentor");
  const title = `mentee-${id}-title`;
  // After an activity only this card is read again (the server says if the period has ended).
  const refresh = async () => {
    const fresh = await api.get(`/api/mentoring/${encodeURIComponent(id)}`);
    card.replaceWith(periodCard(fresh, api, t, reload, said));
    document.getElementById(title)?.focus();  // the form that had focus is gone
    said(t("mentoring.activity_recorded"));
  };
  const card = h("li", { class: "card stack", "data-id": p.mentee.id, "data-assignment-id": id, "aria-labelledby": title },
    h("h2", { class: "big", id: title, tabindex: "-1" }, p.mentee.display_name),
    h("p", { class: "period" }, periodText(p, t)),
    p.running ? [
      h("h3", {}, t("mentoring.record_activity")),
      actionForm(`activity-${id}`, activityFields(`activity-${id}`, t), t("mentoring.record_activity"), {
        body: () => activityBody(`activity-${id}`),
        send: (b) => api.post(`/api/mentoring/${encodeURIComponent(id)}/activities`, b),
        done: refresh,
      }),
      h("h3", {}, t("mentoring.log"), " · ", hoursText(p.hours, t)),
      activityLog(p, t, `log-${id}`)] : h("p", { class: "muted" }, t("mentoring.access_ended")),
    outcomeList(p, t, `outcomes-${id}`),
    !mine && p.outcome_open ? [
      h("h3", {}, t("mentoring.record_outcome")),
      actionForm(`outcome-${id}`, outcomeFields(`outcome-${id}`, t), t("mentoring.record_outcome"), {
        body: () => outcomeBody(`outcome-${id}`),
        send: (b) => api.post(`/api/mentoring/${encodeURIComponent(id)}/outcome`, b),
        done: () => reload(t("mentoring.outcome_recorded")),
      })] : null);
  return card;
}

export async function render(view, { me, api, t }) {
  const slot = h("div", { class: "stack" });
  const status = h("p", { class: "visually-hidden", role: "status", id: "mentor-status" });
  const messages = messagesCard(me);
  const push = pushCard(api);
  view.append(pageHeading(t("mentor.title")), greeting(me), status, slot, messages.card, push.card);
  const load = async (said) => {
    const data = await loadInto(slot, () => api.get("/api/mentoring"), () => load());
    if (!data) return;
    slot.replaceChildren(data.periods.length
      ? h("ul", { class: "cards", id: "mentees", "aria-labelledby": "page-title" },
        data.periods.map((p) => periodCard(p, api, t, load, (text) => { status.textContent = text; })))
      : h("p", {}, t("mentor.empty")));
    if (typeof said === "string") status.textContent = said;
  };
  await Promise.all([load(), messages.loaded, push.loaded]);
}
