// Appointments as people read them: when, how (in person, video, phone), where, and
// whether it is off or needs a follow-up; and the in-app reminders card, which lists the
// last week's reminders and announces new ones as `reminder` frames arrive on /ws
// (docs/protocol.md, "Reminders"). Frames reach us as "tandem:reminder" window events.
import { h } from "./dom.js";
import { t, language } from "./i18n.js";
import { loadInto } from "./ui.js";

/** The browser's time zone, e.g. "Europe/Helsinki" (UTC when it cannot tell). */
export function timeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export function dayAndTime(iso) {
  return new Intl.DateTimeFormat(language(), {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  }).format(new Date(iso));
}

export function timeOnly(iso) {
  return new Intl.DateTimeFormat(language(), { hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
}

export function dayName(iso) {
  return new Intl.DateTimeFormat(language(), { weekday: "long", day: "numeric", month: "long" })
    .format(new Date(iso));
}

/** "2026-01-06" of a Date, in local time. */
export function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function kindLabel(kind) {
  return t(`appt.kind.${kind}`);
}

/** Badges: cancelled, the recorded outcome, or "not recorded yet" once the window has closed. */
export function stateBadges(a) {
  const items = [];
  if (a.status === "cancelled") items.push(["risk", t("appt.cancelled")]);
  if (a.outcome) items.push(["info", t(`appt.outcome.${a.outcome}`)]);
  if (a.follow_up) items.push(["risk", t("appt.follow_up")]);
  if (!items.length) return null;
  return h("ul", { class: "badges" }, items.map(([kind, text]) => h("li", { class: `badge badge-${kind}` }, text)));
}

/** A reminder's line: "in about 15 min" while the appointment is ahead, its time once it began. */
export function reminderText(r, now = new Date()) {
  if (new Date(r.starts_at) <= now) return t("reminders.past", { kind: kindLabel(r.kind), when: dayAndTime(r.starts_at) });
  const key = r.offset_s >= 3600 ? "reminders.hours" : "reminders.minutes";
  const amount = r.offset_s >= 3600 ? Math.round(r.offset_s / 3600) : Math.round(r.offset_s / 60);
  return t(key, { kind: kindLabel(r.kind), when: dayAndTime(r.starts_at), count: amount });
}

/**
 * "Reminders" card: the last week's reminders, newest first, and each new one announced
 * politely as it arrives. `api` is the app's API helper.
 */
export function remindersCard(api) {
  const list = h("ul", { class: "reminders", id: "reminders" });
  const empty = h("p", { id: "no-reminders" }, t("reminders.empty"));
  const live = h("p", { class: "visually-hidden", role: "status", id: "reminder-announce" });
  const slot = h("div", { class: "stack" });
  const card = h("section", { class: "card", id: "reminders-card", "aria-labelledby": "reminders-title" },
    h("h2", { id: "reminders-title" }, t("reminders.title")), live, slot);
  const seen = new Set();
  const item = (r) => h("li", { class: "reminder", "data-reminder-id": r.id, "data-appointment-id": r.appointment_id,
    "data-group-session-id": r.group_session_id },
    reminderText(r));
  const add = (r, { announce }) => {
    if (seen.has(r.id)) return;
    seen.add(r.id);
    list.prepend(item(r));
    empty.hidden = true;
    if (announce) live.textContent = reminderText(r);
  };
  const onFrame = (event) => {
    if (!card.isConnected) {
      window.removeEventListener("tandem:reminder", onFrame);
      return;
    }
    add(event.detail, { announce: true });
  };
  window.addEventListener("tandem:reminder", onFrame);
  const load = async () => {
    const data = await loadInto(slot, () => api.get("/api/reminders"), load);
    if (!data) return;
    slot.replaceChildren(empty, list);
    for (const r of [...data.reminders].reverse()) add(r, { announce: false });
    empty.hidden = seen.size > 0;
  };
  return { card, loaded: load() };
}
