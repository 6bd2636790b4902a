// A partner agency's home (issue 16, TUKO): only the case networks they are a member of and can
// open now, each as ../shared/network_member.js shows it. Nothing else of the case.
import { h } from "../shared/dom.js";
import { pageHeading, signedInAs, loadInto } from "../shared/ui.js";
import { networkItem } from "../shared/network_member.js";

export async function render(view, ctx) {
  const { me, t, api } = ctx;
  const status = h("p", { class: "visually-hidden", role: "status", id: "partner-status" });
  const slot = h("div", { class: "stack", id: "partner-networks" });
  view.append(pageHeading(t("home.greeting", { name: me.display_name })), signedInAs(me), status,
    h("h2", {}, t("network.yours")), slot);
  const reload = async (said) => {
    const data = await loadInto(slot, () => api.get("/api/my/networks"), () => reload());
    if (!data) return;
    const items = data.networks.map((row) => networkItem(row, ctx, reload));
    slot.replaceChildren(items.length ? h("ul", { class: "plain stack" }, items.map((i) => i.item))
      : h("p", { class: "muted", id: "partner-no-networks" }, t("network.none_yours")));
    await Promise.all(items.map((i) => i.loaded));
    if (said) status.textContent = said;
  };
  await reload();
}
