// Data subjects' requests for the admin (GDPR art. 15-17, 20): the office's erasure and
// rectification requests, each decided with a reason; a request recorded on a client's
// behalf (by letter, at the desk) by the case reference; and the export of everything held
// about a client, by the case reference. The server keeps admins to their own office and
// audits every export; its refusals are shown as they come.
import { h } from "../shared/dom.js";
import { loadInto, field, selectField, errorBox } from "../shared/ui.js";
import { actionForm } from "../shared/forms.js";
import { ApiError } from "../shared/api.js";
import { requestFields, requestBody, requestDetails, requestTitle } from "../shared/data_requests.js";

function card(id, title, ...content) {
  return h("section", { class: "card", id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title), ...content);
}

const caseRef = (form, id) => encodeURIComponent(form.querySelector(`#${id}`).value.trim());

/** One request; an open one carries the decision form (a reason, then grant or refuse). */
function requestItem(r, ctx, reload) {
  const { t, api } = ctx;
  const prefix = `decide-${r.id}`;
  let decision = "grant";
  const form = r.status === "open" ? actionForm(prefix, [
    h("div", { class: "field" }, h("label", { for: `${prefix}-reason` }, t("datareq.reason")),
      h("textarea", { id: `${prefix}-reason`, name: `${prefix}-reason`, required: true, maxlength: "2000",
        rows: "2" })),
    h("button", { type: "submit", class: "button secondary", id: `${prefix}-refuse`,
      onclick: () => { decision = "refuse"; } }, t("datareq.refuse")),
  ], t("datareq.grant"), {
    body: (f) => ({ decision, reason: f.querySelector(`#${prefix}-reason`).value.trim() }),
    send: (b) => api.post(`/api/admin/data-requests/${encodeURIComponent(r.id)}/decision`, b),
    done: () => reload(),
  }) : null;
  if (form) {
    // Enter or the primary button grants; "Refuse" says so before the same submit.
    form.querySelector(`#${prefix}-submit`).addEventListener("click", () => { decision = "grant"; });
  }
  return h("li", { "data-request-id": r.id, "data-status": r.status },
    h("h3", {}, requestTitle(r, t)),
    h("p", { class: "muted" }, t("datareq.case_ref", { case_id: r.case_id })),
    requestDetails(r, t), form);
}

function listCard(ctx) {
  const { t, api } = ctx;
  const slot = h("div", { class: "stack" });
  const load = async () => {
    const data = await loadInto(slot, () => api.get("/api/admin/data-requests"), load);
    if (!data) return;
    const sorted = [...data.requests].sort((a, b) =>
      (a.status === "open" ? 0 : 1) - (b.status === "open" ? 0 : 1) || b.created_at.localeCompare(a.created_at));
    slot.replaceChildren(sorted.length
      ? h("ul", { class: "plain stack", id: "data-requests" }, sorted.map((r) => requestItem(r, ctx, load)))
      : h("p", { class: "muted", id: "data-requests" }, t("datareq.none")));
  };
  return { el: card("data-requests-card", t("datareq.title"), h("p", { class: "muted" }, t("datareq.intro")), slot),
    load };
}

function recordCard(ctx, reloadList) {
  const { t, api } = ctx;
  const notice = h("p", { role: "status", id: "record-request-notice" });
  const form = actionForm("record-request", [
    field("record-request-case", t("datareq.case_id"), { type: "text", required: true, autocomplete: "off", maxlength: "64" }),
    ...requestFields("record-request", t),
  ], t("datareq.record"), {
    body: (f) => requestBody(f, "record-request"),
    send: (b) => api.post(`/api/cases/${caseRef(form, "record-request-case")}/data-requests`, b),
    done: async (f) => {
      f.reset();
      notice.textContent = t("datareq.recorded");
      await reloadList();
    },
  });
  return card("record-request-card", t("datareq.record_title"), h("p", { class: "muted" }, t("datareq.record_intro")),
    form, notice);
}

/** GET the export as it comes (JSON or an HTML page); a refusal arrives as an ApiError. */
async function fetchExport(caseId, format) {
  const res = await fetch(`/api/cases/${caseId}/export?format=${format}`, { credentials: "same-origin",
    cache: "no-store" });
  if (!res.ok) {
    const e = ((await res.json().catch(() => null)) || {}).error || {};
    throw new ApiError(res.status, e.code || `http_${res.status}`, e.message, e.rule_id ?? null,
      { reason: e.reason ?? null, params: e.params ?? null, field: e.field ?? null });
  }
  return res.blob();
}

function exportCard(ctx) {
  const { t } = ctx;
  const result = h("div", { id: "export-result", "aria-live": "polite" });
  let url = null;
  const submit = async (event) => {
    event.preventDefault();
    const form = event.target;
    const button = form.querySelector("button[type=submit]");
    const caseId = caseRef(form, "export-case");
    const format = form.querySelector("#export-format").value;
    button.disabled = true;
    result.replaceChildren();
    try {
      const blob = await fetchExport(caseId, format);
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(blob);
      const name = `tandem-data-${decodeURIComponent(caseId)}.${format}`;
      const link = h("a", { href: url, download: name, id: "export-link", class: "button secondary" },
        t("datareq.export_save", { name }));
      result.replaceChildren(h("p", { role: "status" }, t("datareq.exported")), h("p", {}, link));
      link.click();
    } catch (err) {
      result.replaceChildren(errorBox(err));
    } finally {
      button.disabled = false;
    }
  };
  const form = h("form", { class: "form", id: "export-form", onsubmit: submit },
    field("export-case", t("datareq.case_id"), { type: "text", required: true, autocomplete: "off", maxlength: "64" }),
    selectField("export-format", t("datareq.export_format"),
      [["html", t("datareq.export_html")], ["json", t("datareq.export_json")]], "html"),
    h("button", { type: "submit", class: "button primary", id: "export-submit" }, t("datareq.export")));
  return card("export-card", t("datareq.export_title"), h("p", { class: "muted" }, t("datareq.export_intro")),
    form, result);
}

/** The admin's data-request cards; `loaded` settles when the list has loaded. */
export function dataRequestCards(ctx) {
  const list = listCard(ctx);
  return { cards: [list.el, recordCard(ctx, list.load), exportCard(ctx)], loaded: list.load() };
}
