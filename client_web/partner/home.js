// A partner agency's home (issue 16, TUKO): only the case networks they are a member of and can
// open now, each with what the network shares (stage, members, meetings, the current plan and
// its tasks), the plan to acknowledge, their own tasks to mark done or blocked with a note, a
// view on the common assessment's questions and a concern to raise. Nothing else of the case.
import { h, append } from "../shared/dom.js";
import { formatDate } from "../shared/i18n.js";
import { pageHeading, signedInAs, loadInto, selectField, field } from "../shared/ui.js";
import { actionForm } from "../shared/forms.js";
import { answersOf, processView, questionFields, stageText, textField } from "../shared/networks.js";

const value = (id) => document.getElementById(id).value.trim();

function networkItem(row, ctx, reload) {
  const { t, api, me } = ctx;
  const c = encodeURIComponent(row.case_id);
  const slot = h("div", { class: "stack" });
  const id = row.network_id;
  const title = `network-${id}-title`;
  const item = h("li", { class: "card stack", "data-network": id, "aria-labelledby": title },
    h("h2", { id: title }, t("network.of_agency", { agency: row.agency })),
    h("p", { class: "muted" }, `${stageText(row.stage, t)} · ${t("network.until", { date: formatDate(row.ends_on) })}`),
    slot);
  const load = async () => {
    const network = await loadInto(slot, () => api.get(`/api/cases/${c}/network`), load);
    if (!network) return;
    const process = network.processes[network.processes.length - 1];
    const plan = process.plans.length ? process.plans[process.plans.length - 1] : null;
    const mine = plan ? plan.tasks.filter((task) => task.owner_id === me.id && task.state !== "done") : [];
    const done = (key) => () => reload(t(key));
    slot.replaceChildren();
    append(slot, [processView(process, t, me.id),
      plan && !plan.acknowledged[me.id] ? actionForm(`ack-${id}`, [], t("network.acknowledge"), {
        body: () => ({ version: plan.version }),
        send: (b) => api.post(`/api/cases/${c}/network/plan/acknowledgement`, b), done: done("network.acknowledged_now") })
        : plan ? h("p", { class: "network-acknowledged" }, t("network.you_acknowledged")) : null,
      mine.length ? [h("h3", {}, t("network.your_tasks")), actionForm(`task-${id}`, [
        selectField(`task-${id}-which`, t("network.task"), mine.map((task) => [task.id, task.text])),
        selectField(`task-${id}-state`, t("network.task_state"), [["done", t("network.task.done")],
          ["blocked", t("network.task.blocked")]], "done"),
        textField(`task-${id}-note`, t("network.note"), "2000")], t("network.mark_task"), {
        body: () => ({ task_id: value(`task-${id}-which`), state: value(`task-${id}-state`),
          note: value(`task-${id}-note`) }),
        send: (b) => api.post(`/api/cases/${c}/network/tasks`, b), done: done("network.task_marked") })] : null,
      ["share_and_evaluate", "coordinated_case_management"].includes(process.stage) ? [
        h("h3", {}, t("network.your_view")),
        actionForm(`view-${id}`, questionFields(`view-${id}`, t), t("network.record_view"), {
          body: () => ({ answers: answersOf(`view-${id}`) }),
          send: (b) => api.post(`/api/cases/${c}/network/views`, b), done: done("network.view_recorded") })] : null,
      h("h3", {}, t("network.raise")),
      actionForm(`concern-${id}`, [textField(`concern-${id}-noticed`, t("network.noticed"), "8000"),
        field(`concern-${id}-by`, t("network.noticed_by"), { type: "text", required: true, maxlength: "200",
          value: row.agency })], t("network.raise"), {
        body: () => ({ noticed: value(`concern-${id}-noticed`), noticed_by: value(`concern-${id}-by`) }),
        send: (b) => api.post(`/api/cases/${c}/network/concerns`, b), done: done("network.raised") })]);
  };
  return { item, loaded: load() };
}

export async function render(view, ctx) {
  const { me, t, api } = ctx;
  const status = h("p", { class: "visually-hidden", role: "status", id: "partner-status" });
  const slot = h("div", { class: "stack", id: "partner-networks" });
  view.append(pageHeading(t("home.greeting", { name: me.display_name })), signedInAs(me), status,
    h("h2", {}, t("network.yours")), slot);
  const reload = async (said) => {
    const data = await loadInto(slot, () => api.get("/api/my/networks"), () => reload());
    if (!data) return;
    const items = data.networks.map((row) => networkItem(row, ctx, reload));
    slot.replaceChildren(items.length ? h("ul", { class: "plain stack" }, items.map((i) => i.item))
      : h("p", { class: "muted", id: "partner-no-networks" }, t("network.none_yours")));
    await Promise.all(items.map((i) => i.loaded));
    if (said) status.textContent = said;
  };
  await reload();
}
