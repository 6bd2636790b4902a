// A programme group's sessions, for those who run it: the sessions (once or a weekly series)
// with a cancel that asks once more, the group's confidentiality agreement (a changed text is
// accepted anew by every participant), and each session's attendance register: every
// participant's evidence and the server's suggestion, confirmed with one status each (saved
// to their cases), then a CSV download. In its join window a session has "Start or join",
// to the live session (group/live.js). Hybrid sessions (hybridParts, roomSelect): a session
// may meet in one of the office's rooms; each session's co-facilitators and observer; and, for
// a session in a room, a checklist of who is present in the room, which feeds the register.
import { h, append } from "../shared/dom.js";
import { loadInto, errorBox, field, selectField, details } from "../shared/ui.js";
import { actionForm } from "../shared/forms.js";
import { dayAndTime, timeOnly, timeZone, isoDay } from "../shared/appointments.js";
import { sessionWhen, sessionBadges, calendarLinks } from "../shared/group_sessions.js";

const DURATIONS = [60, 90, 120, 150];
const REPEATS = [0, 1, 2]; // weeks between; 0: once
const STATUSES = ["attended", "partly", "absent", "excused", "technical_failure"];

const enc = encodeURIComponent;

/** One participant's evidence, in words. */
function evidence(line, t) {
  return details([
    [t("register.minutes_present"), String(line.minutes_present)],
    line.first_arrived_at ? [t("register.arrived"), timeOnly(line.first_arrived_at)] : null,
    line.last_left_at ? [t("register.left"), timeOnly(line.last_left_at)] : null,
    line.drops ? [t("register.drops"), String(line.drops)] : null,
    line.late ? [t("register.late"), t("register.yes")] : null,
    line.in_room ? [t("register.in_room"), t("register.yes")] : null,
    line.poor_quality ? [t("register.poor_quality"), t("register.yes")] : null,
  ]);
}

/** The register of one session, loaded into `slot`: confirm it, or read it and download the CSV. */
async function showRegister(slot, s, ctx, level, onConfirmed) {
  const { api, t } = ctx;
  const url = `/api/group-sessions/${enc(s.id)}/register`;
  const reg = await loadInto(slot, () => api.get(url), () => showRegister(slot, s, ctx, level, onConfirmed));
  if (!reg) return;
  const key = (name) => `register-${s.id}-${name}`;
  const titleId = key("title");
  const heading = h(`h${level}`, { id: titleId }, t("register.title", { when: sessionWhen(s) }));
  if (!reg.lines.length) {
    slot.replaceChildren(heading, h("p", { class: "muted", id: key("empty") }, t("register.no_participants")));
    return;
  }
  const confirmed = reg.confirmed_at !== null;
  const started = Date.parse(reg.starts_at) <= Date.now();
  const lineItem = (line) => {
    const nameId = key(`name-${line.user_id}`);
    return h("li", { class: "card register-line", "data-user-id": line.user_id },
      h("p", { class: "big", id: nameId }, line.display_name),
      evidence(line, t),
      h("p", { "data-suggestion": line.suggestion }, t("register.suggested", { status: t(`register.status.${line.suggestion}`) })),
      confirmed
        ? h("p", { "data-status": line.status }, t("register.confirmed_as", { status: t(`register.status.${line.status}`) }))
        : started ? selectField(key(`status-${line.user_id}`), t("register.status_for", { name: line.display_name }),
          STATUSES.map((x) => [x, t(`register.status.${x}`)]), line.status || line.suggestion) : null);
  };
  const list = h("ul", { class: "cards", id: key("lines") }, reg.lines.map(lineItem));
  if (confirmed) {
    slot.replaceChildren(heading, h("p", { id: key("confirmed") }, t("register.confirmed_at", { when: dayAndTime(reg.confirmed_at) })),
      list, h("p", {}, h("a", { class: "button secondary", id: key("csv"),
        href: `/api/group-sessions/${enc(s.id)}/register.csv`,
        download: "register.csv", "aria-describedby": titleId }, t("register.csv"))));
    return;
  }
  if (!started) {
    slot.replaceChildren(heading, list, h("p", { class: "hint", id: key("not-started") }, t("register.not_started")));
    return;
  }
  slot.replaceChildren(heading, actionForm(key("form"), [list], t("register.confirm"), {
    body: (form) => ({ lines: reg.lines.map((line) => ({ user_id: line.user_id,
      status: form.querySelector(`#${CSS.escape(key(`status-${line.user_id}`))}`).value })) }),
    send: (b) => api.post(url, b),
    done: () => onConfirmed(),
  }), h("p", { class: "hint" }, t("register.confirm_hint")));
}

function sessionItem(s, ctx, reload) {
  const { api, t } = ctx;
  const titleId = `session-${s.id}-when`;
  const registerId = `session-${s.id}-register`;
  const panel = h("div", { class: "stack", id: registerId, hidden: true });
  const error = h("div", { "aria-live": "polite" });
  const actions = h("div", { class: "actions" });
  const hybrid = hybridParts(s, ctx);
  const li = h("li", { class: "card session", "data-session-id": s.id, "data-status": s.status },
    h("p", { class: "big", id: titleId }, sessionWhen(s)), s.room_name ? h("p", {}, s.room_name) : null,
    sessionBadges(s, t), s.status === "scheduled" ? calendarLinks(s, t) : null, actions, error, panel, hybrid.panels);
  const toggle = h("button", { type: "button", class: "button secondary", "data-open-register": s.id,
    "aria-expanded": "false", "aria-controls": registerId, "aria-describedby": titleId }, t("register.open"));
  toggle.addEventListener("click", async () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    panel.hidden = !open;
    if (open) await showRegister(panel, s, ctx, 5, () => reload(t("register.confirmed")));
    else panel.replaceChildren();
  });
  const cancellable = s.status === "scheduled" && !s.register_confirmed;
  const cancel = async () => {
    try {
      await api.post(`/api/group-sessions/${enc(s.id)}/cancel`, { scope: "one" });
      await reload(t("sessions.cancelled_one", { when: sessionWhen(s) }));
    } catch (err) {
      error.replaceChildren(errorBox(err));
    }
  };
  const idle = () => {
    actions.replaceChildren();
    const now = Date.now();
    const live = s.status === "scheduled" && Date.parse(s.opens_at) <= now && now < Date.parse(s.closes_at)
      ? h("a", { class: "button primary", "data-start-session": s.id, "aria-describedby": titleId,
        href: `#/group-sessions/${enc(s.id)}/live?g=${enc(s.group_id)}` }, t("live.start")) : null;
    append(actions, [live, s.status === "scheduled" ? toggle : null, hybrid.buttons,
      cancellable ? h("button", { type: "button", class: "button secondary", "data-cancel-session": s.id,
        "aria-describedby": titleId, onclick: ask }, t("sessions.cancel")) : null]);
  };
  const ask = () => {
    const question = `cancel-${s.id}-question`;
    actions.replaceChildren(h("p", { class: "confirm", id: question }, t("sessions.confirm_cancel", { when: sessionWhen(s) })),
      h("button", { type: "button", class: "button primary", "data-confirm-cancel": s.id,
        "aria-describedby": question, onclick: cancel }, t("sessions.cancel")),
      h("button", { type: "button", class: "button secondary",
        onclick: () => { idle(); actions.querySelector("[data-cancel-session]")?.focus(); } }, t("sessions.keep")));
    actions.querySelector("[data-confirm-cancel]").focus();
  };
  idle();
  return li;
}

// -- hybrid sessions: the room, the added staff, presence in the room ------------------------

const STAFF_ROLES = ["co_facilitator", "observer"];

/** The room a session meets in: none (online only) or one of the office's rooms, loaded when shown. */
function roomSelect(id, ctx) {
  const { api, t } = ctx;
  const select = h("select", { id, name: id }, h("option", { value: "" }, t("sessions.no_room")));
  api.get("/api/rooms").then((data) => {
    for (const r of data.rooms) select.append(h("option", { value: r.id }, r.name));
  }).catch(() => {}); // no rooms to offer: the session is scheduled without one
  return h("div", { class: "field" }, h("label", { for: id }, t("sessions.room")), select);
}

/** A session's added staff and the form to add one, loaded into `slot`. */
async function showStaff(slot, s, ctx) {
  const { api, t } = ctx;
  const url = `/api/group-sessions/${enc(s.id)}/staff`;
  const key = (name) => `staff-${s.id}-${name}`;
  const said = h("p", { class: "visually-hidden", role: "status", id: key("status") });
  const draw = (data, message) => {
    slot.replaceChildren(h("h5", { id: key("title") }, t("staff.title")), said,
      data.staff.length
        ? h("ul", { class: "plain", id: key("list"), "aria-labelledby": key("title") },
          data.staff.map((x) => h("li", { "data-user-id": x.user_id, "data-role": x.role },
            t("staff.member", { name: x.display_name, role: t(`staff.role.${x.role}`) }))))
        : h("p", { class: "muted", id: key("list") }, t("staff.none")),
      data.candidates.length
        ? actionForm(key("form"), [
          selectField(key("user"), t("staff.choose"), data.candidates.map((c) => [c.id, c.display_name])),
          selectField(key("role"), t("staff.as"), STAFF_ROLES.map((r) => [r, t(`staff.role.${r}`)]), "co_facilitator"),
        ], t("staff.add"), {
          body: (form) => ({ user_id: form.querySelector(`#${CSS.escape(key("user"))}`).value,
            role: form.querySelector(`#${CSS.escape(key("role"))}`).value }),
          send: (b) => api.post(url, b),
          done: (_form, got) => draw(got, t("staff.added")),
        })
        : h("p", { class: "hint" }, t("staff.no_candidates")),
      h("p", { class: "hint" }, t("staff.observer_hint")));
    said.textContent = message || "";
  };
  const data = await loadInto(slot, () => api.get(url), () => showStaff(slot, s, ctx));
  if (data) draw(data);
}

/** Who is present in the room: one checkbox per enrolled participant, each change is evidence. */
async function showInRoom(slot, s, ctx) {
  const { api, t } = ctx;
  const key = (name) => `in-room-${s.id}-${name}`;
  const reg = await loadInto(slot, () => api.get(`/api/group-sessions/${enc(s.id)}/register`),
    () => showInRoom(slot, s, ctx));
  if (!reg) return;
  const said = h("p", { class: "visually-hidden", role: "status", id: key("status") });
  const error = h("div", { "aria-live": "polite", id: key("error") });
  const box = (line) => {
    const id = key(line.user_id);
    const input = h("input", { type: "checkbox", id, checked: line.in_room, "data-user-id": line.user_id });
    input.addEventListener("change", async () => {
      error.replaceChildren();
      input.disabled = true;
      try {
        await api.post(`/api/group-sessions/${enc(s.id)}/in-room`, { user_id: line.user_id, present: input.checked });
        said.textContent = t(input.checked ? "in_room.marked" : "in_room.unmarked", { name: line.display_name });
      } catch (err) {
        input.checked = !input.checked;
        error.replaceChildren(errorBox(err));
      } finally {
        input.disabled = false;
      }
    });
    return h("div", { class: "check" }, input, h("label", { for: id }, line.display_name));
  };
  slot.replaceChildren(reg.lines.length
    ? h("fieldset", { id: key("list") }, h("legend", {}, t("in_room.legend", { room: s.room_name })),
      reg.lines.map(box))
    : h("p", { class: "muted", id: key("list") }, t("register.no_participants")),
  h("p", { class: "hint" }, t("in_room.hint")), said, error);
}

/** A toggle that opens `show` in its own panel under the session. */
function panelToggle(s, name, label, show) {
  const panelId = `session-${s.id}-${name}`;
  const panel = h("div", { class: "stack", id: panelId, hidden: true });
  const button = h("button", { type: "button", class: "button secondary", [`data-open-${name}`]: s.id,
    "aria-expanded": "false", "aria-controls": panelId, "aria-describedby": `session-${s.id}-when` }, label);
  button.addEventListener("click", async () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    panel.hidden = !open;
    if (open) await show(panel);
    else panel.replaceChildren();
  });
  return [button, panel];
}

/** The staff and in-room toggles of a scheduled session and their panels. */
function hybridParts(s, ctx) {
  const { t } = ctx;
  if (s.status !== "scheduled" || s.register_confirmed) return { buttons: [], panels: [] };
  const parts = [panelToggle(s, "staff", t("staff.open"), (slot) => showStaff(slot, s, ctx))];
  if (s.room_id) parts.push(panelToggle(s, "in-room", t("in_room.open"), (slot) => showInRoom(slot, s, ctx)));
  return { buttons: parts.map(([b]) => b), panels: parts.map(([, p]) => p) };
}

function scheduleForm(group, ctx, reload) {
  const { api, t } = ctx;
  const key = (name) => `session-${name}-${group.id}`;
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
  return actionForm(key("form"), [
    field(key("date"), t("schedule.date"), { type: "date", required: true, value: isoDay(tomorrow) }),
    field(key("time"), t("schedule.time"), { type: "time", required: true, value: "16:00" }),
    selectField(key("duration"), t("schedule.duration"), DURATIONS.map((m) => [m, t("schedule.minutes", { count: m })]), 90),
    selectField(key("repeat"), t("schedule.repeat"), REPEATS.map((w) => [w, w ? t("schedule.every_weeks", { count: w })
      : t("schedule.once")]), 0),
    field(key("count"), t("schedule.count"), { type: "number", min: "2", max: "52", value: "6", inputmode: "numeric" },
      t("sessions.count_hint")),
    roomSelect(key("room"), ctx),
  ], t("sessions.schedule"), {
    body: (form) => {
      const value = (name) => form.querySelector(`#${CSS.escape(key(name))}`).value;
      const start = new Date(`${value("date")}T${value("time")}`);
      const body = { starts_at: start.toISOString(),
        ends_at: new Date(start.getTime() + Number(value("duration")) * 60000).toISOString() };
      const weeks = Number(value("repeat"));
      if (weeks) body.recurrence = { interval_weeks: weeks, count: Number(value("count")) || 2, timezone: timeZone() };
      if (value("room")) body.room_id = value("room");
      return body;
    },
    send: (b) => api.post(`/api/groups/${enc(group.id)}/sessions`, b),
    done: (_form, made) => reload(t("sessions.scheduled", { count: made.sessions.length })),
  });
}

async function agreementForm(slot, group, ctx) {
  const { api, t } = ctx;
  const url = `/api/groups/${enc(group.id)}/agreement`;
  const said = h("p", { class: "visually-hidden", role: "status", id: `agreement-status-${group.id}` });
  const load = async (message) => {
    const a = await loadInto(slot, () => api.get(url), () => load());
    if (!a) return;
    const key = (name) => `agreement-${name}-${group.id}`;
    const hintId = key("hint");
    slot.replaceChildren(said,
      h("p", { class: "muted", id: key("version") }, a.text ? t("agreement.version", { version: a.version })
        : t("agreement.none")),
      actionForm(key("form"), [
        h("div", { class: "field" },
          h("label", { for: key("text") }, t("agreement.text")),
          h("p", { class: "hint", id: hintId }, t("agreement.text_hint")),
          h("textarea", { id: key("text"), name: key("text"), required: true, maxlength: "4000", rows: "5",
            "aria-describedby": hintId }, a.text || "")),
        h("div", { class: "check" },
          h("input", { type: "checkbox", id: key("auto"), checked: a.auto_admit }),
          h("label", { for: key("auto") }, t("agreement.auto_admit"))),
      ], t("agreement.save"), {
        body: (form) => ({ text: form.querySelector("textarea").value.trim(),
          auto_admit: form.querySelector(`#${CSS.escape(key("auto"))}`).checked }),
        send: (b) => api.put(url, b),
        done: (_form, saved) => load(t("agreement.saved", { version: saved.version })),
      }));
    said.textContent = message || "";
  };
  await load();
}

/** The group's "Sessions" and "Agreement" parts, under the facilitator's group panel. */
export function sessionsSection(group, ctx) {
  const { api, t } = ctx;
  const said = h("p", { class: "visually-hidden", role: "status", id: `sessions-status-${group.id}` });
  const listSlot = h("div", { class: "stack" });
  const agreementSlot = h("div", { class: "stack" });
  const reload = async (message) => {
    const data = await loadInto(listSlot, () => api.get(`/api/groups/${enc(group.id)}/sessions`), () => reload());
    if (!data) return;
    listSlot.replaceChildren(data.sessions.length
      ? h("ul", { class: "cards", id: `sessions-${group.id}` }, data.sessions.map((s) => sessionItem(s, ctx, reload)))
      : h("p", { class: "muted", id: `sessions-${group.id}` }, t("sessions.none")));
    said.textContent = message || "";
  };
  const section = h("div", { class: "stack", "data-sessions": group.id },
    h("h4", {}, t("sessions.title")), said, listSlot,
    h("h4", {}, t("sessions.new")), h("p", { class: "hint" }, t("sessions.no_video_yet")), scheduleForm(group, ctx, reload),
    h("h4", {}, t("agreement.title")), agreementSlot);
  return { section, loaded: Promise.all([reload(), agreementForm(agreementSlot, group, ctx)]) };
}
