// A link someone gives another person (an enrolment link, a check-in's join link): shown,
// copied to the clipboard, or handed to the phone's share sheet where there is one.
import { h } from "./dom.js";
import { t } from "./i18n.js";

/** The absolute link in a <code>, with Copy (and Share on phones) and a status line. */
export function shareableLink(path, idPrefix) {
  const link = new URL(path, location.origin).href;
  const said = h("p", { class: "muted", role: "status", id: `${idPrefix}-copied` });
  const copy = h("button", { type: "button", class: "button secondary", id: `${idPrefix}-copy`, onclick: async () => {
    try {
      await navigator.clipboard.writeText(link);
      said.textContent = t("link.copied");
    } catch {
      said.textContent = t("link.copy_failed");
    }
  } }, t("link.copy"));
  const share = navigator.share
    ? h("button", { type: "button", class: "button secondary", id: `${idPrefix}-share`,
      onclick: () => navigator.share({ title: t("app.name"), url: link }).catch(() => {}) }, t("link.share"))
    : null;
  return [h("p", {}, h("code", { id: `${idPrefix}-link` }, link)), h("div", { class: "actions" }, copy, share), said];
}
