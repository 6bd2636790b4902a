// Facilitator landing page. Group sessions arrive in a later change; for now it
// confirms who is signed in.
import { h } from "../shared/dom.js";
import { pageHeading, greeting, signedInAs } from "../shared/ui.js";

export async function render(view, { me, t }) {
  view.append(
    pageHeading(t("facilitator.title")),
    greeting(me),
    signedInAs(me),
    h("section", { class: "card", "aria-labelledby": "sessions-title" },
      h("h2", { id: "sessions-title" }, t("facilitator.sessions")),
      h("p", {}, t("facilitator.no_sessions"))));
}
