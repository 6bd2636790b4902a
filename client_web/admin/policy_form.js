// The admin changes one policy rule: a form derived from the rule's config as the server
// returns it (a yes/no as a checkbox, a number as a number, one of the values the server
// lists as a select, a list of them as checkboxes, other lists as comma-separated text,
// anything nested as JSON), and a reason, required. The server
// checks the whole config and stores it as a new policy version; its refusal (an unknown
// value, a number out of range) is shown on the form with what was typed kept.
import { h } from "../shared/dom.js";
import { errorBox, field, selectField } from "../shared/ui.js";

const isWordList = (v) => Array.isArray(v) && v.every((x) => typeof x === "string" || typeof x === "number");

/**
 * One input for `key`'s value, and a reader that turns what was typed back into JSON.
 * `allowed`: the values the server lists for a field of a fixed set (a select), or for a
 * list of them (a checkbox each).
 */
function input(ruleId, key, original, allowed, t) {
  const id = `policy-${ruleId}-${key}`;
  if (allowed && typeof original === "string") {
    return { el: selectField(id, key, allowed.map((v) => [v, v]), original),
      read: () => document.getElementById(id).value };
  }
  if (allowed && Array.isArray(original)) {
    const box = (v) => document.getElementById(`${id}-${v}`);
    return { el: h("fieldset", { class: "field", id },
      h("legend", {}, key),
      allowed.map((v) => h("div", { class: "check" },
        h("input", { type: "checkbox", id: `${id}-${v}`, name: key, value: v, checked: original.includes(v) }),
        h("label", { for: `${id}-${v}` }, v)))),
    // What was listed keeps its order; what is added comes after it.
    read: () => [...original.filter((v) => box(v).checked), ...allowed.filter((v) => !original.includes(v) && box(v).checked)] };
  }
  if (typeof original === "boolean") {
    return { el: h("div", { class: "check" },
      h("input", { type: "checkbox", id, name: key, checked: original }),
      h("label", { for: id }, key)),
    read: () => document.getElementById(id).checked };
  }
  if (typeof original === "number") {
    return { el: field(id, key, { type: "number", value: String(original), required: true,
      step: Number.isInteger(original) ? "1" : "any", name: key }),
    read: () => Number(document.getElementById(id).value) };
  }
  if (typeof original === "string") {
    return { el: field(id, key, { type: "text", value: original, name: key }),
      read: () => document.getElementById(id).value };
  }
  if (isWordList(original)) {
    const numbers = original.length > 0 && original.every((x) => typeof x === "number");
    return { el: field(id, key, { type: "text", value: original.join(", "), name: key }, t("admin.policy_list_hint")),
      read: () => document.getElementById(id).value.split(",").map((x) => x.trim()).filter(Boolean)
        .map((x) => (numbers ? Number(x) : x)) };
  }
  const hintId = `${id}-hint`;
  return { el: h("div", { class: "field" },
    h("label", { for: id }, key),
    h("p", { class: "hint", id: hintId }, t("admin.policy_json_hint")),
    h("textarea", { id, name: key, rows: "6", spellcheck: "false", "aria-describedby": hintId },
      JSON.stringify(original, null, 2))),
  read: () => {
    try {
      return JSON.parse(document.getElementById(id).value);
    } catch {
      throw new SyntaxError(t("admin.policy_bad_json", { field: key }));
    }
  } };
}

/** The form for `rule`; `done(version)` runs after the server stored the change. */
export function policyForm(rule, ctx, done, close) {
  const { api, t } = ctx;
  const choices = rule.choices || {};
  const inputs = Object.entries(rule.config).map(([key, v]) => [key, input(rule.rule_id, key, v, choices[key], t)]);
  const reasonId = `policy-${rule.rule_id}-reason`;
  const error = h("div", { id: `policy-${rule.rule_id}-error`, "aria-live": "assertive" });
  const titleId = `policy-${rule.rule_id}-form-title`;
  const submit = async (event) => {
    event.preventDefault();
    error.replaceChildren();
    let config;
    try {
      config = Object.fromEntries(inputs.map(([key, i]) => [key, i.read()]));
    } catch (err) {
      error.replaceChildren(h("p", { class: "form-error", role: "alert" }, err.message));
      return;
    }
    const button = event.target.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const version = await api.put(`/api/policies/${encodeURIComponent(rule.rule_id)}`,
        { config, reason: document.getElementById(reasonId).value.trim() });
      await done(version);
    } catch (err) {
      error.replaceChildren(errorBox(err));
      button.disabled = false;
    }
  };
  return h("form", { class: "form policy-form", id: `policy-${rule.rule_id}-form`, "aria-labelledby": titleId,
    onsubmit: submit },
  h("h4", { id: titleId }, t("admin.policy_change_title", { rule: rule.title })),
  inputs.map(([, i]) => i.el),
  field(reasonId, t("admin.policy_change_reason"), { type: "text", required: true, maxlength: "500",
    autocomplete: "off" }),
  h("div", { class: "actions" },
    h("button", { type: "submit", class: "button primary", id: `policy-${rule.rule_id}-save` }, t("admin.policy_save")),
    h("button", { type: "button", class: "button secondary", onclick: close }, t("schedule.change_close"))),
  error);
}
