// The client's own view of their case network (issue 16, TUKO), on their home, only when the
// officer made them a member ("the client whenever possible and safe"; on a case with a
// victim-protection flag only once the officer recorded why it is safe, and the server says so
// by not listing it). They see what the network shares with them: the members' agencies, the
// meetings, the plan (to acknowledge, as PDF) and their own tasks; not the concerns, the views or
// the common assessment, which may name the person under threat.
import { h } from "../shared/dom.js";
import { loadInto } from "../shared/ui.js";
import { networkItem } from "../shared/network_member.js";

/** The card (hidden while the client is in no network) and a promise settled once it is shown. */
export function myNetworkCard(ctx) {
  const { api } = ctx;
  const status = h("p", { class: "visually-hidden", role: "status", id: "client-network-status" });
  const slot = h("div", { class: "stack" });
  const card = h("section", { class: "stack", id: "client-networks", hidden: true }, status, slot);
  const reload = async (said) => {
    const data = await loadInto(slot, () => api.get("/api/my/networks"), () => reload());
    if (!data) return;
    const items = data.networks.map((row) => networkItem(row, ctx, reload));
    card.hidden = !items.length;
    slot.replaceChildren(items.length ? h("ul", { class: "plain stack" }, items.map((i) => i.item)) : "");
    await Promise.all(items.map((i) => i.loaded));
    if (said) status.textContent = said;
  };
  return { card, loaded: reload() };
}
