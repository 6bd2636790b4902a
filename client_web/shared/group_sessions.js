// A group session's time and state, as the facilitator's console and the participant's home
// both show them.
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
