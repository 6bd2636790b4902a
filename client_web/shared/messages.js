// #/messages: the signed-in person's conversations (an officer's inbox: a thread per
// client, with unread counts); #/messages?id=… one conversation.
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { pageHeading } from "./ui.js";
import { conversationList } from "./conversations.js";
import { renderThread } from "./thread.js";

export async function render(view, ctx) {
  const id = ctx.params.get("id");
  if (id) {
    await renderThread(view, ctx, id);
    return;
  }
  const slot = h("div", { class: "stack", id: "inbox" });
  view.append(pageHeading(t("messages.title")), slot);
  await conversationList(slot, ctx.me);
}
