// Group programme attendance for the supervising officer: absences from confirmed group
// registers on the follow-up list (officers their caseload's, seniors their office's), and a
// case's attendance lines on the case page. Both reads are audited by the server.
import { h } from "../shared/dom.js";
import { loadInto } from "../shared/ui.js";
import { dayAndTime } from "../shared/appointments.js";

const enc = encodeURIComponent;

/** "Group absences" card for the schedule's follow-up list; resolves when the list is in. */
export function groupAbsencesCard(api, t) {
  const slot = h("div", { class: "stack" });
  const card = h("section", { class: "card", id: "group-absences-card", "aria-labelledby": "group-absences-title" },
    h("h2", { id: "group-absences-title" }, t("group_absences.title")),
    h("p", { class: "hint" }, t("group_absences.hint")), slot);
  const load = async () => {
    const data = await loadInto(slot, () => api.get("/api/followups/group-absences"), load);
    if (!data) return;
    slot.replaceChildren(data.absences.length
      ? h("ul", { class: "cards", id: "group-absences" }, data.absences.map((a) => {
        const titleId = `absence-${a.session_id}-${a.case_id}`;
        return h("li", { class: "card followup", "data-session-id": a.session_id, "data-case-id": a.case_id },
          h("h3", { id: titleId }, `${dayAndTime(a.starts_at)} · ${a.client.display_name}`),
          h("p", {}, t("group_absences.line", { group: a.group_name })),
          h("p", {}, h("a", { class: "text-link", href: `#/cases/${enc(a.case_id)}`, "aria-describedby": titleId },
            t("group_absences.open_case"))));
      }))
      : h("p", { id: "no-group-absences" }, t("group_absences.none")));
  };
  return { card, loaded: load() };
}

/** "Group attendance" card of a case page; resolves when the lines are in. */
export function caseAttendanceCard(caseId, api, t) {
  const slot = h("div", { class: "stack" });
  const card = h("section", { class: "card", id: "case-group-attendance", "aria-labelledby": "case-group-attendance-title" },
    h("h2", { id: "case-group-attendance-title" }, t("group_attendance.title")), slot);
  const load = async () => {
    const data = await loadInto(slot, () => api.get(`/api/cases/${enc(caseId)}/group-attendance`), load);
    if (!data) return;
    slot.replaceChildren(data.lines.length
      ? h("ul", { class: "plain", id: "group-attendance" }, data.lines.map((x) =>
        h("li", { "data-session-id": x.session_id, "data-status": x.status },
          h("p", {}, `${dayAndTime(x.starts_at)} · ${x.group_name} (${x.programme})`),
          h("p", {}, h("span", { class: `badge badge-${x.status === "absent" ? "risk" : "info"}` },
            t(`register.status.${x.status}`)),
          x.minutes_present !== null && x.minutes_present !== undefined
            ? ` ${t("group_attendance.minutes", { count: x.minutes_present })}` : ""),
          x.note ? h("p", { class: "muted" }, x.note) : null)))
      : h("p", { class: "muted", id: "group-attendance" }, t("group_attendance.none")));
  };
  return { card, loaded: load() };
}
