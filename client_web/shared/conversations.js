// Lists of conversations with unread counts: the inbox screen, and the "Messages" card on
// the landing pages of clients, officers and mentors. They stay current as frames arrive.
import { h } from "./dom.js";
import { t, has } from "./i18n.js";
import { errorBox, errorText } from "./ui.js";
import { messenger } from "./messaging.js";

export function threadRoute(id) {
  return `/messages?id=${encodeURIComponent(id)}`;
}

/** The other people in it, e.g. "Olli Officer"; the server's title when alone in it. */
export function conversationName(conv, me) {
  const others = (conv.members || []).filter((m) => m.id !== me.id).map((m) => m.display_name);
  return others.length ? others.join(", ") : conv.title || t("messages.untitled");
}

/** What the conversation is, from this person's side: "Your probation officer", "Client"… */
export function kindLabel(conv, me) {
  const side = me.role === "client" ? "client" : me.role === "mentor" ? "mentor" : "staff";
  const key = `messages.kind.${conv.kind}.${side}`;
  if (has(key)) return t(key);
  return has(`messages.kind.${conv.kind}`) ? t(`messages.kind.${conv.kind}`) : conv.title || "";
}

function unreadBadge(count) {
  return h("span", { class: "badge badge-unread", "data-unread": String(count), hidden: count ? null : true },
    t("messages.unread", { count }));
}

function item(conv, me) {
  const titleId = `conv-${conv.id}-name`;
  return h("li", { class: "conv", "data-conversation-id": conv.id, "data-kind": conv.kind },
    h("a", { class: "conv-link", href: `#${threadRoute(conv.id)}` },
      h("span", { class: "conv-name", id: titleId }, conversationName(conv, me)),
      h("span", { class: "conv-kind" }, kindLabel(conv, me)),
      unreadBadge(conv.unread || 0)));
}

/**
 * The signed-in person's conversations as links to their threads, kept current.
 * `slot` shows a loading line (aria-busy) until the first list arrives.
 */
export async function conversationList(slot, me, { onEmpty = "messages.empty_list" } = {}) {
  const store = messenger(me);
  let ids = "";
  let list = null;
  const draw = () => {
    if (store.listState === "error") {
      ids = "";
      list = null;
      slot.replaceChildren(errorBox(store.listError, async () => {
        await store.refresh();
        draw();
      }));
      return;
    }
    const convs = store.list();
    const now = convs.map((c) => c.id).join(" ");
    if (list && now === ids) {
      for (const conv of convs) { // same conversations: only the counts change
        const li = list.querySelector(`[data-conversation-id="${CSS.escape(conv.id)}"]`);
        const badge = li && li.querySelector(".badge-unread");
        if (badge && badge.dataset.unread !== String(conv.unread || 0)) badge.replaceWith(unreadBadge(conv.unread || 0));
      }
      return;
    }
    ids = now;
    const focused = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("[data-conversation-id]") : null;
    list = convs.length
      ? h("ul", { class: "conversations", id: "conversations" }, convs.map((conv) => item(conv, me)))
      : null;
    slot.replaceChildren(list || h("p", { id: "no-conversations" }, t(onEmpty)));
    if (focused && list) {
      const again = list.querySelector(`[data-conversation-id="${CSS.escape(focused.dataset.conversationId)}"] a`);
      if (again) again.focus();
    }
  };
  if (store.listState === "loading") {
    const busy = h("p", { class: "muted", role: "status" }, t("app.loading"));
    slot.replaceChildren(busy);
    slot.setAttribute("aria-busy", "true");
    try {
      await store.start();
    } finally {
      slot.removeAttribute("aria-busy");
    }
  } else store.start();
  draw();
  const unsubscribe = store.subscribe(() => {
    if (!slot.isConnected) unsubscribe();
    else if (store.listState !== "loading") draw();
  });
}

/** "Messages" card for a landing page: the conversations themselves (clients, mentors). */
export function messagesCard(me) {
  const slot = h("div", { class: "stack" });
  const card = h("section", { class: "card", id: "messages-card", "aria-labelledby": "messages-title" },
    h("h2", { id: "messages-title" }, t("messages.title")), slot);
  return { card, loaded: conversationList(slot, me) };
}

/** "Messages" card for an officer's landing page: unread count and the way to the inbox. */
export function inboxCard(me) {
  const store = messenger(me);
  const count = h("p", { id: "unread-total" });
  const card = h("section", { class: "card", id: "messages-card", "aria-labelledby": "messages-title" },
    h("h2", { id: "messages-title" }, t("messages.title")),
    count,
    h("p", { class: "aside" },
      h("a", { class: "text-link", href: "#/messages", id: "open-inbox" }, t("messages.open_inbox"))));
  const draw = () => {
    const total = store.totalUnread();
    if (store.listState === "error") count.textContent = errorText(store.listError);
    else if (total) count.textContent = t("messages.unread_total", { count: total });
    else count.textContent = t("messages.all_read");
    count.hidden = store.listState === "loading";
  };
  draw();
  const unsubscribe = store.subscribe(() => {
    if (!card.isConnected) unsubscribe();
    else draw();
  });
  if (store.listState === "loading") card.setAttribute("aria-busy", "true");
  const loaded = store.start().then(() => {
    card.removeAttribute("aria-busy");
    draw();
  });
  return { card, loaded };
}
