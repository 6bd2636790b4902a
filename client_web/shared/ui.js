// Pieces every screen uses: page heading, loading state, announced errors.
import { h } from "./dom.js";
import { t, has } from "./i18n.js";
import { ApiError } from "./api.js";
import { reasonText, showsRules } from "./reasons.js";

/**
 * The server's reason in the reader's language (its `reason` code and `params`), else the
 * catalog text for the error code, else the server's own message, else a generic one.
 */
export function errorText(err) {
  const worded = err instanceof ApiError ? reasonText(err.reason, err.params, { field: err.field }) : null;
  if (worded) return worded;
  const code = err instanceof ApiError ? err.code : null;
  if (code && has(`errors.${code}`)) return t(`errors.${code}`);
  if (err instanceof ApiError && err.status > 0 && err.message && err.message !== code) {
    return err.message;
  }
  return t("errors.generic");
}

/** Label, optional hint (announced with the input) and input, stacked for a phone. */
export function field(id, label, attrs, hint) {
  const hintId = hint ? `${id}-hint` : null;
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    h("input", { id, name: id, "aria-describedby": hintId, ...attrs }));
}

/** Label and <select> from [value, text] options, `value` selected. */
export function selectField(id, label, options, value) {
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    h("select", { id, name: id },
      options.map(([v, text]) => h("option", { value: String(v), selected: String(v) === String(value) }, text))));
}

/** The page's one h1; focusable so the app can move focus to it after navigation. */
export function pageHeading(text) {
  return h("h1", { id: "page-title", tabindex: "-1" }, text);
}

export function roleName(role) {
  return has(`role.${role}`) ? t(`role.${role}`) : role;
}

export function greeting(me) {
  return h("p", { class: "lead" }, t("home.greeting", { name: me.display_name }));
}

export function signedInAs(me) {
  return h("p", { class: "muted" }, t("home.signed_in_as", { role: roleName(me.role) }));
}

/**
 * Show a loading line in `slot` while `load()` runs. Returns its data, or null after
 * putting an announced error (with a retry button) in the slot instead.
 */
export async function loadInto(slot, load, onRetry) {
  const busy = h("p", { class: "muted", role: "status" }, t("app.loading"));
  slot.replaceChildren(busy);
  slot.setAttribute("aria-busy", "true");
  try {
    return await load();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      window.dispatchEvent(new CustomEvent("tandem:unauthenticated", { detail: { code: err.code } }));
    }
    slot.replaceChildren(errorBox(err, onRetry));
    return null;
  } finally {
    busy.remove();
    slot.removeAttribute("aria-busy");
  }
}

/**
 * What the server said is wrong with a form, when the catalog has no words for its reason and
 * its code's text is only the generic one (an API detail no screen expects).
 */
function formReason(err) {
  return err instanceof ApiError && err.code === "invalid_request" && !reasonText(err.reason, err.params)
    && err.message && err.message !== err.code ? err.message : null;
}

/** An announced error; the refusing rule is named to staff only (clients are told what to do). */
export function errorBox(err, onRetry) {
  const reason = formReason(err);
  return h("div", { class: "error-box", "data-reason": err instanceof ApiError ? err.reason : null },
    h("p", { role: "alert" }, errorText(err), reason ? h("span", { class: "reason" }, ` ${reason}`) : null),
    err instanceof ApiError && err.ruleId && showsRules()
      ? h("p", { class: "muted rule" }, t("remote.rule", { rule_id: err.ruleId })) : null,
    onRetry ? h("button", { type: "button", class: "button secondary", onclick: onRetry },
      t("action.retry")) : null);
}

/** <dl> from [term, ...details] rows; rows that are null are left out. */
export function details(rows, className = "details") {
  return h("dl", { class: className }, rows.filter(Boolean).map(([term, ...desc]) =>
    h("div", { class: "row" }, h("dt", {}, term), h("dd", {}, desc))));
}
