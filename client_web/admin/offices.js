// The admin's offices card: the offices they administer (their own; every office for a
// cross-office administrator) and a form to open one. Only a cross-office administrator may
// open an office; an office's own admin is refused by the server (rule scope), and the page
// shows that refusal rather than guessing in advance who may.
import { h } from "../shared/dom.js";
import { loadInto, errorBox, field } from "../shared/ui.js";

export function officesCard(ctx) {
  const { t, api } = ctx;
  const slot = h("div", { class: "stack" });
  const result = h("div", { id: "new-office-result", "aria-live": "polite" });
  const load = async () => {
    const data = await loadInto(slot, () => api.get("/api/admin/offices"), load);
    if (!data) return;
    slot.replaceChildren(data.offices.length
      ? h("ul", { class: "plain", id: "offices" },
        data.offices.map((office) => h("li", { "data-office-id": office.id }, office.name)))
      : h("p", { class: "muted", id: "offices" }, t("admin.no_offices")));
  };
  const submit = async (event) => {
    event.preventDefault();
    const form = event.target;
    const button = form.querySelector("button[type=submit]");
    const name = form.querySelector("#new-office-name").value.trim();
    result.replaceChildren();
    button.disabled = true;
    try {
      await api.post("/api/admin/offices", { name });
      form.reset();
      result.replaceChildren(h("p", { role: "status", id: "new-office-done" }, t("admin.office_created", { name })));
      await load();
    } catch (err) {
      result.replaceChildren(errorBox(err));
    } finally {
      button.disabled = false;
    }
  };
  const card = h("section", { class: "card", id: "offices-card", "aria-labelledby": "offices-title" },
    h("h2", { id: "offices-title" }, t("admin.offices")), slot,
    h("h3", {}, t("admin.new_office")),
    h("form", { class: "form", id: "new-office-form", onsubmit: submit },
      field("new-office-name", t("admin.office_name"), { type: "text", required: true, maxlength: "200" },
        t("admin.new_office_hint")),
      h("button", { type: "submit", class: "button primary", id: "new-office-submit" }, t("admin.create_office"))),
    result);
  return { card, loaded: load() };
}
