// The case page's "Case network" card (issue 16, TUKO): raise a concern, invite partners with
// their agency and last day, schedule a network meeting, record the common assessment and the
// decision, write and send the risk-reduction plan (or a new version of it), and close the
// process with a conclusion. What each stage allows is the server's table; a refusal is shown
// with the server's reason and rule. The client is invited like a partner; on a case with a
// victim-protection flag only with a written reason why it is safe (rule victim_protection).
// The case leader sees the current plan's overdue tasks at the top.
import { h, append } from "../shared/dom.js";
import { ApiError } from "../shared/api.js";
import { field, selectField, errorBox } from "../shared/ui.js";
import { actionForm } from "../shared/forms.js";
import { formatDate } from "../shared/i18n.js";
import { answersOf, dayFromNow, instant, localFromNow, processView, questionFields, stageText, textField }
  from "../shared/networks.js";
import { planForm } from "./network_plan.js";

const value = (id) => document.getElementById(id).value.trim();

function steps(network, file, ctx) {
  const { t, api } = ctx;
  const c = encodeURIComponent(file.case_id);
  const process = network ? network.processes[network.processes.length - 1] : null;
  const stage = process ? process.stage : null;
  const done = (key) => () => ctx.reloadNetwork(t(key));
  const open = stage && stage !== "closed";
  const partners = file.candidates.filter((c) => c.role === "partner");
  return [
    h("h3", {}, t("network.raise")),
    actionForm("network-concern", [textField("network-noticed", t("network.noticed"), "8000"),
      textField("network-noticed-by", t("network.noticed_by"))], t("network.raise"), {
      body: () => ({ noticed: value("network-noticed"), noticed_by: value("network-noticed-by") }),
      send: (b) => api.post(`/api/cases/${c}/network/concerns`, b), done: done("network.raised") }),
    open ? [h("h3", {}, t("network.invite")),
      actionForm("network-invite", [
        selectField("network-partner", t("case.choose_partner"), [...partners.map((p) => [p.id, p.display_name]),
          [file.client.id, t("network.the_client", { name: file.client.display_name })]]),
        textField("network-agency", t("network.agency")),
        field("network-ends", t("network.ends_on"), { type: "date", required: true, value: dayFromNow(90) }),
        h("div", { class: "field" }, h("label", { for: "network-safety" }, t("network.safety_reason")),
          h("p", { class: "hint", id: "network-safety-hint" }, t("network.safety_reason_hint")),
          h("textarea", { id: "network-safety", name: "network-safety", maxlength: "2000", rows: "2",
            "aria-describedby": "network-safety-hint" }))],
      t("network.invite"), {
        body: () => ({ user_id: value("network-partner"), agency: value("network-agency"),
          ends_on: value("network-ends"), safety_reason: value("network-safety") }),
        send: (b) => api.post(`/api/cases/${c}/network/members`, b), done: done("network.invited") })] : null,
    open ? [h("h3", {}, t("network.meeting")),
      actionForm("network-meeting", [
        field("network-meeting-at", t("network.meeting_at"), { type: "datetime-local", required: true,
          value: localFromNow(2) }),
        selectField("network-meeting-mode", t("network.mode"), [["in_person", t("network.in_person")],
          ["video", t("network.video")]], "in_person"),
        field("network-meeting-place", t("network.place"), { type: "text", maxlength: "200" }),
        field("network-meeting-minutes", t("network.minutes"), { type: "number", min: "15", max: "480",
          required: true, value: "60", inputmode: "numeric" })],
      t("network.schedule"), {
        body: () => ({ starts_at: instant("network-meeting-at"), mode: value("network-meeting-mode"),
          place: value("network-meeting-place"), minutes: Number(value("network-meeting-minutes")) }),
        send: (b) => api.post(`/api/cases/${c}/network/meetings`, b), done: done("network.scheduled") })] : null,
    stage === "share_and_evaluate" ? [h("h3", {}, t("network.assessment")),
      actionForm("network-assessment", [...questionFields("network-assess", t),
        selectField("network-decision", t("network.decision"), [["plan", t("network.decision.plan")],
          ["close", t("network.decision.close")]], "plan")], t("network.record_assessment"), {
        body: () => ({ answers: answersOf("network-assess"), decision: value("network-decision") }),
        send: (b) => api.post(`/api/cases/${c}/network/assessment`, b), done: done("network.assessed") })] : null,
    stage === "make_a_plan" ? [h("h3", {}, t("network.plan")),
      planForm("network-plan", process, ctx, (b) => api.put(`/api/cases/${c}/network/plan`, b), t("network.save_plan")),
      process.draft ? h("button", { type: "button", class: "button primary", id: "network-send-plan",
        onclick: async (event) => {
          event.target.disabled = true;
          try {
            await api.post(`/api/cases/${c}/network/plan/send`);
            await ctx.reloadNetwork(t("network.sent"));
          } catch (err) {
            event.target.replaceWith(errorBox(err));
          }
        } }, t("network.send_plan")) : null] : null,
    stage === "coordinated_case_management" ? [h("h3", {}, t("network.revise")),
      planForm("network-revise", process, ctx, (b) => api.post(`/api/cases/${c}/network/plan/revisions`, b),
        t("network.send_revision"))] : null,
    open ? [h("h3", {}, t("network.close")),
      actionForm("network-close", [textField("network-conclusion", t("network.conclusion"), "8000")],
        t("network.close"), {
          body: () => ({ conclusion: value("network-conclusion") }),
          send: (b) => api.post(`/api/cases/${c}/network/close`, b), done: done("network.closed") })] : null,
  ];
}

/** The case leader's overdue tasks of the current plan (they are also on the follow-up list). */
function overdueList(overdue, process, t) {
  const agency = (id) => (process.members.find((m) => m.user_id === id) || {}).agency || t("network.case_leader");
  return h("div", { class: "note stack", id: "network-overdue" },
    h("h3", { id: "network-overdue-title" }, t("network.overdue")),
    h("ul", { class: "plain", "aria-labelledby": "network-overdue-title" }, overdue.map((task) =>
      h("li", { "data-overdue-task": task.id }, h("strong", {}, task.text), " · ", agency(task.owner_id), " · ",
        t("network.due", { date: formatDate(task.due_on) }), " · ", t(`network.task.${task.state}`)))));
}

/** The card and a promise settled once the network is shown. */
export function networkCard(file, ctx) {
  const { t, api } = ctx;
  const slot = h("div", { class: "stack", id: "case-network-body" });
  const status = h("p", { class: "visually-hidden", role: "status", id: "case-network-status" });
  const card = h("section", { class: "card", id: "case-network", "aria-labelledby": "case-network-title" },
    h("h2", { id: "case-network-title" }, t("network.title")), status, slot);
  const load = async (said) => {
    let network = null;
    try {
      network = await api.get(`/api/cases/${encodeURIComponent(file.case_id)}/network`);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === "not_found")) {
        slot.replaceChildren(errorBox(err, () => load()));
        return;
      }
    }
    const process = network ? network.processes[network.processes.length - 1] : null;
    slot.replaceChildren();
    append(slot, [h("p", { id: "case-network-stage" }, stageText(process ? process.stage : null, t)),
      network && network.overdue.length ? overdueList(network.overdue, process, t) : null,
      process ? processView(process, t, ctx.me.id, file.case_id) : null, steps(network, file, { ...ctx, reloadNetwork: load })]);
    if (said) status.textContent = said;
  };
  return { card, loaded: load() };
}
