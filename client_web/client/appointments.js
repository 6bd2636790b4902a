// The client's upcoming appointments, on a phone: when, how and where, and which are off.
import { h } from "../shared/dom.js";
import { loadInto } from "../shared/ui.js";
import { dayAndTime, kindLabel, stateBadges } from "../shared/appointments.js";

function item(a, t) {
  const titleId = `appt-${a.id}-when`;
  return h("li", { class: "card appointment", "data-appointment-id": a.id, "data-status": a.status },
    h("article", { "aria-labelledby": titleId },
      h("h3", { id: titleId }, dayAndTime(a.starts_at)),
      h("p", { class: "big" }, kindLabel(a.kind)),
      a.location ? h("p", {}, t("appt.where", { location: a.location })) : null,
      stateBadges(a),
      a.status === "scheduled" ? h("p", { class: "aside" },
        h("a", { class: "button secondary", href: `/api/appointments/${encodeURIComponent(a.id)}/ics`,
          download: "appointment.ics", "aria-describedby": titleId }, t("appt.add_to_calendar"))) : null));
}

/** "Your appointments" card; resolves when the first list is in. */
export function upcomingCard(api, t) {
  const slot = h("div", { class: "stack" });
  const card = h("section", { class: "card", id: "appointments-card", "aria-labelledby": "appointments-title" },
    h("h2", { id: "appointments-title" }, t("client.appointments_title")), slot);
  const load = async () => {
    const data = await loadInto(slot, () => api.get("/api/my/appointments"), load);
    if (!data) return;
    slot.replaceChildren(data.appointments.length
      ? h("ul", { class: "cards", id: "appointments" }, data.appointments.map((a) => item(a, t)))
      : h("p", { id: "no-appointments" }, t("client.no_appointments")));
  };
  return { card, loaded: load() };
}
