// Erasure and rectification requests (GDPR art. 16, 17), shared by the client's "my data"
// and the admin's page: the fields of a request, its body, and how a request reads.
import { h } from "./dom.js";
import { formatDate } from "./i18n.js";
import { selectField, details } from "./ui.js";
import { categoryName } from "../admin/retention.js";

/** The categories a request may name (the server's DataCategoryName; never the audit log). */
export const REQUEST_CATEGORIES = ["messages", "attachments", "checkin_records", "safe_space_answers",
  "call_quality", "group_attendance", "case_notes", "feedback_comments", "network_records"];

/** Kind, categories (checkboxes) and details, with ids prefixed by `prefix`. */
export function requestFields(prefix, t, categories = REQUEST_CATEGORIES) {
  const legendId = `${prefix}-categories-legend`;
  return [
    selectField(`${prefix}-kind`, t("datareq.kind"),
      [["erasure", t("datareq.kind.erasure")], ["rectification", t("datareq.kind.rectification")]], "erasure"),
    h("fieldset", { class: "question", id: `${prefix}-categories`, "aria-labelledby": legendId },
      h("legend", { id: legendId }, t("datareq.categories")),
      h("p", { class: "hint" }, t("datareq.categories_hint")),
      categories.map((c) => h("div", { class: "check" },
        h("input", { type: "checkbox", id: `${prefix}-cat-${c}`, name: `${prefix}-cat`, value: c }),
        h("label", { for: `${prefix}-cat-${c}` }, categoryName(t, c))))),
    h("div", { class: "field" }, h("label", { for: `${prefix}-details` }, t("datareq.details")),
      h("textarea", { id: `${prefix}-details`, name: `${prefix}-details`, required: true, maxlength: "4000",
        rows: "3" })),
  ];
}

/** The request body from a form made with requestFields. */
export function requestBody(form, prefix) {
  return {
    kind: form.querySelector(`#${prefix}-kind`).value,
    categories: [...form.querySelectorAll(`input[name=${prefix}-cat]:checked`)].map((i) => i.value),
    details: form.querySelector(`#${prefix}-details`).value.trim(),
  };
}

/** What a request asked for and where it stands. */
export function requestDetails(r, t) {
  return details([
    [t("datareq.asked_on"), formatDate(r.created_at)],
    r.categories.length ? [t("datareq.categories"), r.categories.map((c) => categoryName(t, c)).join(", ")] : null,
    [t("datareq.details"), r.details],
    [t("datareq.status"), h("span", { class: "request-status" }, t(`datareq.status.${r.status}`))],
    r.decided_at ? [t("datareq.decided_on"), formatDate(r.decided_at)] : null,
    r.decision_reason ? [t("datareq.reason"), h("span", { class: "request-reason" }, r.decision_reason)] : null,
  ]);
}

export const requestTitle = (r, t) => t(`datareq.kind.${r.kind}`);
