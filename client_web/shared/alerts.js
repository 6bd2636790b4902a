// Staff alerts on every page (issue 13, item 8): a client waiting for a check-in, a client's
// "I can't talk safely now". The server keeps them until they are acknowledged (a waiting
// alert until the client is let in or leaves), so the list is fetched from GET /api/alerts
// on load and again whenever a `staff_alert` or `staff_alert_resolved` frame arrives on /ws
// (docs/protocol.md). Shown as a button with the count in the header, "(n)" before the
// page's title, and a list with the client's name, a way to the check-in or the case, and
// "Acknowledge". An optional beep (off by default, remembered on this device) sounds for
// a new alert; it needs no audio file (WebAudio).
import { h } from "./dom.js";
import { connectSocket } from "./socket.js";
import { formatTime } from "./i18n.js";

const STAFF = new Set(["officer", "senior_officer"]);
const SOUND_KEY = "tandem.alert_sound";
const PREFIX = /^\(\d+\) /;
const TEXT = {
  client_waiting: "alerts.client_waiting",
  cant_talk_safely: "alerts.cant_talk_safely",
  safe_space_failed: "alerts.safe_space_failed",
};

const state = {
  userId: null, socket: null, alerts: [], seen: null, open: false, ctx: null, control: null, observer: null,
  audio: null, ticket: 0,
};

function soundOn() {
  try {
    return localStorage.getItem(SOUND_KEY) === "on";
  } catch {
    return false;
  }
}

function setSound(on) {
  try {
    localStorage.setItem(SOUND_KEY, on ? "on" : "off");
  } catch {
    // storage disabled: on for this page only
  }
  if (on) beep(); // also unlocks audio: browsers allow it only after a tap or a click
}

/** A short, soft two-tone beep. */
function beep() {
  try {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    state.audio = state.audio || new Context();
    const audio = state.audio;
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const gain = audio.createGain();
    gain.connect(audio.destination);
    gain.gain.setValueAtTime(0.0001, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.2, audio.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.45);
    [660, 880].forEach((frequency, i) => {
      const tone = audio.createOscillator();
      tone.frequency.value = frequency;
      tone.connect(gain);
      tone.start(audio.currentTime + i * 0.2);
      tone.stop(audio.currentTime + i * 0.2 + 0.2);
    });
  } catch {
    // no sound on this device: the badge and the title still say it
  }
}

/** "(n) " before whatever title the page set; kept there when a page changes its title. */
function applyTitle() {
  const n = state.alerts.length;
  const bare = document.title.replace(PREFIX, "");
  const wanted = n ? `(${n}) ${bare}` : bare;
  if (document.title !== wanted) document.title = wanted;
}

function watchTitle() {
  if (state.observer) return;
  const title = document.querySelector("title");
  if (!title) return;
  state.observer = new MutationObserver(applyTitle);
  state.observer.observe(title, { childList: true, characterData: true, subtree: true });
}

function alertText(a, t) {
  return t(TEXT[a.kind] || "alerts.other", { name: a.client.display_name, time: formatTime(a.created_at) });
}

function alertItem(a, t) {
  const textId = `alert-${a.id}-text`;
  const to = a.kind === "client_waiting"
    ? h("a", { class: "button secondary", href: `#/checkin?c=${encodeURIComponent(a.checkin_id)}`,
      "aria-describedby": textId, "data-open": "checkin" }, t("alerts.open_checkin"))
    : h("a", { class: "button secondary", href: `#/cases/${encodeURIComponent(a.case_id)}`,
      "aria-describedby": textId, "data-open": "case" }, t("alerts.open_case"));
  to.addEventListener("click", () => { state.open = false; });
  return h("li", { class: "alert-item", "data-alert-id": a.id, "data-kind": a.kind, "data-checkin": a.checkin_id },
    h("p", { id: textId }, alertText(a, t)),
    h("div", { class: "actions" }, to,
      h("button", { type: "button", class: "button secondary", "data-ack": a.id, "aria-describedby": textId,
        onclick: (event) => acknowledge(a, event.currentTarget) }, t("alerts.acknowledge"))));
}

async function acknowledge(a, button) {
  button.disabled = true;
  try {
    await state.ctx.api.post(`/api/alerts/${encodeURIComponent(a.id)}/ack`);
  } catch {
    button.disabled = false; // acknowledged elsewhere meanwhile, or offline: the list is fetched again
  }
  await refresh();
  const toggle = document.getElementById("alerts-toggle");
  if (toggle && !document.activeElement?.closest?.("#alerts-panel")) toggle.focus();
}

function draw() {
  const control = state.control;
  if (!control || !state.ctx) return;
  const { t } = state.ctx;
  const n = state.alerts.length;
  const count = control.querySelector("#alerts-count");
  count.textContent = String(n);
  count.hidden = n === 0;
  control.querySelector("#alerts-toggle").setAttribute("aria-expanded", String(state.open));
  control.querySelector("#alerts-toggle").classList.toggle("has-alerts", n > 0);
  const panel = control.querySelector("#alerts-panel");
  panel.hidden = !state.open;
  const list = panel.querySelector("#alerts-list");
  list.replaceChildren(...(n ? state.alerts.map((a) => alertItem(a, t))
    : [h("li", { class: "muted", id: "alerts-none" }, t("alerts.none"))]));
  applyTitle();
}

async function refresh() {
  if (!state.ctx || !state.userId) return;
  const ticket = ++state.ticket;
  let alerts;
  try {
    alerts = (await state.ctx.api.get("/api/alerts")).alerts || [];
  } catch {
    return; // offline or signed out: the next frame or reconnect fetches again
  }
  if (ticket !== state.ticket || !state.userId) return;
  const fresh = state.seen ? alerts.filter((a) => !state.seen.has(a.id)) : [];
  state.seen = new Set(alerts.map((a) => a.id));
  state.alerts = alerts;
  draw();
  if (fresh.length) {
    const live = document.getElementById("alerts-announce");
    if (live) live.textContent = fresh.map((a) => alertText(a, state.ctx.t)).join(" ");
    if (soundOn()) beep();
  }
  window.dispatchEvent(new CustomEvent("tandem:alerts", { detail: { alerts } }));
}

function stop() {
  if (state.socket) state.socket.close();
  state.socket = null;
  state.userId = null;
  state.alerts = [];
  state.seen = null;
  state.open = false;
  state.control = null;
  applyTitle();
}

function start(me) {
  if (state.userId === me.id) return;
  stop();
  state.userId = me.id;
  watchTitle();
  state.socket = connectSocket({
    onOpen: () => refresh(), // first open and every reconnect: what changed meanwhile
    onMessage(frame) {
      if (frame.type === "staff_alert" || frame.type === "staff_alert_resolved") refresh();
    },
  });
}

window.addEventListener("tandem:signed-out", stop);

function control(t) {
  const soundId = "alerts-sound";
  const sound = h("input", { type: "checkbox", id: soundId, checked: soundOn(),
    onchange: (event) => setSound(event.currentTarget.checked) });
  const toggle = h("button", { type: "button", class: "button secondary alerts-toggle", id: "alerts-toggle",
    "aria-expanded": "false", "aria-controls": "alerts-panel",
    onclick: () => { state.open = !state.open; draw(); } },
  t("alerts.title"), " ", h("span", { class: "badge badge-alert", id: "alerts-count", hidden: true }, "0"));
  return h("div", { class: "alerts", id: "alerts" }, toggle,
    h("section", { class: "alerts-panel", id: "alerts-panel", "aria-label": t("alerts.title"), hidden: true },
      h("ul", { class: "stack", id: "alerts-list" }),
      h("div", { class: "check" }, sound, h("label", { for: soundId }, t("alerts.sound")))),
    h("p", { class: "visually-hidden", role: "status", id: "alerts-announce" }));
}

/**
 * Put the alerts button into the header's bar for staff (called on every header render);
 * for anyone else, stop listening. `me` null: nobody is signed in (or the second factor is
 * still to be set up).
 */
export function mountAlerts(header, me, ctx) {
  if (!me || !STAFF.has(me.role)) {
    stop();
    return;
  }
  state.ctx = ctx;
  start(me);
  state.control = control(ctx.t);
  (header.querySelector(".bar") || header).append(state.control);
  draw();
  if (!state.seen) refresh();
}
