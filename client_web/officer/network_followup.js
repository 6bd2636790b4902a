// Overdue tasks of the case networks an officer leads (a senior: their office's), on the
// schedule's follow-up list beside unrecorded check-ins and group absences (issue 16, TUKO
// stage 4): each with its client, its owner's agency and due date, and a link to the case page
// where the network card is. The server audits the read of every network it lists.
import { h } from "../shared/dom.js";
import { formatDate } from "../shared/i18n.js";
import { loadInto } from "../shared/ui.js";

/** "Network tasks overdue" card; resolves when the list is in. */
export function networkFollowUpCard(api, t) {
  const slot = h("div", { class: "stack" });
  const card = h("section", { class: "card", id: "network-followups-card", "aria-labelledby": "network-followups-title" },
    h("h2", { id: "network-followups-title" }, t("network.followups")),
    h("p", { class: "hint" }, t("network.followups_hint")), slot);
  const load = async () => {
    const data = await loadInto(slot, () => api.get("/api/networks/follow-up"), load);
    if (!data) return;
    slot.replaceChildren(data.tasks.length
      ? h("ul", { class: "cards", id: "network-followups" }, data.tasks.map((task) => {
        const titleId = `network-followup-${task.network_id}-${task.id}`;
        return h("li", { class: "card followup", "data-case-id": task.case_id, "data-task": task.id },
          h("h3", { id: titleId }, `${task.client_name} · ${task.text}`),
          h("p", {}, `${task.owner_agency || t("network.case_leader")} · ${t("network.due", {
            date: formatDate(task.due_on) })} · ${t(`network.task.${task.state}`)}`),
          h("p", {}, h("a", { class: "text-link", href: `#/cases/${encodeURIComponent(task.case_id)}`,
            "aria-describedby": titleId }, t("network.open_case"))));
      }))
      : h("p", { id: "no-network-followups" }, t("network.no_followups")));
  };
  return { card, loaded: load() };
}
