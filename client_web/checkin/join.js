// #/checkin?c=<check-in id>&code=<one-time code>: joining a video check-in.
// Client, on a phone: sign in or use the code -> device and network test -> safe-space
// questions -> waiting room -> call. Staff (the officer): their own safe-space check -> the
// room as host, with the people waiting to admit -> call.
import { h } from "../shared/dom.js";
import { ApiError, setCsrfToken } from "../shared/api.js";
import { errorText, errorBox, loadInto } from "../shared/ui.js";
import { deviceTest } from "./device_test.js";
import { safeSpaceCheck, neutralEnd } from "./safe_space.js";
import { startCall } from "./call.js";
import { checkinOutcome } from "./outcome.js";

const STAFF = new Set(["officer", "senior_officer", "interpreter"]);
export const AFTER_LOGIN_KEY = "tandem.after_login";

function remember(route) {
  try {
    sessionStorage.setItem(AFTER_LOGIN_KEY, route);
  } catch {
    // storage disabled: after signing in the person opens the link again
  }
}

function heading(view, t, key) {
  const title = view.querySelector("h1");
  title.textContent = t(key);
  document.title = t("app.doc_title", { page: title.textContent });
  title.focus();
}

function videoTile(id, label, stream, { muted = false } = {}) {
  const el = h("video", { id, autoplay: true, playsinline: true, "aria-label": label });
  el.muted = muted;
  el.srcObject = stream;
  return h("figure", { class: "tile" }, el, h("figcaption", {}, label));
}

const csrfKey = (checkinId) => `tandem.checkin_csrf.${checkinId}`;

/** A session from this check-in's code already open in this tab (e.g. after a reload)? */
async function resumeCodeSession(api, checkinId) {
  let csrf = null;
  try {
    csrf = sessionStorage.getItem(csrfKey(checkinId));
  } catch {
    return false;
  }
  if (!csrf) return false;
  try {
    await api.get(`/api/checkins/${encodeURIComponent(checkinId)}/safe-space`);
  } catch {
    return false; // expired or ended: the person starts again
  }
  setCsrfToken(csrf);
  return true;
}

async function access(slot, { me, api, t, params, navigate }) {
  if (me) return true;
  const checkinId = params.get("c");
  const code = params.get("code");
  if (await resumeCodeSession(api, checkinId)) return true;
  return new Promise((resolve) => {
    const problem = h("p", { role: "alert", class: "form-error", id: "access-error" });
    const useCode = code ? h("button", { type: "button", class: "button primary big-button", id: "use-code" }, t("checkin.use_code")) : null;
    const signIn = h("button", { type: "button", class: `button big-button ${code ? "secondary" : "primary"}`, id: "sign-in" },
      t("checkin.sign_in"));
    slot.replaceChildren(h("p", { class: "lead" }, t(code ? "checkin.access_code" : "checkin.access_login")),
      problem, useCode, signIn);
    signIn.addEventListener("click", () => {
      remember(`/checkin?c=${encodeURIComponent(checkinId)}`);
      navigate("/login");
    });
    if (useCode) {
      useCode.addEventListener("click", async () => {
        useCode.disabled = true;
        try {
          const session = await api.post(`/api/checkins/${encodeURIComponent(checkinId)}/code-session`, { code });
          setCsrfToken(session.csrf_token);
          try {
            // The session cookie is HttpOnly; its CSRF token is kept for this tab only, so a
            // reload goes on with the same session instead of asking for the used code again.
            sessionStorage.setItem(csrfKey(checkinId), session.csrf_token);
          } catch {
            // storage disabled: a reload needs a new link
          }
          resolve(true);
        } catch (err) {
          problem.textContent = errorText(err);
          useCode.disabled = false;
        }
      });
    }
  });
}

async function iceServersFor(api, checkinId) {
  try {
    return (await api.get(`/api/checkins/${encodeURIComponent(checkinId)}/ice-servers`)).ice_servers || [];
  } catch {
    return []; // explicit and empty: host candidates only
  }
}

/** After the officer's call: what happened and the suggested outcome, recorded right here. */
async function askOutcome(slot, ctx, checkinId) {
  const { t, api } = ctx;
  const panel = h("section", { class: "card", id: "call-outcome", "aria-labelledby": "call-outcome-title" },
    h("h2", { id: "call-outcome-title" }, t("outcome.title")));
  const body = h("div", { class: "stack" });
  panel.append(body);
  slot.replaceChildren(h("p", { class: "lead", id: "checkin-ended", role: "status" }, t("outcome.call_ended")), panel);
  const checkin = await loadInto(body, () => api.get(`/api/checkins/${encodeURIComponent(checkinId)}`),
    () => askOutcome(slot, ctx, checkinId));
  if (checkin) body.replaceChildren(checkinOutcome(checkin, ctx, { prefix: "call" }));
}

function inCall(view, slot, ctx, { checkinId, mode, host }) {
  const { t } = ctx;
  const status = h("p", { role: "status", class: "live", id: "call-status" }, t("checkin.connecting"));
  const tiles = h("div", { class: "tiles", id: "call-tiles" });
  const waitingList = h("ul", { class: "stack", id: "call-lobby" });
  const lobbyCard = host ? h("section", { class: "card", "aria-labelledby": "call-lobby-title" },
    h("h2", { id: "call-lobby-title" }, t("waiting.title")), waitingList) : null;
  const voice = h("button", { type: "button", class: "button secondary big-button", id: "call-audio-only" }, t("call.audio_only"));
  const leave = h("button", { type: "button", class: "button primary big-button", id: "call-leave" }, t(host ? "call.end" : "call.leave"));
  const cantTalk = host ? null
    : h("button", { type: "button", class: "button secondary big-button", id: "call-cant-talk" }, t("safe.cant_talk"));
  slot.replaceChildren(...[status, lobbyCard, tiles, h("div", { class: "stack call-actions" }, voice, leave, cantTalk)]
    .filter(Boolean));

  const shown = new Map();
  // Who is waiting to be let in (hosts): from `lobby` frames and the room's own snapshots.
  const drawLobby = (waiting) => {
    waitingList.replaceChildren(...(waiting.length ? waiting.map((w) =>
      h("li", { class: "row" }, h("span", { class: "big" }, w.display_name), " ",
        h("button", { type: "button", class: "button primary admit", "data-participant": w.participant,
          onclick: () => call.admit(w.participant) }, t("waiting.admit", { name: w.display_name }))))
      : [h("li", { class: "muted" }, t("waiting.nobody"))]));
  };
  const call = startCall({
    room: checkinId,
    api: ctx.api,
    mode,
    onEvent(kind, d) {
      if (kind === "joined") {
        status.textContent = t(d.state === "admitted" ? "checkin.in_room" : "checkin.waiting");
        if (d.state === "waiting") heading(view, t, "checkin.waiting_title");
      } else if (kind === "admitted") {
        heading(view, t, "call.title");
        status.textContent = t("checkin.in_call");
        if (call.local && !document.getElementById("local-video")) {
          const mine = videoTile("local-video", t("call.you"), call.local, { muted: true });
          mine.classList.add("tile-local");
          tiles.prepend(mine);
        }
      } else if (kind === "remote") {
        if (shown.has(d.participant)) shown.get(d.participant).querySelector("video").srcObject = d.stream;
        else {
          const tile = videoTile(`remote-${d.participant}`, t("call.other"), d.stream);
          tile.querySelector("video").classList.add("remote-video");
          shown.set(d.participant, tile);
          tiles.append(tile);
        }
      } else if (kind === "peer_left") {
        if (d.reason !== "dropped" && shown.has(d.participant)) { shown.get(d.participant).remove(); shown.delete(d.participant); }
        status.textContent = t(d.reason === "dropped" ? "call.peer_dropped" : "call.peer_left");
      } else if (kind === "lobby" && host && d.checkin_id === checkinId) {
        drawLobby(d.waiting);
      } else if (kind === "room" && host) {
        drawLobby(d.participants.filter((p) => p.state === "waiting"));
      } else if (kind === "quality") {
        // Advice only: the weak link is named and "Voice only" becomes the main button.
        const weak = d.mode === "audio_only";
        status.textContent = t(weak ? "call.suggest_audio_only" : "checkin.in_call");
        voice.className = `button big-button ${weak ? "primary" : "secondary"}`;
      } else if (kind === "media") {
        voice.disabled = true;
        status.textContent = t("call.audio_only_on");
      } else if (kind === "ended") {
        heading(view, t, "checkin.ended_title");
        // The officer is asked for the outcome at once; anyone else is thanked, neutrally.
        if (host && !["replaced", "closed"].includes(d.reason)) askOutcome(slot, ctx, checkinId);
        else neutralEnd(slot, t);
      } else if (kind === "error") {
        status.replaceChildren(errorBox(new ApiError(0, d.code, d.message, d.ruleId,
          { reason: d.reason, params: d.params })));
      }
    },
  });
  voice.addEventListener("click", () => call.audioOnly());
  leave.addEventListener("click", () => (host ? call.end() : call.leave()));
  if (cantTalk) cantTalk.addEventListener("click", () => call.cantTalk());
  window.addEventListener("hashchange", () => call.close(), { once: true });
  window.__tandemCall = call; // for the browser test's getStats; holds nothing secret
  return call;
}

export async function render(view, ctx) {
  const { t, params, me } = ctx;
  const checkinId = params.get("c");
  view.append(h("h1", { id: "page-title", tabindex: "-1" }, t("checkin.title")));
  const slot = h("div", { class: "stack", id: "checkin-step" });
  view.append(slot);
  if (!checkinId) {
    slot.replaceChildren(h("p", { role: "alert" }, t("checkin.bad_link")));
    return;
  }
  const host = Boolean(me && STAFF.has(me.role) && me.role !== "interpreter");
  // The steps run after the first render (each waits for the person).
  queueMicrotask(async () => {
    if (!(await access(slot, ctx))) return;
    let mode = "video";
    if (!host) {
      heading(view, t, "device.title");
      const iceServers = await iceServersFor(ctx.api, checkinId);
      ({ mode } = await deviceTest(slot, { api: ctx.api, t, iceServers }));
    }
    heading(view, t, "safe.title");
    const safe = await safeSpaceCheck(slot, { api: ctx.api, t, checkinId });
    if (!safe.passed) {
      if (safe.ended) {
        heading(view, t, "checkin.ended_title");
        neutralEnd(slot, t);
      }
      return;
    }
    heading(view, t, host ? "call.title" : "checkin.waiting_title");
    inCall(view, slot, ctx, { checkinId, mode, host });
  });
}
