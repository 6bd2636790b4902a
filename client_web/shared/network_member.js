// One case network as a member sees it (issue 16, TUKO), on a partner agency's home and on a
// client's home when the client is a member: what the network shares (stage, members, meetings,
// the current plan with its tasks and PDF, earlier versions), the plan to acknowledge, their own
// tasks to mark done or blocked with a note, a view on the common assessment's questions (partners
// only: the client is not asked who is under threat) and a concern to raise. Nothing else of the case.
import { h, append } from "./dom.js";
import { formatDate } from "./i18n.js";
import { loadInto, selectField, field } from "./ui.js";
import { actionForm } from "./forms.js";
import { answersOf, processView, questionFields, stageText, textField } from "./networks.js";

const value = (id) => document.getElementById(id).value.trim();

/** One network of `row` (from /api/my/networks); `loaded` settles once it is shown. */
export function networkItem(row, ctx, reload) {
  const { t, api, me } = ctx;
  const client = me.role === "client";
  const c = encodeURIComponent(row.case_id);
  const slot = h("div", { class: "stack" });
  const id = row.network_id;
  const title = `network-${id}-title`;
  const item = h("li", { class: "card stack", "data-network": id, "aria-labelledby": title },
    h("h2", { id: title }, client ? t("network.yours_client") : t("network.of_agency", { agency: row.agency })),
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
    append(slot, [processView(process, t, me.id, row.case_id),
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
      !client && ["share_and_evaluate", "coordinated_case_management"].includes(process.stage) ? [
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

