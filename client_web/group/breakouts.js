// Breakout rooms in the facilitator's console: name the rooms, assign participants (the
// unassigned stay in the main room), choose the minutes, open them; while they are open the
// timer, who is where, moving someone, visiting a room, and returning everyone. The server
// keeps media apart between rooms and returns everyone when the timer runs out.
import { h } from "../shared/dom.js";
import { t } from "../shared/i18n.js";

const MAX_ROOMS = 8;
const MAIN = "main";

function button(id, text, onclick, extra = {}) {
  return h("button", { type: "button", class: "button secondary", id, onclick, ...extra }, text);
}

function remaining(endAt) {
  const s = Math.max(0, Math.round((Date.parse(endAt) - Date.now()) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function breakoutsPanel(live) {
  const names = [t("live.room_default", { n: 1 }), t("live.room_default", { n: 2 })];
  const assigned = new Map(); // participant -> room index or -1 (main)
  let minutes = "10";
  let shownAs = null; // what the body shows: "setup:<ids>" or "open:<json>"
  const body = h("div", { class: "stack" });
  const timer = h("p", { class: "lead", id: "live-breakout-timer", role: "timer", "aria-live": "off" });
  const problem = h("p", { role: "alert", class: "form-error", id: "live-breakout-error" });
  let tick = null;

  const assignable = () => (live.state?.participants || []).filter((s) => s.role === "participant" || s.role === "room_device");

  function setup() {
    const people = assignable();
    const nameFields = names.map((name, i) => h("div", { class: "field" },
      h("label", { for: `live-room-name-${i}` }, t("live.room_name", { n: i + 1 })),
      h("input", { id: `live-room-name-${i}`, type: "text", maxlength: "60", value: name,
        oninput: (e) => { names[i] = e.target.value; } })));
    const options = () => [[-1, t("live.main_room")], ...names.map((n, i) => [i, n || t("live.room_default", { n: i + 1 })])];
    const rows = people.map((seat) => h("div", { class: "field" },
      h("label", { for: `live-assign-${seat.participant}` }, t("live.room_for", { name: seat.display_name })),
      h("select", { id: `live-assign-${seat.participant}`, "data-participant": seat.participant,
        onchange: (e) => assigned.set(seat.participant, Number(e.target.value)) },
      options().map(([v, text]) => h("option", { value: String(v),
        selected: (assigned.get(seat.participant) ?? -1) === v }, text)))));
    const add = names.length < MAX_ROOMS ? button("live-room-add", t("live.room_add"), () => {
      names.push(t("live.room_default", { n: names.length + 1 }));
      shownAs = null;
      draw();
      document.getElementById(`live-room-name-${names.length - 1}`)?.focus();
    }) : null;
    const open = h("button", { type: "submit", class: "button primary", id: "live-breakouts-open" }, t("live.breakouts_open"));
    const form = h("form", { class: "form stack", id: "live-breakouts-form", novalidate: true },
      ...nameFields, add, ...rows,
      h("div", { class: "field" }, h("label", { for: "live-breakout-minutes" }, t("live.breakout_minutes")),
        h("input", { id: "live-breakout-minutes", type: "number", min: "1", max: "240", inputmode: "numeric", value: minutes,
          oninput: (e) => { minutes = e.target.value; } })),
      problem, open);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const clean = names.map((n) => n.trim());
      const m = Number(minutes);
      if (clean.some((n) => !n || n.toLowerCase() === MAIN) || new Set(clean).size !== clean.length) {
        problem.textContent = t("live.room_names_bad");
        return;
      }
      if (!(m > 0 && m <= 240)) {
        problem.textContent = t("live.minutes_bad");
        return;
      }
      problem.textContent = "";
      live.send("group.breakouts", { minutes: m, rooms: clean.map((name, i) => ({ name,
        participants: people.filter((s) => assigned.get(s.participant) === i).map((s) => s.participant) })) });
    });
    body.replaceChildren(h("p", { class: "hint" }, t("live.breakouts_hint")), form);
  }

  function opened() {
    const state = live.state;
    const rooms = [MAIN, ...state.breakouts];
    const roomLabel = (r) => (r === MAIN ? t("live.main_room") : r);
    const mine = live.seat()?.room || MAIN;
    const list = h("ul", { class: "plain stack", id: "live-rooms" }, rooms.map((room, i) => {
      const inIt = state.participants.filter((s) => s.room === room);
      const titleId = `live-room-title-${i}`;
      return h("li", { class: "card", "data-room": room },
        h("h3", { id: titleId }, roomLabel(room)),
        h("p", { class: "muted" }, inIt.length ? inIt.map((s) => s.display_name).join(", ") : t("live.room_empty")),
        room === mine ? h("p", { class: "note" }, t("live.you_are_here"))
          : button(`live-visit-${i}`, room === MAIN ? t("live.visit_main") : t("live.visit"),
            () => live.send("group.visit", { room }), { "aria-describedby": titleId }));
    }));
    const moves = assignable().map((seat) => {
      const selectId = `live-move-${seat.participant}`;
      return h("div", { class: "field row-actions" },
        h("label", { for: selectId }, t("live.move_who", { name: seat.display_name })),
        h("select", { id: selectId }, rooms.map((r) => h("option", { value: r, selected: r === seat.room }, roomLabel(r)))),
        button(`live-move-go-${seat.participant}`, t("live.move"), () => live.send("group.move", {
          participant: seat.participant, room: document.getElementById(selectId).value })));
    });
    body.replaceChildren(timer, list, ...moves,
      h("button", { type: "button", class: "button primary", id: "live-return-all",
        onclick: () => live.send("group.return_all") }, t("live.return_all")));
    updateTimer();
  }

  function updateTimer() {
    const end = live.state?.breakouts_end_at;
    timer.textContent = end ? t("live.breakout_timer", { time: remaining(end) }) : "";
  }

  function draw() {
    const state = live.state;
    if (!state) return;
    const isOpen = state.rooms === "breakouts";
    const key = isOpen ? `open:${JSON.stringify([state.breakouts, state.participants.map((s) => [s.participant, s.room]),
      live.seat()?.room])}` : `setup:${assignable().map((s) => s.participant).join(",")}`;
    if (key === shownAs) return;
    const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement.id : null;
    shownAs = key;
    if (isOpen) opened();
    else setup();
    if (focused) document.getElementById(focused)?.focus();
    clearInterval(tick);
    if (isOpen) tick = setInterval(() => (live.final ? clearInterval(tick) : updateTimer()), 1000);
  }

  live.on("state", draw);
  return h("section", { class: "card", id: "live-breakouts", "aria-labelledby": "live-breakouts-title" },
    h("h2", { id: "live-breakouts-title" }, t("live.breakouts")), body);
}
