// Notifications on this device (Web Push): the service worker's registration, the card
// that turns them on and off, and forgetting the device at sign-out.
//
// The card says exactly what the lock screen will show, in the catalog's words the
// service worker uses (shared/push_notice.js), before anyone is asked for permission.
// Turning on asks the browser for permission, subscribes with the server's VAPID key
// (GET /api/push/key) and gives the server the subscription (POST /api/push/subscriptions);
// turning off, and signing out, removes it from the server and the browser.
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { errorBox } from "./ui.js";

const WORKER = "/sw.js";
const SUBSCRIBE_TIMEOUT_MS = 20000; // a browser whose push service is unreachable may never answer

export function pushSupported() {
  return window.isSecureContext && "serviceWorker" in navigator && "PushManager" in window
    && typeof window.Notification === "function";
}

/** Register the service worker (shell cache and notifications) once the app has started. */
export function registerWorker() {
  if (!window.isSecureContext || !("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register(WORKER, { type: "module", scope: "/" })
    .catch((err) => console.warn("service worker not registered", err));
}

async function currentSubscription() {
  const registration = await navigator.serviceWorker.getRegistration("/");
  return registration ? registration.pushManager.getSubscription() : null;
}

/** Sign-out on a shared phone: this device stops receiving the person's notifications. */
export async function forgetDevice(api) {
  if (!pushSupported()) return;
  const subscription = await currentSubscription();
  if (!subscription) return;
  try {
    await api.del("/api/push/subscriptions", { endpoint: subscription.endpoint });
  } finally {
    await subscription.unsubscribe();
  }
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function withTimeout(promise, ms) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("push subscription timed out")), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function turnOn(api) {
  if (await Notification.requestPermission() !== "granted") return;
  await navigator.serviceWorker.register(WORKER, { type: "module", scope: "/" });
  const registration = await navigator.serviceWorker.ready;
  const { public_key: key } = await api.get("/api/push/key");
  let subscription;
  try {
    subscription = await withTimeout(registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: keyBytes(key),
    }), SUBSCRIBE_TIMEOUT_MS);
  } catch (err) {
    console.warn("push subscription refused by the browser", err);
    throw new BrowserRefused();
  }
  try {
    await api.post("/api/push/subscriptions", subscription.toJSON());
  } catch (err) {
    await subscription.unsubscribe().catch(() => {}); // the server did not take it: not on
    throw err;
  }
}

class BrowserRefused extends Error {}

function preview() {
  return h("ul", { class: "lock-preview", id: "push-preview" },
    ["push.new_message", "push.reminder"].map((key) => h("li", {},
      h("strong", {}, t("push.title")), h("br"), h("span", { "data-push-text": key }, t(key)))));
}

/** The card on a home page: {card, loaded}. */
export function pushCard(api) {
  const state = h("p", { id: "push-state", role: "status" });
  const problem = h("div", { id: "push-error" });
  const actions = h("div", { class: "actions" });
  const card = h("section", { class: "card", id: "push-card", "aria-labelledby": "push-title" },
    h("h2", { id: "push-title" }, t("push.card_title")),
    h("p", {}, t("push.explain")), preview(), h("p", {}, t("push.never")),
    state, problem, actions);

  const show = async () => {
    actions.replaceChildren();
    if (!pushSupported()) {
      state.textContent = t("push.state_unsupported");
      return;
    }
    if (Notification.permission === "denied") {
      state.textContent = t("push.state_blocked");
      return;
    }
    const on = Boolean(await currentSubscription().catch(() => null));
    card.dataset.push = on ? "on" : "off";
    state.textContent = t(on ? "push.state_on" : "push.state_off");
    actions.append(h("button", {
      type: "button", class: on ? "button secondary" : "button primary", id: on ? "push-off" : "push-on",
      onclick: (event) => act(event.currentTarget, on ? () => forgetDevice(api) : () => turnOn(api)),
    }, t(on ? "push.turn_off" : "push.turn_on")));
  };

  const act = async (button, action) => {
    button.disabled = true;
    problem.replaceChildren();
    try {
      await action();
    } catch (err) {
      problem.replaceChildren(err instanceof BrowserRefused
        ? h("div", { class: "error-box" }, h("p", { role: "alert" }, t("push.browser_refused")))
        : errorBox(err));
    }
    await show();
  };

  return { card, loaded: show() };
}
