// One conversation: its messages (own on the right), each own message with its state
// (sending… / sent / delivered / read / not sent, with "send again"), and a box to write in.
// The same component serves clients (on a phone), officers and mentors.
import { h } from "./dom.js";
import { t, has, formatTime } from "./i18n.js";
import { ApiError } from "./api.js";
import { pageHeading, loadInto, errorBox } from "./ui.js";
import { reasonText, showsRules } from "./reasons.js";
import { messenger, MAX_BODY } from "./messaging.js";
import { conversationName, kindLabel, threadRoute } from "./conversations.js";
import { attachControls, attachmentView, parseAttachment } from "./attachments.js";

const NEAR_BOTTOM_PX = 160;

function audience(me) {
  return me.role === "client" ? "client" : "staff";
}

/** Why a message was not sent, and what to do about it: [reason, next step or null]. */
export function problemText(error, me) {
  const who = audience(me);
  const rule = error.rule_id;
  const worded = reasonText(error.reason, error.params, { who });
  if (rule && has(`messages.refused.${rule}.${who}`)) {
    const next = `messages.refused.${rule}.${who}_next`;
    return [t(`messages.refused.${rule}.${who}`), has(next) ? t(next) : null];
  }
  if (worded) return [worded, null];
  if (rule && has(`remote.refused.${rule}.${who}`)) return [t(`remote.refused.${rule}.${who}`), null];
  if (error.code === "timeout") return [t("messages.failed.timeout"), null];
  if (error.code && has(`errors.${error.code}`)) return [t(`errors.${error.code}`), null];
  return [who === "staff" && error.message ? error.message : t("messages.failed.generic"), null];
}

/**
 * In place of the box to write in, when the server says the reader may not write here yet
 * (a client before their first face-to-face meeting) or any more (an ended mentoring): why,
 * in their language, and what happens next. Nothing is offered that would only be refused.
 */
function cannotWrite(conv, me) {
  const who = audience(me);
  const why = conv.closed
    ? t("reason.messaging.closed")
    : reasonText(conv.why_not && conv.why_not.code, conv.why_not && conv.why_not.params, { who })
      || (conv.rule_id && has(`messages.refused.${conv.rule_id}.${who}`) ? t(`messages.refused.${conv.rule_id}.${who}`)
        : t("messages.cannot_write"));
  const next = !conv.closed && conv.rule_id && has(`messages.refused.${conv.rule_id}.${who}_next`)
    ? t(`messages.refused.${conv.rule_id}.${who}_next`) : null;
  const rule = showsRules() ? conv.rule_id : null;
  return h("section", { class: "card cannot-write", id: "cannot-write", "aria-labelledby": "cannot-write-title",
    "data-rule-id": rule || null },
  h("h2", { id: "cannot-write-title" }, t("messages.cannot_write_title")),
  h("p", { class: "problem-reason", id: "cannot-write-reason" }, why),
  next ? h("p", { class: "problem-next" }, next) : null,
  rule ? h("p", { class: "muted rule" }, t("remote.rule", { rule_id: rule })) : null);
}

function nearBottom() {
  const doc = document.documentElement;
  return window.innerHeight + window.scrollY >= doc.scrollHeight - NEAR_BOTTOM_PX;
}

function toBottom() {
  window.scrollTo(0, document.documentElement.scrollHeight);
}

/** One message bubble; `fill` updates it in place so the live region only announces new ones. */
let bubbles = 0;

function bubble(store) {
  const bodyId = `msg-body-${++bubbles}`;
  const sender = h("p", { class: "msg-sender" });
  const body = h("div", { class: "msg-body", id: bodyId });
  const time = h("time", { class: "msg-time" });
  const state = h("span", { class: "msg-state" });
  // Named by the button, described by the message it acts on (several may have failed).
  const retry = h("button", { type: "button", class: "button secondary msg-retry", "aria-describedby": bodyId },
    t("messages.retry"));
  const discard = h("button", { type: "button", class: "button secondary msg-discard", "aria-describedby": bodyId },
    t("messages.discard"));
  const actions = h("div", { class: "msg-actions", hidden: true }, retry, discard);
  const li = h("li", { class: "msg" }, sender, body, h("p", { class: "msg-meta" }, time, state), actions);
  retry.addEventListener("click", () => store.retry(li.dataset.sendId));
  discard.addEventListener("click", () => {
    const next = li.nextElementSibling || li.previousElementSibling;
    store.discard(li.dataset.sendId);
    const input = document.getElementById("message-input");
    if (next && next.querySelector("button:not([hidden])")) next.querySelector("button").focus();
    else if (input) input.focus();
  });
  let shown = null; // the body the bubble shows
  const set = (el, text) => { if (el.textContent !== text) el.textContent = text; };
  li.fill = (item, { twoParty, names }) => {
    const own = item.own;
    li.className = `msg ${own ? "msg-own" : "msg-other"}`;
    li.dataset.state = item.state;
    if (item.seq) li.dataset.seq = String(item.seq);
    if (item.sendId) li.dataset.sendId = item.sendId;
    set(sender, own ? t("messages.you") : names.get(item.sender_id) || t("messages.someone"));
    sender.classList.toggle("visually-hidden", twoParty);
    if (shown !== item.body) { // a photo is not fetched again on every update
      shown = item.body;
      const attachment = parseAttachment(item.body);
      if (attachment) {
        const name = names.get(item.sender_id) || t("messages.someone");
        body.replaceChildren(attachmentView(attachment, { own, name }));
      } else body.textContent = item.body;
    }
    const at = item.sent_at || item.created_at;
    if (time.getAttribute("datetime") !== at) time.setAttribute("datetime", at);
    set(time, formatTime(at));
    set(state, own ? t(`messages.state.${item.state}`) : "");
    state.hidden = !own;
    state.classList.toggle("msg-state-failed", item.state === "failed");
    actions.hidden = item.state !== "failed";
    discard.hidden = item.state !== "failed" || !item.sendId;
  };
  return li;
}

function notFound(view) {
  view.append(
    h("p", { class: "aside" }, h("a", { class: "text-link", href: "#/messages", id: "back-to-list" }, t("messages.back"))),
    pageHeading(t("messages.title")),
    h("div", { class: "error-box" }, h("p", { role: "alert" }, t("errors.not_found"))));
}

export async function renderThread(view, ctx, id) {
  const { me } = ctx;
  const store = messenger(me);
  const listed = h("div", { class: "stack" });
  view.append(listed);
  await loadInto(listed, () => store.start()); // never throws: a failed list is store.listError
  listed.remove();
  const conv = store.conversation(id);
  if (!conv) {
    if (store.listState === "error") {
      view.append(pageHeading(t("messages.title")), errorBox(store.listError, async () => {
        await store.refresh();
        ctx.navigate(threadRoute(id));
      }));
    } else notFound(view);
    return;
  }
  const members = conv.members || [];
  const names = new Map(members.map((m) => [m.id, m.display_name]));
  const twoParty = members.length <= 2;

  // Live regions stay on the page (never display: none), so what appears in them is announced.
  const conn = h("div", { class: "live", id: "conn-region", role: "status" });
  const earlier = h("button", { type: "button", class: "button secondary", id: "load-earlier", hidden: true },
    t("messages.earlier"));
  const list = h("ol", { class: "messages", id: "messages" });
  const empty = h("p", { class: "muted", id: "no-messages", hidden: true }, t("messages.no_messages"));
  const log = h("div", {
    class: "thread", id: "thread", role: "log", "aria-labelledby": "page-title", "aria-relevant": "additions",
  }, list);
  const problem = h("div", { class: "live", id: "problem-region", role: "alert" });

  const input = h("textarea", {
    id: "message-input", name: "message", rows: "3", maxlength: String(MAX_BODY),
    "aria-describedby": "composer-error", autocomplete: "off",
  });
  input.value = store.drafts.get(id) || "";
  const composerError = h("p", { class: "form-error", id: "composer-error", role: "alert" });
  const send = h("button", { type: "submit", class: "button primary send-button", id: "send-button" },
    t("messages.send"));
  const form = h("form", { class: "composer", id: "composer", novalidate: true },
    h("label", { for: "message-input" }, t("messages.input_label", { name: conversationName(conv, me) })),
    composerError, input,
    // Attachments are case data, kept under the case's keys: a programme group's
    // conversation (no one case) takes text only.
    conv.kind === "group" ? null : attachControls(id, {
      onUploaded: (carrier) => {
        store.send(id, carrier); // what is typed stays in the box, to be sent on its own
        toBottom();
      },
      explain: (error) => problemText(error, me),
    }),
    send);

  const body = h("div", { class: "stack thread-body" });
  view.append(
    h("p", { class: "aside" }, h("a", { class: "text-link", href: "#/messages", id: "back-to-list" }, t("messages.back"))),
    h("div", { class: "thread-head" },
      pageHeading(conversationName(conv, me)),
      h("p", { class: "muted conv-kind-line" }, kindLabel(conv, me))),
    body);

  const opened = await loadInto(body, () => store.open(id), () => ctx.navigate(threadRoute(id)));
  if (!opened) return;
  view.dataset.conversationId = id;

  const bubbles = new Map(); // key -> li
  let shownProblem = "";

  const items = () => {
    const { stored, pending } = store.messages(id);
    const storedIds = new Set(stored.map((m) => m.localId || m.id));
    return [
      ...stored.map((m) => {
        const own = m.sender_id === me.id;
        return {
          key: m.localId || m.id || `seq-${m.seq}`, own, seq: m.seq, sender_id: m.sender_id, body: m.body,
          sent_at: m.sent_at, sendId: own ? m.localId || m.id : null,
          state: own ? store.delivery(id, m.seq) : "received",
        };
      }),
      ...pending.filter((e) => !storedIds.has(e.id)).map((e) => ({
        key: e.id, own: true, sendId: e.id, body: e.body, created_at: e.created_at, sender_id: me.id,
        state: e.state === "failed" ? "failed" : "sending", error: e.error,
      })),
    ];
  };

  const update = () => {
    const stick = nearBottom();
    const all = items();
    const keep = new Set(all.map((item) => item.key));
    for (const [key, li] of bubbles) {
      if (!keep.has(key)) {
        li.remove();
        bubbles.delete(key);
      }
    }
    let before = list.firstElementChild;
    let added = false;
    for (const item of all) {
      let li = bubbles.get(item.key);
      if (!li) {
        li = bubble(store);
        bubbles.set(item.key, li);
        added = true;
      }
      li.fill(item, { twoParty, names });
      if (li !== before) list.insertBefore(li, before);
      else before = before.nextElementSibling;
    }
    empty.hidden = all.length > 0;
    const thread = store.thread(id);
    earlier.hidden = !(thread && thread.base > 0);

    const status = store.status;
    const connText = store.offline ? t("messages.conn.waiting") : "";
    if (conn.textContent !== connText) {
      if (connText) conn.replaceChildren(h("p", { class: "conn-status", id: "conn-status" }, connText));
      else conn.replaceChildren();
    }
    log.dataset.connection = status;

    const failed = all.filter((item) => item.state === "failed" && item.error).pop();
    const key = failed ? `${failed.key}:${failed.error.code}:${failed.error.rule_id || ""}` : "";
    if (key !== shownProblem) {
      shownProblem = key;
      if (!failed) problem.replaceChildren();
      else {
        const [reason, next] = problemText(failed.error, me);
        const rule = showsRules() ? failed.error.rule_id : null; // clients never see rule ids
        const box = h("div", { class: "send-problem", id: "send-problem", "data-rule-id": rule || null },
          h("p", { class: "problem-reason", id: "problem-reason" }, reason),
          next ? h("p", { class: "problem-next", id: "problem-next" }, next) : null,
          rule ? h("p", { class: "muted rule", id: "problem-rule" }, t("remote.rule", { rule_id: rule })) : null);
        problem.replaceChildren(box);
        if (problem.isConnected) box.scrollIntoView({ block: "nearest" });
      }
    }
    if (added && stick) toBottom();
  };

  earlier.addEventListener("click", async () => {
    const height = document.documentElement.scrollHeight;
    earlier.disabled = true;
    try {
      await store.loadEarlier(id);
      window.scrollBy(0, document.documentElement.scrollHeight - height);
    } catch (err) {
      composerError.textContent = err instanceof ApiError ? t("errors.network_error") : t("errors.generic");
    } finally {
      earlier.disabled = false;
    }
  });

  input.addEventListener("input", () => {
    store.drafts.set(id, input.value);
    if (composerError.textContent) {
      composerError.textContent = "";
      input.removeAttribute("aria-invalid");
    }
  });
  input.addEventListener("keydown", (event) => {
    // On a computer Enter sends and Shift+Enter starts a new line; on a phone Enter is a new line.
    if (event.key.toLowerCase() === "enter" && !event.shiftKey && !event.isComposing
        && window.matchMedia("(pointer: fine)").matches) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) {
      composerError.textContent = t("messages.empty_body");
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    store.send(id, text);
    input.value = "";
    store.drafts.delete(id);
    input.focus();
    toBottom();
  });

  const unsubscribe = store.subscribe(() => {
    if (!log.isConnected) unsubscribe();
    else update();
  });
  list.addEventListener("load", (event) => {
    // A photo that has just loaded grows the page: keep the newest message in view.
    if (event.target.tagName === "IMG" && window.innerHeight + window.scrollY
        >= document.documentElement.scrollHeight - NEAR_BOTTOM_PX - event.target.offsetHeight) toBottom();
  }, true);
  update(); // before the log is on the page, so screen readers do not read out the history
  const writable = conv.may_send !== false && !conv.closed;
  body.replaceChildren(conn, earlier, log, empty, problem, writable ? form : cannotWrite(conv, me));
  store.show(id, log);
  setTimeout(toBottom, 0); // after the app has moved focus to the heading
}
