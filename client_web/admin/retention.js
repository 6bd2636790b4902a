// Retention policy for admins: a period and an action per data category, a dry run
// ("on date D this would remove N items in M buckets of K cases") before saving, the
// save as a new policy version with a reason, and the records of processing (art. 30).
import { h } from "../shared/dom.js";
import { request } from "../shared/api.js";
import { formatDate } from "../shared/i18n.js";
import { loadInto, errorBox, field } from "../shared/ui.js";

export function categoryName(t, category) {
  return t(`retention.category.${category}`);
}

function row(cat, t) {
  const id = `period-${cat.category}`;
  const action = h("select", { id: `action-${cat.category}`, name: `action-${cat.category}`,
    "aria-label": t("retention.action_of", { category: categoryName(t, cat.category) }) },
  ["shred", ...(cat.anonymisable ? ["anonymise"] : [])].map((value) =>
    h("option", { value, selected: value === cat.action }, t(`retention.action.${value}`))));
  return h("tr", { "data-category": cat.category },
    h("th", { scope: "row" }, h("label", { for: id }, categoryName(t, cat.category))),
    h("td", {}, h("input", { id, name: id, type: "number", min: "1", step: "1", inputmode: "numeric",
      value: String(cat.period_days), "data-initial": String(cat.period_days), class: "period-input" })),
    h("td", {}, action));
}

function changes(table, policy) {
  const out = {};
  for (const cat of policy.categories) {
    const days = table.querySelector(`#period-${cat.category}`).value.trim();
    const action = table.querySelector(`#action-${cat.category}`).value;
    const change = {};
    if (days !== String(cat.period_days)) change.period_days = /^\d+$/.test(days) ? Number(days) : days;
    if (action !== cat.action) change.action = action;
    if (Object.keys(change).length) out[cat.category] = change;
  }
  return out;
}

function summary(report, t) {
  return t("retention.summary", { date: formatDate(report.on), items: report.total_items,
    buckets: report.total_buckets, cases: report.cases });
}

export function retentionCard(api, t) {
  const slot = h("div", { class: "stack" });
  const card = h("section", { class: "card", id: "retention-card", "aria-labelledby": "retention-title" },
    h("h2", { id: "retention-title" }, t("retention.title")), slot);
  const load = async () => {
    const policy = await loadInto(slot, () => api.get("/api/admin/retention"), load);
    if (!policy) return;
    const table = h("table", { class: "table", id: "retention-table" },
      h("thead", {}, h("tr", {}, ["retention.category_col", "retention.period_col", "retention.action_col"]
        .map((key) => h("th", { scope: "col" }, t(key))))),
      h("tbody", {}, policy.categories.map((cat) => row(cat, t))));
    const result = h("div", { id: "retention-result", "aria-live": "polite" });
    const reason = field("retention-reason", t("retention.reason"), { type: "text", maxlength: "2000" });
    // The dry run answers for any date, so an admin can see what a sweep on a future day removes.
    const onDate = field("retention-on", t("retention.on_date"), { type: "date" });
    const run = async (save) => {
      result.replaceChildren();
      try {
        const body = { categories: changes(table, policy) };
        if (save) {
          const done = await request("PUT", "/api/admin/retention",
            { ...body, reason: reason.querySelector("input").value.trim() });
          result.replaceChildren(h("p", { role: "status", id: "retention-saved" },
            t("retention.saved", { version: done.version.version }), " ", summary(done.report, t)));
        } else {
          const day = onDate.querySelector("input").value;
          // Noon UTC names the same calendar day in every time zone the page may be shown in.
          const report = await api.post("/api/admin/retention/preview",
            day ? { ...body, on: `${day}T12:00:00Z` } : body);
          result.replaceChildren(h("p", { role: "status", id: "retention-preview" }, summary(report, t)));
        }
      } catch (err) {
        // errorBox adds the server's reason, which names the offending key
        // (categories.messages.period_days), to the translated error.
        result.replaceChildren(errorBox(err));
      }
    };
    slot.replaceChildren(
      h("p", { class: "muted" }, t("retention.intro", { version: policy.version })),
      h("div", { class: "table-wrap", role: "region", "aria-label": t("retention.table"), tabindex: "0" }, table),
      onDate,
      reason,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "button secondary", id: "retention-preview-button",
          onclick: () => run(false) }, t("retention.preview")),
        h("button", { type: "button", class: "button primary", id: "retention-save-button",
          onclick: () => run(true) }, t("retention.save"))),
      result,
      h("p", {}, h("a", { href: "/api/admin/records-of-processing", download: "records-of-processing.md",
        id: "ropa-link", class: "button secondary" }, t("retention.records_of_processing"))));
  };
  return { card, loaded: load() };
}
