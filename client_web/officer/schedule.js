// The officer's schedule: a day or a Monday-to-Sunday week of their appointments, a form
// to schedule one (or a weekly series) for a client on their caseload, cancelling, and the
// follow-up list: appointments whose window closed with nothing recorded, where the
// outcome is recorded (a video one's with its check-in's evidence and suggestion), with the
// absences from confirmed group registers beside it (./group_attendance.js), and overdue case network tasks
// (./network_followup.js). A refusal (face_to_face_first, alternatives) is shown with its rule.
import { h } from "../shared/dom.js";
import { pageHeading, loadInto, errorBox, field, selectField as select } from "../shared/ui.js";
import {
  dayAndTime, dayName, isoDay, kindLabel, stateBadges, timeOnly, timeZone,
} from "../shared/appointments.js";
import { checkinOutcome, outcomeForm } from "../checkin/outcome.js";
import { groupAbsencesCard } from "./group_attendance.js";
import { networkFollowUpCard } from "./network_followup.js";

const KINDS = ["in_person", "video", "phone"];
const DURATIONS = [30, 45, 60, 90];
const REPEATS = [0, 1, 2, 4]; // weeks between; 0: once
// A video appointment's check-in state on its card; a closed one shows its outcome instead.
const CHECKIN_STATES = new Set(["scheduled", "waiting", "in_call", "ended", "not_safe", "cancelled"]);
const ALERTING_STATES = new Set(["waiting", "not_safe"]);

/** The check-in's state as a badge (kept up to date by `staff_alert` frames, see render). */
function checkinState(a, t) {
  const known = CHECKIN_STATES.has(a.checkin_state) && !(a.checkin_state === "cancelled" && a.status === "cancelled");
  return h("ul", { class: "badges checkin-state", "data-checkin-state": known ? a.checkin_state : null,
    hidden: !known },
  known ? h("li", { class: `badge badge-${ALERTING_STATES.has(a.checkin_state) ? "risk" : "info"}` },
    t(`checkin.state.${a.checkin_state}`)) : null);
}


function appointmentItem(a, ctx, level, onCancel, onChanged) {
  const { t } = ctx;
  const titleId = `appt-${a.id}-title`;
  const open = a.status === "scheduled" && !a.outcome && new Date(a.starts_at) > new Date();
  const changeSlot = h("div", { class: "stack" });
  const onChange = (button) => changeForm(a, ctx, level + 1, changeSlot, button, onChanged);
  return h("li", { class: "card appointment", "data-appointment-id": a.id, "data-status": a.status },
    h("article", { "aria-labelledby": titleId },
      h(`h${level}`, { id: titleId }, `${timeOnly(a.starts_at)}–${timeOnly(a.ends_at)} · ${a.client.display_name}`),
      h("p", {}, kindLabel(a.kind), a.location ? ` · ${a.location}` : ""),
      stateBadges(a),
      checkinState(a, t),
      open ? cancelActions(a, t, titleId, onCancel, onChange) : null,
      open ? changeSlot : null));
}

/**
 * The form that moves or changes one appointment (or it and the rest of its series),
 * prefilled from the server's own copy of it; a refusal (face_to_face_first for video,
 * a moved time in the past) stays on the form with the server's reason and rule.
 */
export async function changeForm(a, ctx, level, slot, opener, onChanged) {
  const { api, t } = ctx;
  const current = await loadInto(slot, () => api.get(`/api/appointments/${encodeURIComponent(a.id)}`),
    () => changeForm(a, ctx, level, slot, opener, onChanged));
  if (!current) return;
  const id = (name) => `change-${a.id}-${name}`;
  const value = (name) => document.getElementById(id(name)).value;
  const starts = new Date(current.starts_at);
  const minutes = Math.round((new Date(current.ends_at) - starts) / 60000);
  const error = h("div", { id: id("error"), "aria-live": "assertive" });
  const close = () => { slot.replaceChildren(); opener.focus(); };
  const save = async (event) => {
    event.preventDefault();
    error.replaceChildren();
    const start = new Date(`${value("date")}T${value("time")}`);
    if (Number.isNaN(start.getTime())) {
      error.replaceChildren(h("p", { class: "form-error", role: "alert" }, t("schedule.bad_time")));
      return;
    }
    const body = { scope: current.series_id ? value("scope") : "one", kind: value("kind"),
      starts_at: start.toISOString(), ends_at: new Date(start.getTime() + Number(value("duration")) * 60000).toISOString() };
    if (value("location").trim()) body.location = value("location").trim();
    if (document.getElementById(id("alternatives")).checked) body.alternatives_offered = true;
    const button = event.target.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const changed = await api.patch(`/api/appointments/${encodeURIComponent(a.id)}`, body);
      await onChanged(changed.appointments[0]);
    } catch (err) {
      error.replaceChildren(errorBox(err));
      button.disabled = false;
    }
  };
  const titleId = id("title");
  slot.replaceChildren(h("form", { class: "form", id: id("form"), "aria-labelledby": titleId, onsubmit: save },
    h(`h${level}`, { id: titleId }, t("schedule.change_title", { client: a.client.display_name })),
    field(id("date"), t("schedule.date"), { type: "date", required: true, value: isoDay(starts) }),
    field(id("time"), t("schedule.time"), { type: "time", required: true, value: clock(starts) }),
    field(id("duration"), t("schedule.duration_minutes"), { type: "number", min: "5", max: "480", step: "5",
      required: true, value: String(minutes), inputmode: "numeric" }),
    select(id("kind"), t("schedule.kind"), KINDS.map((k) => [k, kindLabel(k)]), current.kind),
    field(id("location"), t("schedule.location"), { type: "text", maxlength: "200", autocomplete: "off",
      value: current.location || "" }),
    current.series_id ? select(id("scope"), t("schedule.change_scope"),
      [["one", t("schedule.change_one")], ["following", t("schedule.change_following")]], "one") : null,
    h("div", { class: "check" },
      h("input", { type: "checkbox", id: id("alternatives") }),
      h("label", { for: id("alternatives") }, t("schedule.alternatives_offered"))),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "button primary", id: id("save") }, t("schedule.change_save")),
      h("button", { type: "button", class: "button secondary", onclick: close }, t("schedule.change_close"))),
    error));
  document.getElementById(id("date")).focus();
}

/**
 * "Change" and the cancel buttons; a cancellation cannot be undone, so each asks once
 * more before it is sent.
 */
function cancelActions(a, t, titleId, onCancel, onChange) {
  const box = h("div", { class: "actions" });
  const ask = (scope) => {
    const question = `confirm-${a.id}`;
    box.replaceChildren(
      h("p", { id: question, class: "confirm" }, t(scope === "one" ? "schedule.confirm_one" : "schedule.confirm_following")),
      h("button", { type: "button", class: "button secondary", "data-confirm": scope,
        "aria-describedby": `${question} ${titleId}`, onclick: () => onCancel(a, scope) }, t("schedule.confirm_yes")),
      h("button", { type: "button", class: "button secondary", "data-keep": "",
        onclick: () => { box.replaceWith(cancelActions(a, t, titleId, onCancel, onChange)); } }, t("schedule.confirm_no")));
    box.querySelector("[data-confirm]").focus();
  };
  // Element.append writes a null as the text "null": leave the series button out instead.
  box.append(
    h("button", { type: "button", class: "button secondary", "data-change": "", "aria-describedby": titleId,
      onclick: (event) => onChange(event.currentTarget) }, t("schedule.change")),
    h("button", { type: "button", class: "button secondary", "data-cancel": "one",
      "aria-describedby": titleId, onclick: () => ask("one") }, t("schedule.cancel")),
    ...(a.series_id ? [h("button", { type: "button", class: "button secondary", "data-cancel": "following",
      "aria-describedby": titleId, onclick: () => ask("following") }, t("schedule.cancel_following"))] : []));
  return box;
}

/** "HH:MM" in local time, as <input type=time> takes it whatever the language. */
function clock(date) {
  return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
}

function groupByDay(appointments) {
  const days = new Map();
  for (const a of appointments) {
    const key = isoDay(new Date(a.starts_at));
    if (!days.has(key)) days.set(key, []);
    days.get(key).push(a);
  }
  return days;
}

/**
 * One follow-up: for a video appointment what happened in its check-in and the server's
 * suggestion preselected (recorded on the check-in, which closes it); for the others the
 * officer chooses, nothing preset.
 */
function followUpItem(a, checkin, ctx, onRecorded) {
  const { t, api } = ctx;
  const titleId = `follow-${a.id}-title`;
  const prefix = `follow-${a.id}`;
  const body = checkin
    ? checkinOutcome(checkin, ctx, { prefix, onRecorded })
    : outcomeForm({ t, prefix, onRecorded,
      record: (outcome, note) => api.post(`/api/appointments/${encodeURIComponent(a.id)}/outcome`,
        note ? { outcome, note } : { outcome }) });
  return h("li", { class: "card followup", "data-appointment-id": a.id, "data-checkin-id": checkin ? checkin.id : null },
    h("section", { "aria-labelledby": titleId },
      h("h3", { id: titleId }, `${dayAndTime(a.starts_at)} · ${a.client.display_name} · ${kindLabel(a.kind)}`),
      body));
}

/** The check-ins (read with evidence and suggestion) of the video follow-ups, by appointment. */
async function followUpCheckins(api, appointments) {
  const video = appointments.filter((a) => a.kind === "video");
  if (!video.length) return new Map();
  const day = 24 * 3600 * 1000;
  const times = video.map((a) => new Date(a.starts_at).getTime());
  const q = new URLSearchParams({ start: new Date(Math.min(...times) - day).toISOString(),
    end: new Date(Math.max(...times) + day).toISOString(), limit: "500" });
  const listed = (await api.get(`/api/checkins?${q}`)).checkins;
  const wanted = new Set(video.map((a) => a.id));
  const read = await Promise.all(listed.filter((c) => wanted.has(c.appointment_id))
    .map((c) => api.get(`/api/checkins/${encodeURIComponent(c.id)}`)));
  return new Map(read.map((c) => [c.appointment_id, c]));
}

function scheduleForm(ctx, cases, onDone) {
  const { api, t } = ctx;
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
  const error = h("div", { id: "schedule-error", "aria-live": "assertive" });
  const submit = async (event) => {
    event.preventDefault();
    error.replaceChildren();
    const value = (id) => document.getElementById(id).value;
    const start = new Date(`${value("appt-date")}T${value("appt-time")}`);
    if (Number.isNaN(start.getTime())) {
      error.replaceChildren(h("p", { class: "form-error", role: "alert" }, t("schedule.bad_time")));
      return;
    }
    const end = new Date(start.getTime() + Number(value("appt-duration")) * 60000);
    const weeks = Number(value("appt-repeat"));
    const body = { kind: value("appt-kind"), starts_at: start.toISOString(), ends_at: end.toISOString() };
    if (value("appt-location").trim()) body.location = value("appt-location").trim();
    if (weeks) body.recurrence = { interval_weeks: weeks, count: Number(value("appt-count")) || 2, timezone: timeZone() };
    if (document.getElementById("appt-alternatives").checked) body.alternatives_offered = true;
    const button = event.target.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const made = await api.post(`/api/cases/${encodeURIComponent(value("appt-case"))}/appointments`, body);
      await onDone(made.appointments[0]);
    } catch (err) {
      error.replaceChildren(errorBox(err));
    } finally {
      button.disabled = false;
    }
  };
  return h("section", { class: "card", "aria-labelledby": "new-appt-title" },
    h("h2", { id: "new-appt-title" }, t("schedule.new")),
    h("form", { class: "form", id: "schedule-form", onsubmit: submit },
      select("appt-case", t("schedule.client"), cases.map((c) => [c.case_id, c.client.display_name])),
      select("appt-kind", t("schedule.kind"), KINDS.map((k) => [k, kindLabel(k)]), "in_person"),
      field("appt-date", t("schedule.date"), { type: "date", required: true, value: isoDay(tomorrow) }),
      field("appt-time", t("schedule.time"), { type: "time", required: true, value: "10:00" }),
      select("appt-duration", t("schedule.duration"), DURATIONS.map((m) => [m, t("schedule.minutes", { count: m })]), 45),
      field("appt-location", t("schedule.location"), { type: "text", maxlength: "200", autocomplete: "off" }),
      select("appt-repeat", t("schedule.repeat"), REPEATS.map((w) => [w, w ? t("schedule.every_weeks", { count: w })
        : t("schedule.once")]), 0),
      field("appt-count", t("schedule.count"), { type: "number", min: "2", max: "52", value: "4", inputmode: "numeric" },
        t("schedule.count_hint")),
      h("div", { class: "check" },
        h("input", { type: "checkbox", id: "appt-alternatives" }),
        h("label", { for: "appt-alternatives" }, t("schedule.alternatives_offered"))),
      h("button", { type: "submit", class: "button primary", id: "schedule-submit" }, t("schedule.submit")),
      error));
}

export async function render(view, ctx) {
  const { api, t, params } = ctx;
  const mode = params.get("view") === "week" ? "week" : "day";
  const day = /^\d{4}-\d{2}-\d{2}$/.test(params.get("date") || "") ? params.get("date") : isoDay(new Date());
  const status = h("p", { class: "visually-hidden", role: "status", id: "schedule-status" });
  const listSlot = h("div", { class: "stack" });
  const followSlot = h("div", { class: "stack" });
  const formSlot = h("div", { class: "stack" });
  const go = (nextView, nextDay) => ctx.navigate(`/schedule?view=${nextView}&date=${nextDay}`);
  const shift = (days) => {
    const d = new Date(`${day}T12:00:00`);
    d.setDate(d.getDate() + days);
    go(mode, isoDay(d));
  };
  const step = mode === "week" ? 7 : 1;
  const nav = h("nav", { class: "actions", "aria-label": t("schedule.navigation") },
    h("button", { type: "button", class: "button secondary", id: "view-day", "aria-pressed": String(mode === "day"),
      onclick: () => go("day", day) }, t("schedule.day")),
    h("button", { type: "button", class: "button secondary", id: "view-week", "aria-pressed": String(mode === "week"),
      onclick: () => go("week", day) }, t("schedule.week")),
    h("button", { type: "button", class: "button secondary", id: "previous", onclick: () => shift(-step) },
      t(mode === "week" ? "schedule.previous_week" : "schedule.previous_day")),
    h("button", { type: "button", class: "button secondary", id: "today", onclick: () => go(mode, isoDay(new Date())) },
      t("schedule.today")),
    h("button", { type: "button", class: "button secondary", id: "next", onclick: () => shift(step) },
      t(mode === "week" ? "schedule.next_week" : "schedule.next_day")));
  const rangeTitle = h("h2", { id: "range-title" });
  const absences = groupAbsencesCard(api, t);
  const networkTasks = networkFollowUpCard(api, t);
  view.append(pageHeading(t("schedule.title")), status, nav,
    h("section", { class: "card", "aria-labelledby": "range-title" }, rangeTitle, listSlot),
    formSlot,
    h("p", { class: "aside" }, h("a", { class: "button secondary", id: "calendar-feed", href: "/api/calendar.ics",
      download: "tandem.ics" }, t("schedule.feed"))),
    h("section", { class: "card", id: "followups-card", "aria-labelledby": "followups-title" },
      h("h2", { id: "followups-title" }, t("schedule.followups")),
      h("p", { class: "hint" }, t("schedule.followups_hint")), followSlot),
    absences.card, networkTasks.card);

  const cancel = async (a, scope) => {
    try {
      await api.post(`/api/appointments/${encodeURIComponent(a.id)}/cancel`, { scope });
      status.textContent = t("schedule.cancelled");
      await loadList();
    } catch (err) {
      listSlot.prepend(errorBox(err));
    }
  };
  const changed = async (moved) => {
    status.textContent = t("schedule.changed", { when: dayAndTime(moved.starts_at) });
    const movedDay = isoDay(new Date(moved.starts_at));
    if (movedDay !== day && mode === "day") go("day", movedDay);
    else await loadList();
  };
  const loadList = async () => {
    const q = `/api/schedule?view=${mode}&date=${day}&tz=${encodeURIComponent(timeZone())}`;
    const data = await loadInto(listSlot, () => api.get(q), loadList);
    if (!data) return;
    rangeTitle.textContent = mode === "week"
      ? t("schedule.week_of", { date: dayName(data.start) }) : dayName(`${day}T12:00:00`);
    if (!data.appointments.length) {
      listSlot.replaceChildren(h("p", { id: "no-appointments" }, t(mode === "week" ? "schedule.empty_week"
        : "schedule.empty_day")));
      return;
    }
    // A day's own heading only in the week: in the day view the range title already names it.
    const groups = [...groupByDay(data.appointments)].map(([key, items]) => h("div", {
      class: "day", "data-day": key },
    mode === "week" ? h("h3", { id: `day-${key}` }, dayName(`${key}T12:00:00`)) : null,
    h("ul", { class: "cards" }, items.map((a) => appointmentItem(a, ctx, mode === "week" ? 4 : 3, cancel, changed)))));
    listSlot.replaceChildren(h("div", { id: "appointments" }, groups));
  };
  // The card leaves the list once recorded: the confirmation is announced in the page's status.
  const recorded = async (outcome) => {
    status.textContent = t("outcome.recorded", { outcome: t(`appt.outcome.${outcome}`) });
    await loadFollowUps();
  };
  const loadFollowUps = async () => {
    const data = await loadInto(followSlot, async () => {
      const { appointments } = await api.get("/api/followups");
      return { appointments, checkins: await followUpCheckins(api, appointments) };
    }, loadFollowUps);
    if (!data) return;
    followSlot.replaceChildren(data.appointments.length
      ? h("ul", { class: "cards", id: "followups" }, data.appointments.map((a) =>
        followUpItem(a, data.checkins.get(a.id) || null, ctx, recorded)))
      : h("p", { id: "no-followups" }, t("schedule.no_followups")));
  };
  const loadForm = async () => {
    const data = await loadInto(formSlot, () => api.get("/api/caseload"), loadForm);
    if (!data) return;
    const cases = [...data.cases].sort((a, b) => a.client.display_name.localeCompare(b.client.display_name));
    formSlot.replaceChildren(cases.length ? scheduleForm(ctx, cases, async (made) => {
      status.textContent = t("schedule.scheduled", { when: dayAndTime(made.starts_at) });
      const madeDay = isoDay(new Date(made.starts_at));
      if (madeDay !== day && mode === "day") go("day", madeDay);
      else await loadList();
    }) : h("p", {}, t("officer.empty")));
  };
  // A client waiting or leaving, a call starting or ending: alerts arrive on every page
  // (shared/alerts.js), and the cards' check-in states are read again with them.
  const refreshStates = async () => {
    if (!listSlot.isConnected) {
      window.removeEventListener("tandem:alerts", refreshStates);
      return;
    }
    try {
      const data = await api.get(`/api/schedule?view=${mode}&date=${day}&tz=${encodeURIComponent(timeZone())}`);
      for (const a of data.appointments) {
        const card = listSlot.querySelector(`[data-appointment-id="${CSS.escape(a.id)}"] .checkin-state`);
        if (card) card.replaceWith(checkinState(a, t));
      }
    } catch {
      // offline: the states are read again with the next alert or visit
    }
  };
  window.addEventListener("tandem:alerts", refreshStates);
  await Promise.all([loadList(), loadFollowUps(), loadForm(), absences.loaded, networkTasks.loaded]);
}
