// "Open a case" on the officer's caseload: a new client on the signed-in officer's own
// caseload, with their flags; the answer is the one-time enrolment link the officer gives
// the client (copied, or shared with the phone's share sheet), shown once.
import { h } from "../shared/dom.js";
import { LANGUAGES, languageName } from "../shared/i18n.js";
import { errorBox, field, selectField } from "../shared/ui.js";
import { shareableLink } from "../shared/share.js";

const INTERPRETER_LANGUAGES = ["", "ru", "uk", "ro", "ar", "so", "fa", ...LANGUAGES.filter((l) => l !== "en")];

function check(id, label) {
  return h("div", { class: "check" }, h("input", { type: "checkbox", id, name: id }), h("label", { for: id }, label));
}

/** The enrolment link, shown once, with a way to pass it on. */
function enrolmentResult(made, t) {
  return h("div", { class: "note", id: "enrolment" },
    h("p", {}, t("open_case.done")),
    shareableLink(made.enrolment_link, "enrolment"),
    h("p", { class: "hint" }, t("open_case.code_once", { code: made.enrolment_code })));
}

export function openCaseCard(ctx, onOpened) {
  const { t, api, me } = ctx;
  const result = h("div", { "aria-live": "polite", id: "open-case-result" });
  const value = (id) => document.getElementById(id).value.trim();
  const checked = (id) => document.getElementById(id).checked;
  const submit = async (event) => {
    event.preventDefault();
    const button = event.target.querySelector("button[type=submit]");
    button.disabled = true;
    result.replaceChildren();
    const body = {
      client_username: value("new-client-username"), client_display_name: value("new-client-name"),
      officer_id: me.id, domestic_violence: checked("new-client-dv"), protected_person: checked("new-client-protected"),
      low_digital_access: checked("new-client-low-digital"), interpreter_needed: Boolean(value("new-client-language")),
    };
    if (body.interpreter_needed) body.language = value("new-client-language");
    try {
      const made = await api.post("/api/cases", body);
      event.target.reset();
      result.replaceChildren(enrolmentResult(made, t));
      await onOpened(made);
    } catch (err) {
      result.replaceChildren(errorBox(err));
    } finally {
      button.disabled = false;
    }
  };
  return h("section", { class: "card", id: "open-case", "aria-labelledby": "open-case-title" },
    h("h2", { id: "open-case-title" }, t("open_case.title")),
    h("form", { class: "form", id: "open-case-form", onsubmit: submit },
      field("new-client-name", t("open_case.name"), { type: "text", required: true, maxlength: "200",
        autocomplete: "off" }),
      field("new-client-username", t("open_case.username"), { type: "text", required: true, maxlength: "64",
        pattern: "[A-Za-z0-9_.@-]+", autocomplete: "off", autocapitalize: "none", spellcheck: "false" },
      t("open_case.username_hint")),
      check("new-client-dv", t("flag.domestic_violence")),
      check("new-client-protected", t("open_case.protected_person")),
      check("new-client-low-digital", t("flag.low_digital_access")),
      selectField("new-client-language", t("open_case.interpreter"),
        INTERPRETER_LANGUAGES.map((l) => [l, l ? languageName(l) : t("open_case.no_interpreter")]), ""),
      h("button", { type: "submit", class: "button primary", id: "open-case-submit" }, t("open_case.submit"))),
    result);
}
