// Sign-in screen: username + password, then a TOTP code when the server asks for one.
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { login, verifyTotp } from "./api.js";
import { errorText, pageHeading, field } from "./ui.js";

/** Wires submit: validates, shows progress on the button, announces errors. */
function onSubmit(form, button, alert, busyText, action, describe = errorText) {
  const idleText = button.textContent;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    alert.textContent = "";
    const inputs = [...form.querySelectorAll("input[required]")];
    inputs.forEach((input) => input.removeAttribute("aria-invalid"));
    const empty = inputs.filter((input) => !input.value.trim());
    if (empty.length) {
      empty.forEach((input) => input.setAttribute("aria-invalid", "true"));
      alert.textContent = t("login.missing_fields");
      empty[0].focus();
      return;
    }
    button.disabled = true;
    button.textContent = busyText;
    try {
      await action();
    } catch (err) {
      alert.textContent = describe(err);
      if (err.code === "invalid_credentials") {
        inputs.forEach((input) => input.setAttribute("aria-invalid", "true"));
      }
    } finally {
      button.disabled = false;
      button.textContent = idleText;
    }
  });
}

function passwordForm(ctx, showTotp) {
  const alert = h("p", { class: "form-error", role: "alert", id: "login-error" },
    ctx.notice ? t(ctx.notice) : "");
  const button = h("button", { type: "submit", class: "button primary" }, t("login.submit"));
  const password = field("password", t("login.password"), {
    type: "password", autocomplete: "current-password", required: true,
  });
  const input = password.querySelector("input");
  const toggle = h("input", { type: "checkbox", id: "show-password" });
  toggle.addEventListener("change", () => { input.type = toggle.checked ? "text" : "password"; });
  const form = h("form", { class: "form", novalidate: true, "aria-labelledby": "page-title" },
    alert,
    field("username", t("login.username"), {
      type: "text", autocomplete: "username", autocapitalize: "none", spellcheck: "false",
      required: true, value: ctx.draft ? ctx.draft.username : null,
    }),
    password,
    h("div", { class: "check" }, toggle, h("label", { for: "show-password" }, t("login.show_password"))),
    button);
  onSubmit(form, button, alert, t("login.submitting"), async () => {
    const session = await login(form.username.value.trim(), input.value);
    if (session.mfa_required) showTotp();
    else await ctx.signedIn(session);
  });
  return form;
}

function totpForm(ctx, notice = null) {
  const alert = h("p", { class: "form-error", role: "alert", id: "login-error" }, notice ? t(notice) : "");
  const button = h("button", { type: "submit", class: "button primary" }, t("login.totp_submit"));
  const form = h("form", { class: "form", novalidate: true, "aria-labelledby": "page-title" },
    alert,
    field("totp", t("login.totp_label"), {
      // Not inputmode=numeric: recovery codes contain letters.
      type: "text", autocomplete: "one-time-code", maxlength: "64", autocapitalize: "none",
      spellcheck: "false", required: true,
    }, t("login.totp_hint")),
    button,
    h("button", { type: "button", class: "button secondary", id: "totp-cancel", onclick: ctx.logout },
      t("login.totp_cancel")));
  onSubmit(form, button, alert, t("login.submitting"), async () => {
    const session = await verifyTotp(form.totp.value.replace(/\s+/g, "").toLowerCase());
    await ctx.signedIn(session);
  }, (err) => (err.code === "invalid_credentials" ? t("errors.invalid_totp") : errorText(err)));
  return form;
}

export async function render(view, ctx) {
  const showTotp = () => {
    ctx.mfaStarted();
    view.replaceChildren(pageHeading(t("login.totp_title")), totpForm(ctx));
    document.title = t("app.doc_title", { page: t("login.totp_title") });
    view.querySelector("#totp").focus();
  };
  if (ctx.mfaPending) {
    view.append(pageHeading(t("login.totp_title")), totpForm(ctx, ctx.notice));
    return;
  }
  view.append(
    pageHeading(t("login.title")),
    h("p", { class: "lead" }, t("login.intro")),
    passwordForm(ctx, showTotp),
    // New clients get a one-time code from their officer and choose a password with it.
    h("p", { class: "aside" },
      h("a", { href: "#/enrol", id: "enrol-link", class: "text-link" }, t("login.enrol_link"))));
}
