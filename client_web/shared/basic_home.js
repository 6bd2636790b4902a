// Landing page for roles without their own screen yet: interpreter.
import { pageHeading, signedInAs } from "./ui.js";

export async function render(view, { me, t }) {
  view.append(pageHeading(t("home.greeting", { name: me.display_name })), signedInAs(me));
}
