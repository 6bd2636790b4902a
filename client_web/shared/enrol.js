// Client enrolment: a new client opens the link (or types the code) their officer gave
// them on paper or by text message, chooses a password, and is told their username.
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { enrol } from "./api.js";
import { errorText, pageHeading, field } from "./ui.js";

const MIN_PASSWORD = 10; // the server's rule (server/identity/passwords.py)
const MAX_PASSWORD = 256;

// The last enrolment on this page, {code, username}: a re-render (a language switch) must
// not lose the username, since the code that would show it again is now used up.
let enrolled = null;

/**
 * The code as the server issues it (three groups of six hex digits, "A1B2C3-D4E5F6-0A1B2C"),
 * from however it was typed: any case, spaces or no dashes, O for 0, I or L for 1.
 * Null when it cannot be one.
 */
export function normaliseCode(raw) {
  const chars = String(raw || "").toUpperCase().replace(/[^0-9A-Z]/g, "")
    .replace(/O/g, "0").replace(/[IL]/g, "1");
  return /^[0-9A-F]{18}$/.test(chars) ? chars.match(/.{6}/g).join("-") : null;
}

function codePoints(text) {
  return [...text].length; // as the server counts, so an emoji is one character
}

function enrolForm(view, ctx) {
  const linked = (ctx.draft && ctx.draft["enrol-code"]) || ctx.params.get("code") || "";
  const alert = h("p", { class: "form-error", role: "alert", id: "enrol-error" });
  const button = h("button", { type: "submit", class: "button primary" }, t("enrol.submit"));
  const code = field("enrol-code", t("enrol.code"), {
    type: "text", autocomplete: "off", autocapitalize: "characters", spellcheck: "false",
    maxlength: "64", required: true, value: normaliseCode(linked) || linked || null,
  }, t("enrol.code_hint"));
  const password = field("new-password", t("enrol.password"), {
    type: "password", autocomplete: "new-password", required: true, minlength: String(MIN_PASSWORD),
  }, t("enrol.password_rule", { min: MIN_PASSWORD }));
  const confirm = field("confirm-password", t("enrol.confirm"), {
    type: "password", autocomplete: "new-password", required: true,
  });
  const inputs = {
    code: code.querySelector("input"),
    password: password.querySelector("input"),
    confirm: confirm.querySelector("input"),
  };
  const toggle = h("input", { type: "checkbox", id: "show-passwords" });
  toggle.addEventListener("change", () => {
    inputs.password.type = inputs.confirm.type = toggle.checked ? "text" : "password";
  });
  const form = h("form", { class: "form", novalidate: true, "aria-labelledby": "page-title" },
    alert, code, password, confirm,
    h("div", { class: "check" }, toggle, h("label", { for: "show-passwords" }, t("enrol.show_passwords"))),
    button);

  const refuse = (message, ...bad) => {
    alert.textContent = message;
    bad.forEach((input) => input.setAttribute("aria-invalid", "true"));
    bad[0].focus();
  };

  /** The first thing wrong with the form, as [message, inputs...], or null. */
  const problem = () => {
    const typed = inputs.code.value.trim();
    if (!typed) return [t("enrol.code_missing"), inputs.code];
    if (!normaliseCode(typed)) return [t("enrol.code_format"), inputs.code];
    const chosen = inputs.password.value;
    if (codePoints(chosen) < MIN_PASSWORD) {
      return [t("enrol.password_short", { min: MIN_PASSWORD }), inputs.password];
    }
    if (codePoints(chosen) > MAX_PASSWORD) {
      return [t("enrol.password_long", { max: MAX_PASSWORD }), inputs.password];
    }
    if (inputs.confirm.value !== chosen) return [t("enrol.password_mismatch"), inputs.confirm];
    return null;
  };

  const idleText = button.textContent;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    alert.textContent = "";
    Object.values(inputs).forEach((input) => input.removeAttribute("aria-invalid"));
    const wrong = problem();
    if (wrong) {
      refuse(...wrong);
      return;
    }
    const normalised = normaliseCode(inputs.code.value);
    inputs.code.value = normalised; // show what is sent
    button.disabled = true;
    button.textContent = t("login.submitting");
    try {
      const { username } = await enrol(normalised, inputs.password.value);
      enrolled = { code: normalised, username };
      showDone(view, ctx, username, { focus: true });
    } catch (err) {
      if (err.code === "invalid_credentials") refuse(t("enrol.code_invalid"), inputs.code);
      else if (err.code === "invalid_request") refuse(t("enrol.invalid_request", { min: MIN_PASSWORD }), inputs.code, inputs.password);
      else alert.textContent = errorText(err); // rate_limited, network_error, ...
    } finally {
      button.disabled = false;
      button.textContent = idleText;
    }
  });
  return form;
}

function showDone(view, ctx, username, { focus = false } = {}) {
  const title = pageHeading(t("enrol.done_title"));
  const signIn = () => {
    enrolled = null;
    ctx.showLogin(username);
  };
  view.replaceChildren(
    title,
    h("div", { class: "card stack", id: "enrol-done" },
      h("p", { class: "lead" }, t("enrol.done_username")),
      h("p", { class: "big username", id: "enrol-username" }, username),
      h("p", {}, t("enrol.done_remember"))),
    h("button", {
      type: "button", class: "button primary", id: "enrol-sign-in", onclick: signIn,
    }, t("enrol.sign_in")));
  if (focus) {
    document.title = t("app.doc_title", { page: title.textContent });
    title.focus();
  }
}

export async function render(view, ctx) {
  const linked = ctx.params.get("code");
  if (enrolled && (!linked || normaliseCode(linked) === enrolled.code)) {
    showDone(view, ctx, enrolled.username);
    return;
  }
  enrolled = null;
  view.append(
    pageHeading(t("enrol.title")),
    h("p", { class: "lead" }, t("enrol.intro")),
    enrolForm(view, ctx),
    ctx.me ? null : h("p", { class: "aside" },
      h("a", { href: "#/login", id: "login-link", class: "text-link" }, t("enrol.have_password"))));
}
