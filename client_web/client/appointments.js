// The client's upcoming appointments, on a phone: when, how and where, and which are off;
// with their programme group's sessions among them in time order, each with a Join button
// while its join window is open (to the live group view, #/group-sessions/<id>/live).
import { h } from "../shared/dom.js";
import { loadInto } from "../shared/ui.js";
import { dayAndTime, kindLabel, stateBadges, timeOnly } from "../shared/appointments.js";
import { sessionBadges } from "../shared/group_sessions.js";

const enc = encodeURIComponent;

const OPEN_STATES = new Set(["scheduled", "waiting", "in_call"]);

/** appointment id -> its video check-in, while the check-in's join window is open. */
function joinable(checkins, now = Date.now()) {
  const out = new Map();
  for (const c of checkins) {
    if (c.appointment_id && OPEN_STATES.has(c.state) && Date.parse(c.opens_at) <= now && now < Date.parse(c.closes_at)) {
      out.set(c.appointment_id, c.id);
    }
  }
  return out;
}

function item(a, t, checkinId) {
  const titleId = `appt-${a.id}-when`;
  return h("li", { class: "card appointment", "data-appointment-id": a.id, "data-status": a.status },
    h("article", { "aria-labelledby": titleId },
      h("h3", { id: titleId }, dayAndTime(a.starts_at)),
      h("p", { class: "big" }, kindLabel(a.kind)),
      a.location ? h("p", {}, t("appt.where", { location: a.location })) : null,
      stateBadges(a),
      checkinId ? h("p", {},
        // Named by its time and officer: two video appointments never offer two identical buttons.
        h("a", { class: "button primary big-button", href: `#/checkin?c=${encodeURIComponent(checkinId)}`, "data-join": checkinId,
          "aria-describedby": titleId }, t("client.join_checkin_at", { time: timeOnly(a.starts_at), name: a.officer.display_name })))
        : null,
      a.status === "scheduled" ? h("p", { class: "aside" },
        h("a", { class: "button secondary", href: `/api/appointments/${encodeURIComponent(a.id)}/ics`,
          download: "appointment.ics", "aria-describedby": titleId }, t("appt.add_to_calendar"))) : null));
}

/** A group session's join window is open (and it is not cancelled). */
function groupJoinable(s, now = Date.now()) {
  return s.status === "scheduled" && Date.parse(s.opens_at) <= now && now < Date.parse(s.closes_at);
}

function groupItem(s, t) {
  const titleId = `group-session-${s.id}-when`;
  return h("li", { class: "card appointment", "data-group-session-id": s.id, "data-status": s.status },
    h("article", { "aria-labelledby": titleId },
      h("h3", { id: titleId }, dayAndTime(s.starts_at)),
      h("p", { class: "big" }, kindLabel("group")),
      h("p", {}, s.group_name),
      s.room_name ? h("p", {}, t("appt.where", { location: s.room_name })) : null,
      sessionBadges(s, t),
      groupJoinable(s) ? h("p", {},
        h("a", { class: "button primary big-button", href: `#/group-sessions/${enc(s.id)}/live`, "data-join-group": s.id,
          "aria-describedby": titleId }, t("client.join_group_at", { time: timeOnly(s.starts_at), group: s.group_name })))
        : null,
      s.status === "scheduled" ? h("p", { class: "aside" },
        h("a", { class: "button secondary", href: `/api/group-sessions/${enc(s.id)}/ics`, download: "group-session.ics",
          "data-ics-group": s.id, "aria-describedby": titleId }, t("appt.add_to_calendar"))) : null));
}

/** "Your appointments" card; resolves when the first list is in. */
export function upcomingCard(api, t) {
  const slot = h("div", { class: "stack" });
  const card = h("section", { class: "card", id: "appointments-card", "aria-labelledby": "appointments-title" },
    h("h2", { id: "appointments-title" }, t("client.appointments_title")), slot);
  const load = async () => {
    const data = await loadInto(slot, async () => {
      const [mine, checkins, groups] = await Promise.all([api.get("/api/my/appointments"), api.get("/api/checkins"),
        api.get("/api/my/group-sessions")]);
      return { appointments: mine.appointments, join: joinable(checkins.checkins), sessions: groups.sessions };
    }, load);
    if (!data) return;
    const entries = [...data.appointments.map((a) => [a.starts_at, () => item(a, t, data.join.get(a.id))]),
      ...data.sessions.map((s) => [s.starts_at, () => groupItem(s, t)])]
      .sort((x, y) => Date.parse(x[0]) - Date.parse(y[0]));
    slot.replaceChildren(entries.length
      ? h("ul", { class: "cards", id: "appointments" }, entries.map(([, make]) => make()))
      : h("p", { id: "no-appointments" }, t("client.no_appointments")));
  };
  return { card, loaded: load() };
}
