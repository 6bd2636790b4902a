// The case page's "Case network" card (issue 16, TUKO): raise a concern, invite partners with
// their agency and last day, schedule a network meeting, record the common assessment and the
// decision, write and send the risk-reduction plan (or a new version of it), and close the
// process with a conclusion. What each stage allows is the server's table; a refusal is shown
// with the server's reason and rule.
import { h, append } from "../shared/dom.js";
import { ApiError } from "../shared/api.js";
import { field, selectField, errorBox } from "../shared/ui.js";
import { actionForm } from "../shared/forms.js";
import { answersOf, dayFromNow, instant, localFromNow, processView, questionFields, stageText, textField }
  from "../shared/networks.js";

const value = (id) => document.getElementById(id).value.trim();

function planForm(id, process, ctx, send, label) {
  const { t, me } = ctx;
  const owners = [[me.id, t("network.case_leader")], ...process.members.filter((m) => !m.ended_at)
    .map((m) => [m.user_id, m.agency])];
  return actionForm(id, [
    textField(`${id}-task`, t("network.task_text"), "8000"),
    selectField(`${id}-owner`, t("network.task_owner"), owners, owners[owners.length - 1][0]),
    field(`${id}-due`, t("network.task_due"), { type: "date", required: true, value: dayFromNow(7) }),
    field(`${id}-task2`, t("network.task_text_more"), { type: "text", maxlength: "8000" }),
    field(`${id}-next`, t("network.next_meeting"), { type: "datetime-local", required: true, value: localFromNow(14) }),
    textField(`${id}-touch`, t("network.keep_in_touch"), "8000"),
  ], label, {
    body: () => ({
      tasks: [{ text: value(`${id}-task`), owner_id: value(`${id}-owner`), due_on: value(`${id}-due`) },
        ...(value(`${id}-task2`) ? [{ text: value(`${id}-task2`), owner_id: me.id, due_on: value(`${id}-due`) }]
          : [])],
      next_meeting_at: instant(`${id}-next`), keep_in_touch: value(`${id}-touch`) }),
    send,
    done: () => ctx.reloadNetwork(t("network.saved")),
  });
}

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
    open && partners.length ? [h("h3", {}, t("network.invite")),
      actionForm("network-invite", [
        selectField("network-partner", t("case.choose_partner"), partners.map((p) => [p.id, p.display_name])),
        textField("network-agency", t("network.agency")),
        field("network-ends", t("network.ends_on"), { type: "date", required: true, value: dayFromNow(90) })],
      t("network.invite"), {
        body: () => ({ user_id: value("network-partner"), agency: value("network-agency"),
          ends_on: value("network-ends") }),
        send: (b) => api.post(`/api/cases/${c}/network/members`, b), done: done("network.invited") })] : null,
    open ? [h("h3", {}, t("network.meeting")),
      actionForm("network-meeting", [
        field("network-meeting-at", t("network.meeting_at"), { type: "datetime-local", required: true,
          value: localFromNow(2) }),
        selectField("network-meeting-mode", t("network.mode"), [["in_person", t("network.in_person")],
          ["video", t("network.video")]], "in_person"),
        field("network-meeting-place", t("network.place"), { type: "text", maxlength: "200" })],
      t("network.schedule"), {
        body: () => ({ starts_at: instant("network-meeting-at"), mode: value("network-meeting-mode"),
          place: value("network-meeting-place") }),
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
      process ? processView(process, t, ctx.me.id) : null, steps(network, file, { ...ctx, reloadNetwork: load })]);
    if (said) status.textContent = said;
  };
  return { card, loaded: load() };
}
