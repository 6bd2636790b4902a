// The admin's offices card: the offices they administer (their own; every office for a
// cross-office administrator) and a form to open one. Only a cross-office administrator may
// open an office; an office's own admin is refused by the server (rule scope), and the page
// shows that refusal rather than guessing in advance who may.
import { h } from "../shared/dom.js";
import { loadInto, field } from "../shared/ui.js";
import { actionForm } from "../shared/forms.js";

export function officesCard(ctx) {
  const { t, api } = ctx;
  const slot = h("div", { class: "stack" });
  const result = h("div", { id: "new-office-result", role: "status" });
  const load = async () => {
    const data = await loadInto(slot, () => api.get("/api/admin/offices"), load);
    if (!data) return;
    slot.replaceChildren(data.offices.length
      ? h("ul", { class: "plain", id: "offices" },
        data.offices.map((office) => h("li", { "data-office-id": office.id }, office.name)))
      : h("p", { class: "muted", id: "offices" }, t("admin.no_offices")));
  };
  const card = h("section", { class: "card", id: "offices-card", "aria-labelledby": "offices-title" },
    h("h2", { id: "offices-title" }, t("admin.offices")), slot,
    h("h3", {}, t("admin.new_office")),
    actionForm("new-office-form", [field("new-office-name", t("admin.office_name"),
      { type: "text", required: true, maxlength: "200" }, t("admin.new_office_hint"))], t("admin.create_office"), {
      body: (form) => ({ name: form.querySelector("#new-office-name").value.trim() }),
      send: (b) => api.post("/api/admin/offices", b),
      done: async (form, _created, sent) => {
        form.reset();
        result.replaceChildren(h("p", { id: "new-office-done" }, t("admin.office_created", { name: sent.name })));
        await load();
      },
    }),
    result);
  return { card, loaded: load() };
}
