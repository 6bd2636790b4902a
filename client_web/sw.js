// Tandem's service worker: the app shell offline, and content-free Web Push.
//
// Caches the shell only: the page, its modules, styles, catalogs and icons, fetched from
// the network first and kept for when there is none. Never an /api/ answer, so nothing of
// a case, a message or a person is ever written to this device's caches. The one other
// entry is the language the person chose (written by shared/i18n.js), so a notification
// speaks it.
//
// A push shows the catalog text for its type and nothing more (shared/push_notice.js);
// tapping it opens or focuses Tandem on the page it is about.
import { parsePayload, notice, clickTarget } from "/shared/push_notice.js";

const SHELL_CACHE = "tandem-shell-v1";
const SETTINGS_CACHE = "tandem-settings"; // written by shared/i18n.js
const LANGUAGE_KEY = "/tandem-settings/language";
// The first screen and everything a notification needs; other modules are kept as they load.
const PRECACHE = [
  "/", "/manifest.webmanifest", "/shared/app.js", "/shared/dom.js", "/shared/api.js", "/shared/socket.js",
  "/shared/i18n.js", "/shared/ui.js", "/shared/login.js", "/shared/push.js", "/shared/push_notice.js",
  "/shared/style.css", "/shared/icon.svg", "/shared/icon-192.png", "/shared/icon-512.png",
  "/shared/icon-maskable-512.png", "/i18n/en.json", "/i18n/fi.json", "/i18n/et.json", "/i18n/ro.json",
];
const SHELL_FILE = /\.(js|css|json|png|svg|webmanifest)$/;

/** A static file of the app: the page itself or a file type the shell has, never /api/ or /ws. */
function isShell(url) {
  if (url.origin !== self.location.origin) return false;
  if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/ws")) return false;
  return url.pathname === "/" || SHELL_FILE.test(url.pathname);
}

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((names) => Promise.all(names
    .filter((name) => name.startsWith("tandem-shell-") && name !== SHELL_CACHE)
    .map((name) => caches.delete(name)))));
});

async function networkFirst(request, url) {
  const cache = await caches.open(SHELL_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") await cache.put(url.pathname, response.clone());
    return response;
  } catch (err) {
    const kept = await cache.match(url.pathname);
    if (kept) return kept;
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || !isShell(url)) return; // the network as if there were no worker
  event.respondWith(networkFirst(event.request, url));
});

async function catalog(lang) {
  const path = `/i18n/${lang}.json`;
  const kept = await caches.match(path, { cacheName: SHELL_CACHE });
  const response = kept || await fetch(path);
  return response.json();
}

/** Catalog lookup in the person's language, English for a missing key. */
async function texts() {
  let lang = "en";
  try {
    const stored = await caches.match(LANGUAGE_KEY, { cacheName: SETTINGS_CACHE });
    if (stored) lang = (await stored.text()).trim();
  } catch {
    // no language kept: English
  }
  const [english, chosen] = await Promise.all([
    catalog("en").catch(() => ({})),
    /^[a-z]{2}$/.test(lang) && lang !== "en" ? catalog(lang).catch(() => ({})) : Promise.resolve({}),
  ]);
  return (key) => chosen[key] || english[key] || self.location.host;
}

self.addEventListener("push", (event) => {
  const data = event.data ? parsePayload(event.data.text()) : null;
  event.waitUntil(texts().then((text) => {
    const shown = notice(data, text);
    return self.registration.showNotification(shown.title, {
      body: shown.body, tag: shown.tag, icon: "/shared/icon-192.png", data: { route: shown.route },
    });
  }));
});

async function openPage(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
  if (!open) return self.clients.openWindow(url);
  const focused = await open.focus();
  try {
    return await focused.navigate(url);
  } catch {
    return self.clients.openWindow(url); // a page this worker does not control yet
  }
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openPage(clickTarget(event.notification.data, self.location.origin)));
});
