// #/checkin?c=<check-in id>&code=<one-time code>: joining a video check-in.
// Client, on a phone: sign in or use the code -> device and network test -> safe-space
// questions -> waiting room -> call. Staff (the officer): their own safe-space check -> the
// room as host, with the people waiting to admit -> call. The call itself belongs to
// session.js (it outlives this page); back on this page during a call, the call shows again,
// and a tab that passed the device test for this check-in skips it when it joins again.
import { h } from "../shared/dom.js";
import { setCsrfToken } from "../shared/api.js";
import { errorText, loadInto } from "../shared/ui.js";
import { deviceTest } from "./device_test.js";
import { safeSpaceCheck, neutralEnd } from "./safe_space.js";
import { feedbackCard } from "./feedback.js";
import { activeCall, endedReason, joinCall, readyMode, rememberReady } from "./session.js";
import { checkinOutcome } from "./outcome.js";
import { officerUnavailable, offerAnotherTime } from "./unavailable.js";

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
  // After the outcome, the officer's own answer to "How did this go?" (optional, issue 16).
  slot.replaceChildren(h("p", { class: "lead", id: "checkin-ended", role: "status" }, t("outcome.call_ended")), panel,
    feedbackCard(ctx, checkinId));
  const checkin = await loadInto(body, () => api.get(`/api/checkins/${encodeURIComponent(checkinId)}`),
    () => askOutcome(slot, ctx, checkinId));
  if (checkin) body.replaceChildren(checkinOutcome(checkin, ctx, { prefix: "call" }));
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
  const live = activeCall(checkinId);
  if (live) {
    view.querySelector("h1").textContent = t(live.titleKey);
    slot.remove(); // the call's stage, below, is the page
    return;
  }
  const ended = endedReason(checkinId);
  if (ended) {
    view.querySelector("h1").textContent = t("checkin.ended_title");
    // The officer is asked for the outcome at once; anyone else is thanked, neutrally.
    if (host && !["replaced", "closed", "left"].includes(ended)) askOutcome(slot, ctx, checkinId);
    else if (ended === "officer_unavailable") officerUnavailable(slot, t); // issue 13
    else {
      neutralEnd(slot, t);
      // A call that took place: the client may say how it went (optional, issue 16).
      if (!host && ["ended_by_host", "left", "window_closed"].includes(ended)) slot.append(feedbackCard(ctx, checkinId));
    }
    return;
  }
  // The steps run after the first render (each waits for the person).
  queueMicrotask(async () => {
    if (!(await access(slot, ctx))) return;
    let mode = readyMode(checkinId) || "video";
    if (!host && !readyMode(checkinId)) {
      heading(view, t, "device.title");
      const iceServers = await iceServersFor(ctx.api, checkinId);
      ({ mode } = await deviceTest(slot, { api: ctx.api, t, iceServers }));
      rememberReady(checkinId, mode);
    }
    heading(view, t, "safe.title");
    const safe = await safeSpaceCheck(slot, { api: ctx.api, t, checkinId });
    if (!safe.passed) {
      if (safe.ended) {
        heading(view, t, "checkin.ended_title");
        if (host) offerAnotherTime(slot, ctx, checkinId); // the client waiting was told (issue 13)
        else neutralEnd(slot, t);
      }
      return;
    }
    heading(view, t, host ? "call.title" : "checkin.waiting_title");
    slot.replaceChildren();
    joinCall(ctx, { checkinId, mode, host });
  });
}
