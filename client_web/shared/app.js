// Entry point: picks the language, finds out who is signed in, and routes by hash:
//   #/login  sign-in screen (anyone not signed in lands here)
//   #/home   the landing page for the signed-in user's role
import { h } from "./dom.js";
import { fetchMe, logout as endSession, setCsrfToken, api } from "./api.js";
import {
  t, setLanguage, storedLanguage, browserLanguage, languageSwitcher,
} from "./i18n.js";
import { errorBox } from "./ui.js";

const HOMES = {
  client: "/client/home.js",
  officer: "/officer/home.js",
  senior_officer: "/officer/home.js",
  admin: "/admin/home.js",
  facilitator: "/facilitator/home.js",
  mentor: "/mentor/home.js",
};
const BASIC_HOME = "/shared/basic_home.js"; // partner, interpreter, room_device

const state = {
  me: null, mfaPending: false, renders: 0, firstRender: true, notice: null, draft: null,
};

function currentRoute() {
  return location.hash.replace(/^#/, "");
}

export function navigate(route) {
  if (currentRoute() === route) render();
  else location.hash = `#${route}`;
}

async function signOut() {
  try {
    await endSession();
  } catch {
    // the server may already have ended the session; forget it here regardless
  }
  state.me = null;
  state.mfaPending = false;
  navigate("/login");
}

async function signedIn(session) {
  state.me = session.user;
  state.mfaPending = false;
  if (!storedLanguage()) await setLanguage(state.me.locale || browserLanguage());
  navigate("/home");
}

async function changeLanguage(lang) {
  const username = document.getElementById("username");
  state.draft = username ? { username: username.value } : null; // survive the re-render
  await setLanguage(lang, { remember: true });
  await render({ focus: "lang-select" });
}

function renderHeader() {
  const header = document.getElementById("site-header");
  const nav = state.me
    ? h("nav", { class: "site-nav", "aria-label": t("nav.label") },
      h("a", { href: "#/home", "aria-current": "page" }, t("nav.home")),
      h("button", { type: "button", class: "button secondary", id: "logout", onclick: signOut },
        t("action.logout")))
    : null;
  header.replaceChildren(
    h("div", { class: "bar" }, h("span", { class: "brand" }, t("app.name")), nav),
    languageSwitcher(changeLanguage));
}

async function render({ focus = null } = {}) {
  const ticket = ++state.renders;
  let route = currentRoute();
  const wanted = state.me ? "/home" : "/login";
  if (route !== wanted) {
    history.replaceState(null, "", `#${wanted}`);
    route = wanted;
  }
  renderHeader();
  const main = document.getElementById("main");
  const view = h("div", { class: "view" });
  main.replaceChildren(view);
  const ctx = {
    me: state.me, api, t, navigate, logout: signOut, signedIn, notice: state.notice, draft: state.draft,
    mfaPending: state.mfaPending, mfaStarted: () => { state.mfaPending = true; },
  };
  state.notice = null;
  state.draft = null;
  try {
    const path = route === "/login" ? "/shared/login.js" : HOMES[state.me.role] || BASIC_HOME;
    const screen = await import(path);
    if (ticket !== state.renders) return;
    await screen.render(view, ctx);
  } catch (err) {
    console.error(err);
    if (ticket === state.renders) view.replaceChildren(errorBox(err, () => render()));
  }
  if (ticket !== state.renders) return;
  const title = view.querySelector("h1");
  document.title = title ? t("app.doc_title", { page: title.textContent }) : t("app.name");
  const target = focus ? document.getElementById(focus) : state.firstRender ? null : title;
  if (target) target.focus();
  state.firstRender = false;
}

async function start() {
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
    state.me = null;
    state.mfaPending = Boolean(event.detail && event.detail.code === "mfa_required");
    state.notice = state.mfaPending ? "errors.mfa_required" : "errors.unauthenticated";
    setCsrfToken(null);
    navigate("/login");
  });
  await render();
}

start();
