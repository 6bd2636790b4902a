// Message catalogs live in /i18n/<lang>.json as flat "dotted.key": "text" maps.
// English is always loaded too, as the fallback for a key a translation lacks.
import { h } from "./dom.js";

export const LANGUAGES = ["en", "fi", "et", "ro"];
const STORAGE_KEY = "tandem.lang";

let current = "en";
let catalog = {};
let fallback = {};
const cache = new Map();

async function fetchCatalog(lang) {
  if (!cache.has(lang)) {
    const res = await fetch(`/i18n/${lang}.json`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!res.ok) throw new Error(`i18n catalog ${lang}: HTTP ${res.status}`);
    cache.set(lang, await res.json());
  }
  return cache.get(lang);
}

/** "fi-FI" -> "fi"; unsupported or empty -> null. */
export function supported(tag) {
  if (typeof tag !== "string" || !tag) return null;
  const base = tag.toLowerCase().split(/[-_]/)[0];
  return LANGUAGES.includes(base) ? base : null;
}

/** The language the person picked with the switcher, if any. */
export function storedLanguage() {
  try {
    return supported(localStorage.getItem(STORAGE_KEY));
  } catch {
    return null; // storage can be disabled (private mode); then nothing is remembered
  }
}

export function browserLanguage() {
  for (const tag of navigator.languages || [navigator.language]) {
    const lang = supported(tag);
    if (lang) return lang;
  }
  return null;
}

/** The service worker (/sw.js) shows notifications in this language; it cannot read localStorage. */
function keepForNotifications(lang) {
  if (!window.caches) return; // not a secure context: no service worker either
  caches.open("tandem-settings")
    .then((cache) => cache.put("/tandem-settings/language", new Response(lang)))
    .catch(() => {}); // storage refused: notifications fall back to English
}

export async function setLanguage(tag, { remember = false } = {}) {
  const lang = supported(tag) || "en";
  fallback = await fetchCatalog("en");
  catalog = await fetchCatalog(lang);
  current = lang;
  document.documentElement.lang = lang;
  keepForNotifications(lang);
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      // not remembered; the choice still applies to this page
    }
  }
  return lang;
}

export function language() {
  return current;
}

export function has(key) {
  return typeof catalog[key] === "string" || typeof fallback[key] === "string";
}

export function t(key, params = {}) {
  const text = typeof catalog[key] === "string" ? catalog[key] : fallback[key];
  if (typeof text !== "string") {
    console.warn(`i18n: missing key ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole);
}

/** Name of a language, e.g. "ro" -> "Romanian" in English, "romania" in Finnish. */
export function languageName(code, inLanguage = current) {
  try {
    const name = new Intl.DisplayNames([inLanguage], { type: "language" }).of(code);
    return name ? name.charAt(0).toLocaleUpperCase(inLanguage) + name.slice(1) : code;
  } catch {
    return code;
  }
}

export function formatDate(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(current, { dateStyle: "medium" }).format(date);
}

/** When a message was sent: the time today, else the date and time. */
export function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const today = new Date().toDateString() === date.toDateString();
  return new Intl.DateTimeFormat(current, today ? { timeStyle: "short" }
    : { dateStyle: "short", timeStyle: "short" }).format(date);
}

/** Labelled <select>; each option names its language in that language. */
export function languageSwitcher(onChange) {
  const select = h("select", { id: "lang-select", name: "lang", autocomplete: "off" },
    LANGUAGES.map((code) => h("option", {
      value: code, lang: code, selected: code === current,
    }, languageName(code, code))));
  select.addEventListener("change", () => onChange(select.value));
  return h("div", { class: "lang-switcher" },
    h("label", { for: "lang-select" }, t("lang.label")), select);
}
