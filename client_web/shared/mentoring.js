// Mentoring periods (issue 16), as the mentor, the officer and the mentee see them: the period
// (first and last day, days left), the mentor's activity log, and the outcomes. The forms to
// record an activity or an outcome are shared by the mentor's and the officer's screens.
import { h } from "./dom.js";
import { formatDate } from "./i18n.js";
import { field, selectField } from "./ui.js";
import { isoDay } from "./appointments.js";

export const ACTIVITY_KINDS = ["meeting", "mediation", "court_conditions", "debts", "family", "other"];
export const OUTCOMES = ["completed", "ended_early"];

/** A day ("2026-01-05") in the reader's language, the same day wherever they are. */
export function dayText(day) {
  return formatDate(`${day}T12:00:00`);
}

/** "5 Jan 2026 – 2 Sep 2026 · 12 days left" (or "ended"). */
export function periodText(p, t) {
  const span = p.ends_on
    ? t("mentoring.period", { start: dayText(p.starts_on), end: dayText(p.ends_on) })
    : t("mentoring.period_open_ended", { start: dayText(p.starts_on) });
  if (!p.running) return `${span} · ${t("mentoring.ended")}`;
  if (p.days_left === null) return span;
  return `${span} · ${p.days_left === 0 ? t("mentoring.last_day") : t("mentoring.days_left", { days: p.days_left })}`;
}

export function hoursText(hours, t) {
  return t("mentoring.hours_value", { hours: hours.toLocaleString(undefined, { maximumFractionDigits: 2 }) });
}

/** The activity log, newest first: kind, day, hours and the note. */
export function activityLog(p, t, id) {
  if (!p.activities.length) return h("p", { class: "muted", id }, t("mentoring.no_activities"));
  return h("ul", { class: "plain stack", id }, p.activities.map((a) =>
    h("li", { "data-activity-id": a.id, "data-kind": a.kind },
      h("strong", {}, t(`mentoring.kind.${a.kind}`)), ` · ${dayText(a.done_on)} · ${hoursText(a.hours, t)}`,
      a.note ? [h("br"), h("span", { class: "activity-note" }, a.note)] : null)));
}

/** The outcomes recorded, by whom (the mentor, the officer). */
export function outcomeList(p, t, id) {
  if (!p.outcomes.length) return null;
  return h("ul", { class: "plain", id }, p.outcomes.map((o) =>
    h("li", { "data-party": o.party, "data-outcome": o.outcome },
      t(`mentoring.outcome_by.${o.party}`, { outcome: t(`mentoring.outcome.${o.outcome}`) }),
      o.reason ? ` · ${o.reason}` : "")));
}

/** The fields of "record an activity" (ids prefixed with `id`) and how to read them back. */
export function activityFields(id, t) {
  return [
    selectField(`${id}-kind`, t("mentoring.kind"), ACTIVITY_KINDS.map((k) => [k, t(`mentoring.kind.${k}`)])),
    field(`${id}-date`, t("schedule.date"), { type: "date", required: true, value: isoDay(new Date()) }),
    field(`${id}-hours`, t("mentoring.hours"), { type: "number", min: "0.25", max: "24", step: "0.25", value: "1",
      required: true, inputmode: "decimal" }),
    field(`${id}-note`, t("mentoring.note"), { type: "text", maxlength: "500" }, t("mentoring.note_hint")),
  ];
}

export function activityBody(id) {
  const v = (suffix) => document.getElementById(`${id}-${suffix}`).value;
  return { kind: v("kind"), done_on: v("date"), hours: Number(v("hours")), note: v("note").trim() };
}

export function outcomeFields(id, t) {
  return [
    selectField(`${id}-outcome`, t("mentoring.outcome"), OUTCOMES.map((o) => [o, t(`mentoring.outcome.${o}`)])),
    field(`${id}-reason`, t("mentoring.why"), { type: "text", maxlength: "2000" }, t("mentoring.why_hint")),
  ];
}

export function outcomeBody(id) {
  const v = (suffix) => document.getElementById(`${id}-${suffix}`).value;
  return { outcome: v("outcome"), reason: v("reason").trim() };
}
