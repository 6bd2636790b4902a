// Landing page for a person under supervision, on a phone: who their officer is and
// whether they can have check-ins remotely yet, and if not, why; their appointments and
// reminders; their programme group's sessions and agreement; their case network when they are a
// member of it; and their messages.
import { h } from "../shared/dom.js";
import { pageHeading, loadInto, signedInAs } from "../shared/ui.js";
import { remoteStatus, reasonOf } from "../shared/remote.js";
import { messagesCard } from "../shared/conversations.js";
import { myDataCard } from "./my_data.js";
import { remindersCard } from "../shared/appointments.js";
import { upcomingCard } from "./appointments.js";
import { myGroupsCard } from "./groups.js";
import { pushCard } from "../shared/push.js";
import { myNetworkCard } from "./network.js";

/**
 * What the client cannot do yet and why, in their words: video check-ins and writing to
 * their officer are named one by one (not only "video is unavailable"), each with the
 * server's reason when it differs from the one already given above.
 */
function unavailable(mine, t) {
  const items = [];
  if (!mine.remote.allowed) items.push(["video", t("client.unavailable_video"), null]);
  if (mine.messaging && !mine.messaging.allowed) {
    const why = reasonOf(mine.messaging, "client");
    items.push(["messages", t("client.unavailable_messages"), why && why !== reasonOf(mine.remote, "client") ? why
      : null]);
  }
  if (!items.length) return null;
  return h("div", { class: "stack", id: "unavailable" },
    h("p", { id: "unavailable-title" }, t("client.unavailable_title")),
    h("ul", { "aria-labelledby": "unavailable-title" }, items.map(([what, text, why]) =>
      h("li", { "data-unavailable": what }, text, why ? h("span", { class: "reason" }, ` ${why}`) : null))),
    h("p", { class: "hint" }, t("client.unavailable_next")));
}

export async function render(view, ctx) {
  const { me, api, t } = ctx;
  const slot = h("div", { class: "stack" });
  const messages = messagesCard(me);
  const myData = myDataCard(api, t);
  const upcoming = upcomingCard(api, t);
  const groups = myGroupsCard(api, t);
  const reminders = remindersCard(api);
  const push = pushCard(api);
  const network = myNetworkCard(ctx);
  view.append(pageHeading(t("home.greeting", { name: me.display_name })), signedInAs(me), reminders.card,
    upcoming.card, groups.card, slot, network.card, messages.card, push.card, myData.card);
  const load = async () => {
    const mine = await loadInto(slot, () => api.get("/api/my/case"), load);
    if (!mine) return;
    slot.replaceChildren(
      h("section", { class: "card", "aria-labelledby": "officer-title" },
        h("h2", { id: "officer-title" }, t("client.officer_title")),
        h("p", { class: "big", id: "officer-name" }, mine.officer.display_name)),
      h("section", { class: "card", "aria-labelledby": "remote-title" },
        h("h2", { id: "remote-title" }, t("client.remote_title")),
        remoteStatus(mine.remote, "client"),
        unavailable(mine, t),
        mine.low_digital_access ? h("p", { class: "note" }, t("client.alternatives")) : null));
  };
  await Promise.all([load(), messages.loaded, myData.loaded, upcoming.loaded, groups.loaded, reminders.loaded, push.loaded, network.loaded]);
}
