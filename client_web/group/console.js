// The facilitator's console of a live group session: the lobby (admit, deny), the hands queue
// in order, everyone in the session with their controls (mute or allow unmute, stop camera,
// spotlight, lower hand, remove after a confirmation), and the session's own controls (mute
// all, clear hands, lock, end after a confirmation, the register). Every control is a /ws
// frame the server enforces; the lists are redrawn from each group.state.
import { h } from "../shared/dom.js";
import { t } from "../shared/i18n.js";
import { breakoutsPanel } from "./breakouts.js";

const RUNS = new Set(["facilitator", "co_facilitator"]);

function small(id, text, onclick, extra = {}) {
  return h("button", { type: "button", class: "button secondary", id, onclick, ...extra }, text);
}

function card(id, title, ...children) {
  return h("section", { class: "card", id, "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title),
    ...children);
}

/** Keeps focus on the control with the same id after a list is redrawn. */
function redraw(list, items) {
  const focused = document.activeElement && list.contains(document.activeElement) ? document.activeElement.id : null;
  list.replaceChildren(...items);
  if (focused) document.getElementById(focused)?.focus();
}

function flags(seat, live) {
  const out = [];
  if (seat.muted) out.push(t("live.flag.muted"));
  else if (!seat.audio) out.push(t("live.flag.mic_off"));
  if (!seat.video) out.push(t("live.flag.camera_off"));
  if (live.state.hands.includes(seat.participant)) out.push(t("live.flag.hand"));
  if (live.state.spotlight === seat.participant) out.push(t("live.flag.spotlight"));
  if (seat.room !== "main") out.push(t("live.flag.room", { room: seat.room }));
  if (seat.state === "dropped") out.push(t("live.flag.dropped"));
  return out.join(" · ");
}

/** The console; `registerHref`: where the session's register is kept. */
export function facilitatorConsole(live, { registerHref }) {
  const lobby = h("ul", { class: "plain stack", id: "live-lobby" });
  const lobbyEmpty = h("p", { class: "muted", id: "live-lobby-empty" }, t("live.lobby_empty"));
  const hands = h("ol", { class: "stack", id: "live-hands" });
  const handsEmpty = h("p", { class: "muted", id: "live-hands-empty" }, t("live.hands_empty"));
  const people = h("ul", { class: "plain stack", id: "live-people" });
  const said = h("p", { class: "visually-hidden", role: "status", id: "live-console-status" });
  const confirmSlot = h("div", { class: "stack", id: "live-confirm" });
  const lock = small("live-lock", t("live.lock"), () => live.send("group.lock", { locked: live.state?.state !== "locked" }));
  const sessionBar = h("div", { class: "actions", id: "live-session-controls", role: "group",
    "aria-label": t("live.session_controls") },
  small("live-mute-all", t("live.mute_all"), () => { live.send("group.mute", { all: true }); said.textContent = t("live.muted_all"); }),
  small("live-allow-all", t("live.allow_all"), () => live.send("group.allow_unmute")),
  small("live-hands-clear", t("live.hands_clear"), () => live.send("group.hands_clear")),
  lock,
  small("live-end", t("live.end"), () => ask("live-end", t("live.confirm_end"), t("live.end"), () => live.send("group.end"))),
  // In a tab of its own: leaving this page would leave the session.
  h("a", { class: "button secondary", id: "live-register", href: registerHref, target: "_blank", rel: "noopener" },
    t("live.register_new_tab")));

  function ask(returnTo, question, yes, act) {
    const qId = "live-confirm-question";
    confirmSlot.replaceChildren(h("p", { class: "confirm", id: qId }, question),
      h("div", { class: "actions" },
        small("live-confirm-yes", yes, () => { confirmSlot.replaceChildren(); act(); }, { "aria-describedby": qId }),
        small("live-confirm-no", t("live.keep"), () => {
          confirmSlot.replaceChildren();
          document.getElementById(returnTo)?.focus();
        })));
    document.getElementById("live-confirm-yes").focus();
  }

  const lobbyItem = (seat) => h("li", { class: "row-actions", "data-participant": seat.participant },
    h("span", { class: "big", id: `lobby-name-${seat.participant}` }, seat.display_name),
    small(`live-admit-${seat.participant}`, t("live.admit"), () => live.send("group.admit", { participant: seat.participant }),
      { class: "button primary admit", "aria-describedby": `lobby-name-${seat.participant}` }),
    small(`live-deny-${seat.participant}`, t("live.deny"), () => live.send("group.deny", { participant: seat.participant }),
      { "aria-describedby": `lobby-name-${seat.participant}` }));

  const personItem = (seat) => {
    const pid = seat.participant;
    const nameId = `person-name-${pid}`;
    const by = { "aria-describedby": nameId };
    const runner = RUNS.has(seat.role);
    const controls = [];
    if (!runner && seat.role !== "observer" && pid !== live.me) {
      controls.push(seat.muted
        ? small(`live-allow-${pid}`, t("live.allow_unmute"), () => live.send("group.allow_unmute", { participant: pid }), by)
        : small(`live-mute-${pid}`, t("live.mute"), () => live.send("group.mute", { participant: pid }), by));
      if (seat.video) {
        controls.push(small(`live-camera-stop-${pid}`, t("live.stop_camera"),
          () => live.send("group.camera_stop", { participant: pid }), by));
      }
    }
    controls.push(live.state.spotlight === pid
      ? small(`live-spotlight-${pid}`, t("live.spotlight_off"), () => live.send("group.spotlight", { participant: null }), by)
      : small(`live-spotlight-${pid}`, t("live.spotlight"), () => live.send("group.spotlight", { participant: pid }), by));
    if (live.state.hands.includes(pid)) {
      controls.push(small(`live-lower-${pid}`, t("live.lower_their_hand"),
        () => live.send("group.hand_lower", { participant: pid }), by));
    }
    if (!runner && pid !== live.me) {
      controls.push(small(`live-remove-${pid}`, t("live.remove"), () => ask(`live-remove-${pid}`,
        t("live.confirm_remove", { name: seat.display_name }), t("live.remove"),
        () => live.send("group.remove", { participant: pid })), by));
    }
    return h("li", { class: "card person", "data-participant": pid, "data-role": seat.role, "data-muted": String(seat.muted),
      "data-room": seat.room },
    h("p", { class: "big", id: nameId }, pid === live.me ? t("live.name_you", { name: seat.display_name }) : seat.display_name),
    h("p", { class: "muted" }, t(live.roleKey(seat.role))),
    h("p", { class: "flags" }, flags(seat, live)),
    h("div", { class: "actions" }, controls));
  };

  const draw = () => {
    const state = live.state;
    if (!state) return;
    const waiting = state.lobby || [];
    redraw(lobby, waiting.map(lobbyItem));
    lobbyEmpty.hidden = waiting.length > 0;
    redraw(hands, state.hands.map((pid, i) => h("li", { "data-participant": pid },
      h("span", { id: `hand-name-${pid}` }, t("live.hand_item", { n: i + 1, name: live.name(pid) })), " ",
      small(`live-hand-lower-${pid}`, t("live.lower_their_hand"), () => live.send("group.hand_lower", { participant: pid }),
        { "aria-describedby": `hand-name-${pid}` }))));
    handsEmpty.hidden = state.hands.length > 0;
    redraw(people, state.participants.map(personItem));
    lock.textContent = state.state === "locked" ? t("live.unlock") : t("live.lock");
    lock.setAttribute("aria-pressed", String(state.state === "locked"));
  };
  live.on("state", draw);
  live.on("place", () => {
    if (live.final) sessionBar.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  });

  const breakouts = breakoutsPanel(live);
  return h("div", { class: "stack group-console", id: "live-console" },
    said,
    card("live-lobby-card", t("live.lobby"), lobbyEmpty, lobby),
    card("live-hands-card", t("live.hands"), handsEmpty, hands),
    card("live-people-card", t("live.people"), people),
    card("live-session-card", t("live.session"), sessionBar, confirmSlot),
    breakouts);
}
