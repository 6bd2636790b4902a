// Entry point: picks the language, finds out who is signed in, and routes by hash:
//   #/login          sign-in screen (anyone not signed in lands here)
//   #/enrol?code=…   a new client chooses a password with the one-time code from their officer
//   #/second-factor  staff set up an authenticator app (when the server requires it)
//   #/home           the landing page for the signed-in user's role
//   #/messages       conversations (clients, officers, mentors, partners); ?id=… one thread
//   #/schedule       an officer's day or week (?view=day|week&date=YYYY-MM-DD) and follow-ups
//   #/cases/<id>     the officer's case page (officers and senior officers)
//   #/group-sessions/<id>/live  a live group session (participants, staff, the room device)
//   #/group-join?s=…&code=…  a group session's join link (signs in for that session only)
//   #/rooms          the office's rooms and room devices (admins and senior officers)
//   #/device         a meeting-room PC: shows a pairing code, then its room's sessions (no sign-in)
import { h } from "./dom.js";
import { fetchMe, logout as endSession, setCsrfToken, api } from "./api.js";
import { setViewer } from "./reasons.js";
import {
  t, setLanguage, storedLanguage, browserLanguage, languageSwitcher,
} from "./i18n.js";
import { errorBox } from "./ui.js";
import { registerWorker, forgetDevice } from "./push.js";
import { mountAlerts } from "./alerts.js";

const HOMES = {
  client: "/client/home.js",
  officer: "/officer/home.js",
  senior_officer: "/officer/home.js",
  admin: "/admin/home.js",
  facilitator: "/facilitator/home.js",
  mentor: "/mentor/home.js",
  room_device: "/device/home.js",
  partner: "/partner/home.js",
  evaluator: "/evaluation/page.js", // issue 16: the figures are an evaluator's whole screen
};
const BASIC_HOME = "/shared/basic_home.js"; // interpreter
const MESSAGING_ROLES = new Set(["client", "officer", "mentor", "partner"]); // who has #/messages
const SCHEDULE_ROLES = new Set(["officer", "senior_officer"]); // who has #/schedule
const ROOM_ROLES = new Set(["admin", "senior_officer"]); // who has #/rooms
const EVALUATION_ROLES = new Set(["senior_officer", "evaluator"]); // who has #/evaluation
const SCREENS = {
  "/login": "/shared/login.js",
  "/enrol": "/shared/enrol.js",
  "/second-factor": "/shared/second_factor.js",
  "/messages": "/shared/messages.js",
  "/schedule": "/officer/schedule.js",
  "/case": "/officer/case.js", // reached as #/cases/<id>
  "/checkin": "/checkin/join.js", // a video check-in from its link (needs no session when the link has a code)
  "/group-live": "/group/live.js", // reached as #/group-sessions/<id>/live
  "/group-join": "/client/group_join.js", // a group session's join link (its one-time code signs in for it only)
  "/rooms": "/admin/rooms.js",
  "/evaluation": "/evaluation/page.js",
  "/device": "/device/home.js",
};
const AFTER_LOGIN_KEY = "tandem.after_login"; // a screen to return to after signing in (e.g. a check-in link)
// The server answers 403 mfa_enrolment_required to staff without a second factor, and
// the app then shows the set-up screen. A landing page that makes no API call of its own
// would never hear it, so for those roles the first render asks once with a call the
// server checks (its answer, e.g. "not your role", is otherwise ignored).
const state = {
  me: null, mfaPending: false, renders: 0, firstRender: true, notice: null, draft: null,
  focus: null, // id to focus after the next render
  mfaSetup: null, // {secret, otpauth_uri, recovery_codes} while staff set up a second factor
};

function currentRoute() {
  return location.hash.replace(/^#/, "");
}

const CASE_PAGE = /^\/cases\/([A-Za-z0-9_-]{1,64})$/;
const GROUP_LIVE = /^\/group-sessions\/([A-Za-z0-9_-]{1,64})\/live$/;

/** "/enrol?code=X" -> ["/enrol", URLSearchParams]; "/cases/<id>" -> ["/case", id=<id>]. */
function splitRoute(route) {
  const at = route.indexOf("?");
  const [path, params] = at < 0 ? [route, new URLSearchParams()]
    : [route.slice(0, at), new URLSearchParams(route.slice(at + 1))];
  const live = GROUP_LIVE.exec(path);
  if (live) {
    params.set("id", live[1]);
    return ["/group-live", params];
  }
  const casePage = CASE_PAGE.exec(path);
  if (!casePage) return [path, params];
  params.set("id", casePage[1]);
  return ["/case", params];
}

function wantedPath(path) {
  if (path === "/enrol") return path; // needs no session; the code is the credential
  if (path === "/checkin" && !state.mfaSetup) return path; // signs in, or uses the link's one-time code
  if (path === "/group-join" && !state.mfaSetup) return path; // uses the link's one-time code
  if (path === "/device" && !state.me && !state.mfaPending) return path; // pairs by the code on its screen
  if (!state.me) return "/login";
  if (path === "/rooms" && !state.mfaSetup && ROOM_ROLES.has(state.me.role)) return path;
  if (state.mfaSetup) return "/second-factor";
  if (path === "/group-live") return path; // the session decides who may join
  if ((path === "/schedule" || path === "/case") && SCHEDULE_ROLES.has(state.me.role)) return path;
  if (path === "/evaluation" && EVALUATION_ROLES.has(state.me.role)) return path;
  return path === "/messages" && MESSAGING_ROLES.has(state.me.role) ? path : "/home";
}

export function navigate(route) {
  if (currentRoute() === route) render();
  else location.hash = `#${route}`;
}

function forgetUser() {
  window.dispatchEvent(new CustomEvent("tandem:signed-out")); // e.g. messaging closes its socket
  state.me = null;
  state.mfaPending = false;
  state.mfaSetup = null;
}

async function signOut() {
  try {
    await forgetDevice(api); // a shared phone stops showing this person's notifications
  } catch {
    // not subscribed here, or the server is unreachable: the browser side is gone regardless
  }
  try {
    await endSession();
  } catch {
    // the server may already have ended the session; forget it here regardless
  }
  forgetUser();
  navigate("/login");
}

/** To the sign-in screen with the username filled in (after a client's enrolment). */
async function showLogin(username) {
  if (state.me || state.mfaPending) {
    try {
      await endSession(); // someone else was signed in on this device
    } catch {
      // already ended on the server
    }
    forgetUser();
  }
  state.draft = { username };
  state.focus = "password";
  navigate("/login");
}

/** Staff finished setting up their second factor: on to their landing page. */
async function secondFactorDone() {
  state.mfaSetup = null;
  try {
    state.me = (await fetchMe()) || state.me;
  } catch {
    // keep what we knew; the landing page reports a connection problem itself
  }
  navigate("/home");
}

/** Signed in: on to `then` (a link's own next screen), the screen kept for after signing in, or home. */
async function signedIn(session, { then = null } = {}) {
  state.me = session.user;
  state.mfaPending = false;
  state.mfaSetup = null;
  if (!storedLanguage()) await setLanguage(state.me.locale || browserLanguage());
  navigate(then || afterLogin() || "/home");
}

function afterLogin() {
  try {
    const route = sessionStorage.getItem(AFTER_LOGIN_KEY);
    sessionStorage.removeItem(AFTER_LOGIN_KEY);
    return route && route.startsWith("/checkin?") ? route : null;
  } catch {
    return null;
  }
}

async function changeLanguage(lang) {
  // What was typed survives the re-render (never passwords).
  const typed = [...document.getElementById("main").querySelectorAll("input[type=text]")]
    .filter((input) => input.id);
  state.draft = typed.length ? Object.fromEntries(typed.map((input) => [input.id, input.value])) : null;
  await setLanguage(lang, { remember: true });
  await render({ focus: "lang-select" });
}

function renderHeader(path) {
  const header = document.getElementById("site-header");
  const nav = state.me
    ? h("nav", { class: "site-nav", "aria-label": t("nav.label") },
      state.mfaSetup ? null // nothing else works until the second factor is set up
        : h("a", { href: "#/home", "aria-current": path === "/home" ? "page" : null }, t("nav.home")),
      state.mfaSetup || !MESSAGING_ROLES.has(state.me.role) ? null
        : h("a", { href: "#/messages", id: "nav-messages", "aria-current": path === "/messages" ? "page" : null },
          t("messages.title")),
      state.mfaSetup || !SCHEDULE_ROLES.has(state.me.role) ? null
        : h("a", { href: "#/schedule", id: "nav-schedule", "aria-current": path === "/schedule" ? "page" : null },
          t("schedule.title")),
      state.mfaSetup || !ROOM_ROLES.has(state.me.role) ? null
        : h("a", { href: "#/rooms", id: "nav-rooms", "aria-current": path === "/rooms" ? "page" : null },
          t("rooms.title")),
      state.mfaSetup || state.me.role !== "senior_officer" ? null // an evaluator's home is the figures
        : h("a", { href: "#/evaluation", id: "nav-evaluation",
          "aria-current": path === "/evaluation" ? "page" : null }, t("evaluation.nav")),
      h("button", { type: "button", class: "button secondary", id: "logout", onclick: signOut },
        t("action.logout")))
    : null;
  header.replaceChildren(
    h("div", { class: "bar" }, h("span", { class: "brand" }, t("app.name")), nav),
    languageSwitcher(changeLanguage));
  mountAlerts(header, state.mfaSetup ? null : state.me, { api, t }); // staff: alerts on every page
}

/** Staff the server wants to enrol a second factor before anything else (told by /api/me). */
function needsSecondFactor() {
  if (!state.me || !state.me.mfa_enrolment_required || state.mfaSetup) return false;
  state.mfaSetup = {};
  navigate("/second-factor");
  return true;
}

async function render({ focus = null } = {}) {
  const ticket = ++state.renders;
  let [path, params] = splitRoute(currentRoute());
  const wanted = wantedPath(path);
  if (path !== wanted) {
    history.replaceState(null, "", `#${wanted}`);
    [path, params] = [wanted, new URLSearchParams()];
  }
  setViewer(state.me); // who reads the reasons: rule ids are for staff (shared/reasons.js)
  renderHeader(path);
  const main = document.getElementById("main");
  const view = h("div", { class: "view" });
  // A call in progress lives in #call-dock (checkin/session.js), which every page keeps: its
  // media elements must stay in the document for the call to go on while the person is elsewhere.
  for (const child of [...main.children]) if (child.id !== "call-dock") child.remove();
  main.prepend(view);
  const ctx = {
    me: state.me, api, t, navigate, logout: signOut, signedIn, notice: state.notice, draft: state.draft,
    mfaPending: state.mfaPending, mfaStarted: () => { state.mfaPending = true; },
    params, showLogin, mfaSetup: state.mfaSetup, secondFactorDone,
  };
  const focusId = focus || state.focus;
  state.notice = null;
  state.draft = null;
  state.focus = null;
  try {
    if (path === "/home" && needsSecondFactor()) return; // the set-up screen renders instead
    const module = SCREENS[path] || HOMES[state.me.role] || BASIC_HOME;
    const screen = await import(module);
    if (ticket !== state.renders) return;
    await screen.render(view, ctx);
  } catch (err) {
    console.error(err);
    if (ticket === state.renders) view.replaceChildren(errorBox(err, () => render()));
  }
  if (ticket !== state.renders) return;
  main.dataset.rendered = location.hash; // which route the page now shows (tests wait for it)
  const title = view.querySelector("h1");
  document.title = title ? t("app.doc_title", { page: title.textContent }) : t("app.name");
  const target = focusId ? document.getElementById(focusId) : state.firstRender ? null : title;
  if (target) target.focus();
  state.firstRender = false;
}

async function start() {
  registerWorker();
  await setLanguage(storedLanguage() || browserLanguage());
  try {
    state.me = await fetchMe();
  } catch (err) {
    state.me = null; // cannot tell (e.g. offline); the sign-in screen says so
    state.notice = err.code === "network_error" ? "errors.network_error" : "errors.generic";
  }
  if (state.me && state.me.mfa_pending) {
    state.me = null; // signed in with a password, second factor still to come
    state.mfaPending = true;
  }
  if (state.me && !storedLanguage()) await setLanguage(state.me.locale || browserLanguage());
  window.addEventListener("hashchange", () => render());
  window.addEventListener("tandem:unauthenticated", (event) => {
    if (!state.me) return;
    forgetUser();
    state.mfaPending = Boolean(event.detail && event.detail.code === "mfa_required");
    state.notice = state.mfaPending ? "errors.mfa_required" : "errors.unauthenticated";
    setCsrfToken(null);
    navigate("/login");
  });
  window.addEventListener("tandem:mfa-enrolment-required", () => {
    if (!state.me || state.mfaSetup) return;
    state.mfaSetup = {};
    navigate("/second-factor");
  });
  await render();
}

start();
