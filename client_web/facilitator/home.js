// Facilitator landing page: their programme groups (members by name, no case data) and the
// groups' conversations. Group sessions (video) arrive in a later change.
import { h } from "../shared/dom.js";
import { pageHeading, loadInto, greeting, signedInAs } from "../shared/ui.js";
import { messagesCard } from "../shared/conversations.js";

export async function render(view, { me, api, t }) {
  const slot = h("div", { class: "stack" });
  const messages = messagesCard(me);
  view.append(
    pageHeading(t("facilitator.title")),
    greeting(me),
    signedInAs(me),
    h("section", { class: "card", "aria-labelledby": "groups-title" },
      h("h2", { id: "groups-title" }, t("facilitator.groups")), slot),
    messages.card);
  const load = async () => {
    const data = await loadInto(slot, () => api.get("/api/groups"), load);
    if (!data) return;
    slot.replaceChildren(data.groups.length
      ? h("ul", { class: "cards", id: "groups" },
        data.groups.map((g) => h("li", { class: "card", "data-id": g.id },
          h("p", { class: "big" }, g.name),
          h("p", {}, g.programme))))
      : h("p", {}, t("facilitator.no_groups")));
  };
  await Promise.all([load(), messages.loaded]);
}
