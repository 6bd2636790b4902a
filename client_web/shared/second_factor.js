// Staff set up two-step sign-in when the server requires it (it answers every other call
// with 403 mfa_enrolment_required until then): add the key to an authenticator app, prove
// it with a code, then save the recovery codes, which are shown this once only.
//
// ctx.mfaSetup lives in the app's state, so the key and the codes survive a re-render
// (a language switch) instead of starting over with a new key.
import { h, append } from "./dom.js";
import { t } from "./i18n.js";
import { beginTotp, confirmTotp } from "./api.js";
import { errorText, pageHeading, field, loadInto } from "./ui.js";

/** "JBSWY3DPEHPK3PXP" -> "JBSW Y3DP EHPK 3PXP": easier to read out and type. */
export function groupsOfFour(secret) {
  return (String(secret).match(/.{1,4}/g) || []).join(" ");
}

function setupLink(uri) {
  // Only an otpauth: URI becomes a link (never javascript: or the like from a bad answer).
  if (typeof uri !== "string" || !uri.startsWith("otpauth://")) return null;
  return h("div", { class: "stack" },
    h("p", {}, h("a", { href: uri, id: "otpauth-link", class: "text-link" }, t("mfa_setup.open_app"))),
    h("details", { class: "more" },
      h("summary", {}, t("mfa_setup.show_uri")),
      h("p", { class: "mono uri", id: "otpauth-uri" }, uri)));
}

function codeForm(view, ctx) {
  const setup = ctx.mfaSetup;
  const alert = h("p", { class: "form-error", role: "alert", id: "mfa-setup-error" });
  const button = h("button", { type: "submit", class: "button primary" }, t("mfa_setup.submit"));
  const kept = ctx.draft && ctx.draft["totp-code"];
  const code = field("totp-code", t("mfa_setup.code"), {
    type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "7",
    spellcheck: "false", required: true, value: kept || null,
  }, t("mfa_setup.code_hint"));
  const input = code.querySelector("input");
  const form = h("form", { class: "form", novalidate: true, "aria-labelledby": "code-step" }, alert, code, button);
  const refuse = (message) => {
    alert.textContent = message;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  };
  const idleText = button.textContent;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    alert.textContent = "";
    input.removeAttribute("aria-invalid");
    const digits = input.value.replace(/\s+/g, "");
    if (!/^\d{6}$/.test(digits)) {
      refuse(t("mfa_setup.code_format"));
      return;
    }
    button.disabled = true;
    button.textContent = t("login.submitting");
    try {
      const { recovery_codes: codes } = await confirmTotp(digits);
      setup.recovery_codes = codes;
      showRecoveryCodes(view, ctx, { focus: true });
    } catch (err) {
      if (err.code === "invalid_request") refuse(t("mfa_setup.wrong_code"));
      else if (err.code === "conflict") await ctx.secondFactorDone(); // finished (or reset) elsewhere
      else alert.textContent = errorText(err);
    } finally {
      button.disabled = false;
      button.textContent = idleText;
    }
  });
  return form;
}

function showSetup(slot, view, ctx) {
  const { secret, otpauth_uri: uri } = ctx.mfaSetup;
  slot.replaceChildren(
    h("ol", { class: "steps" },
      h("li", {}, h("p", {}, t("mfa_setup.step_app"))),
      h("li", {},
        h("p", {}, t("mfa_setup.step_key", { username: ctx.me.username })),
        h("p", { class: "mono secret", id: "totp-secret" }, groupsOfFour(secret)),
        h("p", { class: "hint" }, t("mfa_setup.key_hint")),
        setupLink(uri)),
      h("li", {},
        h("p", { id: "code-step" }, t("mfa_setup.step_code")),
        codeForm(view, ctx))));
}

function showRecoveryCodes(view, ctx, { focus = false } = {}) {
  const codes = ctx.mfaSetup.recovery_codes;
  const title = pageHeading(t("mfa_setup.codes_title"));
  const copied = h("p", { class: "muted", role: "status", id: "codes-copied" });
  const canCopy = Boolean(navigator.clipboard && window.isSecureContext);
  view.replaceChildren(); // append() leaves out the copy button where copying is impossible (not "null")
  append(view, [
    title,
    h("p", { class: "lead" }, t("mfa_setup.codes_intro")),
    h("p", { class: "note" }, t("mfa_setup.codes_once")),
    h("ol", { class: "codes mono", id: "recovery-codes", "aria-label": t("mfa_setup.codes_list") },
      codes.map((code) => h("li", {}, code))),
    canCopy ? h("div", { class: "stack" },
      h("button", {
        type: "button", class: "button secondary", id: "copy-codes",
        onclick: async () => {
          try {
            await navigator.clipboard.writeText(codes.join("\n"));
            copied.textContent = t("mfa_setup.copied");
          } catch {
            copied.textContent = t("mfa_setup.copy_failed");
          }
        },
      }, t("mfa_setup.copy")),
      copied) : null,
    h("button", {
      type: "button", class: "button primary", id: "codes-saved", onclick: () => ctx.secondFactorDone(),
    }, t("mfa_setup.saved"))]);
  if (focus) {
    document.title = t("app.doc_title", { page: title.textContent });
    title.focus();
  }
}

export async function render(view, ctx) {
  const setup = ctx.mfaSetup;
  if (setup.recovery_codes) {
    showRecoveryCodes(view, ctx);
    return;
  }
  const slot = h("div", { class: "stack" });
  view.append(
    pageHeading(t("mfa_setup.title")),
    h("p", { class: "lead" }, t("mfa_setup.intro")),
    slot);
  const load = async () => {
    if (!setup.secret) {
      const begun = await loadInto(slot, async () => {
        try {
          return await beginTotp();
        } catch (err) {
          if (err.code === "conflict") return { enrolled: true }; // already set up (another tab, say)
          throw err;
        }
      }, load);
      if (!begun) return; // the slot shows the error and a retry button
      if (begun.enrolled) {
        await ctx.secondFactorDone();
        return;
      }
      Object.assign(setup, { secret: begun.secret, otpauth_uri: begun.otpauth_uri });
    }
    showSetup(slot, view, ctx);
  };
  await load();
}
