// A group session's time and state, as the facilitator's console and the participant's home
// both show them, and its "add to calendar" links (.ics of the session, and of its series).
import { h } from "./dom.js";
import { dayAndTime, timeOnly } from "./appointments.js";

/** "Tue 6 Jan 16:00–17:30" of a session. */
export function sessionWhen(s) {
  return `${dayAndTime(s.starts_at)}–${timeOnly(s.ends_at)}`;
}

/** Badges: cancelled, register confirmed. */
export function sessionBadges(s, t) {
  const items = [];
  if (s.status === "cancelled") items.push(["risk", t("sessions.cancelled")]);
  if (s.register_confirmed) items.push(["info", t("sessions.register_confirmed")]);
  return items.length
    ? h("ul", { class: "badges" }, items.map(([kind, text]) => h("li", { class: `badge badge-${kind}` }, text)))
    : null;
}

/**
 * "Add to calendar" links: the session's .ics and, for a session of a series (unless
 * `series` says not to), the whole series'. Each names its session, so two never read alike.
 */
export function calendarLinks(s, t, series = Boolean(s.series_id)) {
  const id = encodeURIComponent(s.id);
  return h("p", { class: "actions" },
    h("a", { class: "button secondary", href: `/api/group-sessions/${id}/ics`, download: "group-session.ics",
      "data-ics": s.id }, t("sessions.ics_one", { when: sessionWhen(s) })),
    series && s.series_id ? h("a", { class: "button secondary", href: `/api/group-sessions/${id}/series.ics`,
      download: "group-sessions.ics", "data-ics-series": s.id }, t("sessions.ics_series", { when: sessionWhen(s) }))
      : null);
}
