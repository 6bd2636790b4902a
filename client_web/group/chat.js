// The cohort's group conversation beside (or, on a phone, under) the video: the same thread
// as on the messages screen (shared/thread.js), as a section of the live page.
import { h } from "../shared/dom.js";
import { t } from "../shared/i18n.js";
import { renderThread } from "../shared/thread.js";

/** The group chat section; hidden when the group's conversation cannot be read. */
export function groupChat(ctx, groupId) {
  const body = h("div", { class: "stack" });
  const section = h("section", { class: "card group-chat", id: "live-chat", "aria-labelledby": "live-chat-title",
    hidden: true }, body);
  const loaded = (async () => {
    if (!groupId) return;
    let group;
    try {
      group = await ctx.api.get(`/api/groups/${encodeURIComponent(groupId)}`);
    } catch {
      return; // not a member who may read the group (e.g. an added officer): no chat here
    }
    section.hidden = false;
    const y = window.scrollY;
    await renderThread(body, ctx, group.conversation_id);
    // On a page of its own the thread scrolls to its newest message; here the video stays in view.
    setTimeout(() => window.scrollTo(0, y), 0);
    // The thread is made as a page of its own: here its heading is the section's, and the
    // way back to the inbox would leave the session.
    body.querySelectorAll(".aside").forEach((el) => el.remove());
    const heading = body.querySelector("h1");
    if (heading) {
      heading.replaceWith(h("h2", { id: "live-chat-title" }, t("live.chat")));
    }
    const log = body.querySelector("#thread");
    if (log) log.setAttribute("aria-labelledby", "live-chat-title");
  })();
  return { section, loaded };
}
