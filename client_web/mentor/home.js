// Mentors see the names of their mentees and nothing of their cases (DESIGN: scope),
// and their mentoring conversations.
import { h } from "../shared/dom.js";
import { pageHeading, loadInto, greeting } from "../shared/ui.js";
import { messagesCard } from "../shared/conversations.js";
import { pushCard } from "../shared/push.js";

export async function render(view, { me, api, t }) {
  const slot = h("div", { class: "stack" });
  const messages = messagesCard(me);
  const push = pushCard(api);
  view.append(pageHeading(t("mentor.title")), greeting(me), slot, messages.card, push.card);
  const load = async () => {
    const data = await loadInto(slot, () => api.get("/api/mentees"), load);
    if (!data) return;
    slot.replaceChildren(data.mentees.length
      ? h("ul", { class: "cards", id: "mentees", "aria-labelledby": "page-title" },
        data.mentees.map((m) => h("li", { class: "card", "data-id": m.id },
          h("p", { class: "big" }, m.display_name))))
      : h("p", {}, t("mentor.empty")));
  };
  await Promise.all([load(), messages.loaded, push.loaded]);
}
