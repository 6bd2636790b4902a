// Messaging state for the signed-in user, shared by every screen (home cards, inbox,
// thread) and kept while they navigate: conversations, the messages of opened threads,
// one WebSocket, and an outbox of messages not yet confirmed by the server.
//
// Nothing is lost and nothing is sent twice:
//   * every message typed goes into the outbox (localStorage, keyed by the id this client
//     chose for it) before it is sent, and leaves it only when the server acknowledges
//     that id (or echoes the message back). After a reconnect or a reload everything
//     still in the outbox is sent again with the SAME id, which the server never stores twice;
//   * the last seq held per conversation is kept in memory and in localStorage and sent
//     in every `hello`, so the server replays what was missed; a `resync` frame or a gap
//     in seq makes the thread fetch the missing range over REST.
// Protocol: docs/protocol.md.
import { api, connectSocket } from "./api.js";

export const MAX_BODY = 4000;
const PAGE = 50; // messages shown when a thread opens; earlier ones on request
const MAX_LIMIT = 200; // the server's page limit
const ACK_TIMEOUT_MS = 20000;
const MAX_FRAME_BYTES = 16 * 1024 - 64; // the server's frame limit (docs/protocol.md), with room to spare
const SETTLE_MS = 3000; // time for a resume's replay to arrive
const BURST = 10; // frames sent at once at most, then one per REFILL_MS (the server allows 10/s, bursts of 30)
const REFILL_MS = 150;
const RECEIPT_DELAY_MS = 300; // receipts for a burst of messages go out as one
const RATE_LIMIT_RETRY_MS = 5000;
const OUTBOX_KEY = "tandem.outbox.";
const SEQ_KEY = "tandem.seq.";

function load(key, fallback) {
  try {
    const raw = localStorage.getItem(key);
    const value = raw ? JSON.parse(raw) : null;
    return value && typeof value === "object" && !Array.isArray(value) ? value : fallback;
  } catch {
    return fallback; // storage disabled or damaged: start empty
  }
}

function save(key, value) {
  try {
    if (Object.keys(value).length) localStorage.setItem(key, JSON.stringify(value));
    else localStorage.removeItem(key);
  } catch {
    // storage full or disabled: kept in memory for this page only
  }
}

/** A send id that is unique without a server round trip (works outside secure contexts too). */
function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `m-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

class Messenger {
  constructor(me) {
    this.me = me;
    this.outboxKey = OUTBOX_KEY + me.id;
    this.seqKey = SEQ_KEY + me.id;
    this.conversations = new Map(); // id -> conversation as listed, kept current by frames
    this.order = []; // conversation ids in the server's order
    this.listState = "loading"; // "loading" | "ready" | "error"
    this.listError = null;
    this.threads = new Map(); // id -> {messages: Map(seq -> message), base, held, loading, ...}
    this.outbox = new Map(Object.entries(load(this.outboxKey, {}))); // send id -> entry
    this.seqs = load(this.seqKey, {}); // conversation id -> last seq held (for hello.resume)
    this.peers = new Map(); // conversation id -> {delivered, read}: highest seq others confirmed
    this.receiptsWanted = new Map(); // conversation id -> {delivered, read} to tell the others
    this.receiptsSent = new Map(); // conversation id -> {delivered, read} told on this page
    this.tokens = BURST;
    this.refilled = Date.now();
    this.drafts = new Map(); // conversation id -> text typed but not sent
    this.timers = new Map(); // send id -> ack timeout
    this.listeners = new Set();
    this.status = "connecting";
    this.everOpen = false;
    this.showing = null; // {id, element} of the thread on screen
    this.socket = null;
    this.generation = 0;
    this.stopped = false;
    this.refreshing = null;
    for (const entry of this.outbox.values()) {
      if (entry.state === "sending") entry.state = "queued"; // its page went away before an ack
    }
    this.onStorage = (event) => { if (event.key === this.outboxKey) this.syncOutbox(); };
    this.onVisible = () => this.markRead();
    this.onNetwork = () => {
      // Back online with messages still waiting for an ack: the connection that looks open
      // may have died with the signal, so start a new one rather than wait for the timeout.
      const waiting = [...this.outbox.values()].some((entry) => entry.state === "sending");
      if (navigator.onLine && waiting && this.status === "open") this.reconnect();
      this.emit();
    };
    window.addEventListener("storage", this.onStorage);
    window.addEventListener("online", this.onNetwork);
    window.addEventListener("offline", this.onNetwork);
    document.addEventListener("visibilitychange", this.onVisible);
  }

  // --- lifecycle -----------------------------------------------------------------

  /** Lists the conversations, then opens the socket; resolves when the first list is in. */
  start() {
    if (!this.started) {
      this.started = this.refresh().then(() => {
        if (!this.stopped) this.connect();
      });
    }
    return this.started;
  }

  stop() {
    this.stopped = true;
    if (this.socket) this.socket.close();
    for (const timer of this.timers.values()) clearTimeout(timer);
    clearTimeout(this.heldTimer);
    clearTimeout(this.pumpTimer);
    clearTimeout(this.receiptTimer);
    this.timers.clear();
    this.listeners.clear();
    window.removeEventListener("storage", this.onStorage);
    window.removeEventListener("online", this.onNetwork);
    window.removeEventListener("offline", this.onNetwork);
    document.removeEventListener("visibilitychange", this.onVisible);
  }

  connect() {
    const generation = ++this.generation; // a replaced socket's statuses are old news (its frames still count)
    this.socket = connectSocket({
      resume: () => this.resume(),
      maxDelayMs: 15000,
      onStatus: (status) => {
        if (generation !== this.generation) return;
        this.status = status;
        if (status !== "open") this.requeue();
        this.emit();
      },
      onOpen: () => { if (generation === this.generation) this.opened(); },
      onMessage: (frame) => this.frame(frame),
    });
  }

  /** A connection that looks open but brings no acks (a phone that lost its signal
   * mid-connection often looks like this until TCP gives up): start a new one. */
  reconnect() {
    if (this.stopped || !this.socket) return;
    const old = this.socket;
    this.generation += 1;
    this.socket = null;
    old.close();
    this.status = "waiting";
    this.requeue();
    this.connect();
  }

  /** True when the thread should say that messages wait for the connection. */
  get offline() {
    return this.status === "waiting" || (this.status === "connecting" && this.everOpen)
      || (navigator.onLine === false && this.everOpen);
  }

  /** Welcome received (first connect or reconnect): send what is waiting, catch up. */
  opened() {
    const reconnected = this.everOpen;
    this.everOpen = true;
    for (const entry of this.outbox.values()) {
      if (!entry.refused) entry.state = "queued"; // unacknowledged: sent again, same id
    }
    this.pump();
    this.markRead();
    if (reconnected) this.refresh(); // counts and new conversations from while we were away
    this.emit();
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change = {}) {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (err) {
        console.error(err);
      }
    }
  }

  // --- conversations -------------------------------------------------------------

  /** GET /api/conversations; frames that arrived meanwhile are merged, not overwritten. */
  refresh() {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        const data = await api.get("/api/conversations");
        this.order = [];
        for (const conv of data.conversations) {
          const known = this.conversations.get(conv.id);
          if (known && known.last_seq > conv.last_seq) {
            conv.last_seq = known.last_seq; // a frame newer than the list arrived meanwhile
            conv.unread = known.unread;
          }
          if (known && known.last_read_seq > conv.last_read_seq) { // our receipt crossed the list
            conv.last_read_seq = known.last_read_seq;
            conv.unread = Math.min(conv.unread, Math.max(0, conv.last_seq - known.last_read_seq));
          }
          this.conversations.set(conv.id, conv);
          this.order.push(conv.id);
          this.noteSeq(conv.id, conv.last_seq);
        }
        this.listState = "ready";
        this.listError = null;
        this.checkHeld();
      } catch (err) {
        if (this.listState !== "ready") {
          this.listState = "error";
          this.listError = err;
        }
      } finally {
        this.refreshing = null;
        this.emit();
      }
      if (this.refreshAgain && !this.stopped) {
        this.refreshAgain = false;
        await this.refresh();
      }
    })();
    return this.refreshing;
  }

  /**
   * After a (re)connect the server replays what a thread missed, and says `resync` when
   * it stops short. Should a thread still lag behind the list a little later, say so
   * (that is a server bug) and fetch the rest over REST.
   */
  checkHeld() {
    clearTimeout(this.heldTimer);
    this.heldTimer = setTimeout(() => {
      for (const [id, thread] of this.threads) {
        const conv = this.conversations.get(id);
        if (thread.base === null || thread.loading || !conv || conv.last_seq <= thread.held) continue;
        console.warn("messaging: resume left a gap", id, thread.held, conv.last_seq);
        this.catchUp(id);
      }
    }, SETTLE_MS);
  }

  list() {
    return this.order.map((id) => this.conversations.get(id));
  }

  conversation(id) {
    return this.conversations.get(id) || null;
  }

  totalUnread() {
    return this.list().reduce((sum, conv) => sum + (conv.unread || 0), 0);
  }

  /** conversation id -> last seq held, for `hello`. */
  resume() {
    const resume = { ...this.seqs };
    for (const [id, thread] of this.threads) {
      if (thread.base !== null) resume[id] = thread.held; // replay from what the thread holds
    }
    return Object.fromEntries(Object.entries(resume).slice(0, 1000));
  }

  noteSeq(id, seq) {
    const thread = this.threads.get(id);
    const held = thread && thread.base !== null ? thread.held : seq;
    if (this.seqs[id] !== held) {
      this.seqs[id] = held;
      save(this.seqKey, this.seqs);
    }
  }

  // --- threads -------------------------------------------------------------------

  thread(id) {
    return this.threads.get(id) || null;
  }

  /** Load the newest messages of a conversation (once), then keep them current. */
  async open(id) {
    await this.start();
    let thread = this.threads.get(id);
    if (!thread) {
      thread = { messages: new Map(), base: null, held: 0, loading: null, again: false, error: null };
      this.threads.set(id, thread);
    }
    if (thread.base === null) {
      const conv = this.conversations.get(id);
      const base = Math.max(0, (conv ? conv.last_seq : 0) - PAGE);
      let covered;
      try {
        covered = await this.fetchRange(id, base, Infinity);
      } catch (err) {
        thread.error = err;
        throw err;
      }
      thread.error = null;
      thread.base = base;
      thread.held = Math.max(base, covered);
      this.advance(id); // frames that arrived during the fetch may go further, or leave a gap
      this.noteSeq(id, thread.held);
    }
    return thread;
  }

  /** Messages after `after` (at most `count`) over REST, ascending; returns the last seq fetched. */
  async fetchRange(id, after, count) {
    let from = after;
    let left = count;
    for (;;) {
      const limit = Math.min(MAX_LIMIT, left);
      const data = await api.get(`/api/conversations/${encodeURIComponent(id)}/messages`
        + `?after_seq=${from}&limit=${limit}`);
      const messages = data.messages || [];
      for (const message of messages) this.store(id, { ...message, conversation_id: id });
      const complete = messages.length < limit;
      const last = messages.length ? messages[messages.length - 1].seq : from;
      const conv = this.conversations.get(id);
      if (conv && data.last_seq > conv.last_seq) conv.last_seq = data.last_seq;
      left -= messages.length;
      if (complete || left <= 0 || last <= from) return last; // everything up to it is here
      from = last;
    }
  }

  /** Fetch what the thread is missing after the seq it holds (gap, resync, reconnect). */
  catchUp(id, from = null) {
    const thread = this.threads.get(id);
    if (!thread || thread.base === null) return Promise.resolve();
    if (from !== null) thread.from = Math.min(thread.from ?? Infinity, from);
    if (thread.loading) {
      thread.again = true;
      return thread.loading;
    }
    thread.loading = (async () => {
      try {
        do {
          thread.again = false;
          const after = Math.max(thread.base, Math.min(thread.held, thread.from ?? Infinity));
          thread.from = null;
          const covered = await this.fetchRange(id, after, Infinity);
          thread.held = Math.max(thread.held, covered);
          this.advance(id);
          this.noteSeq(id, thread.held);
          thread.error = null;
        } while (thread.again && !this.stopped);
      } catch (err) {
        thread.error = err; // tried again on the next reconnect or frame
      } finally {
        thread.loading = null;
        this.markRead();
        this.emit({ conversation_id: id });
      }
    })();
    return thread.loading;
  }

  async loadEarlier(id) {
    const thread = this.threads.get(id);
    if (!thread || !thread.base) return;
    const from = Math.max(0, thread.base - PAGE);
    await this.fetchRange(id, from, thread.base - from);
    thread.base = from;
    this.emit({ conversation_id: id });
  }

  store(id, message) {
    if (message.sender_id === this.me.id && this.outbox.has(message.id)) {
      // Stored by the server, though its ack never reached this page (a dropped connection,
      // a reload): it leaves the outbox instead of being sent again.
      this.forget(message.id);
      message = { ...message, localId: message.id };
    }
    const thread = this.threads.get(id);
    if (!thread) return;
    const known = thread.messages.get(message.seq);
    thread.messages.set(message.seq, known ? { ...known, ...message, localId: known.localId } : message);
  }

  /** Move `held` over the messages that follow it; a message beyond it means a gap. */
  advance(id) {
    const thread = this.threads.get(id);
    if (!thread || thread.base === null) return;
    while (thread.messages.has(thread.held + 1)) thread.held += 1;
    const highest = Math.max(0, ...thread.messages.keys());
    if (highest > thread.held) this.catchUp(id);
  }

  /** Messages of an opened thread, oldest first, then this device's unsent ones. */
  messages(id) {
    const thread = this.threads.get(id);
    const stored = thread ? [...thread.messages.values()].sort((a, b) => a.seq - b.seq) : [];
    const pending = this.sorted([...this.outbox.values()].filter((e) => e.conversation_id === id));
    return { stored, pending };
  }

  sorted(entries) {
    return entries.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
  }

  /** "sent" | "delivered" | "read" for one of our own stored messages. */
  delivery(id, seq) {
    const peer = this.peers.get(id);
    if (peer && peer.read >= seq) return "read";
    if (peer && peer.delivered >= seq) return "delivered";
    return "sent";
  }

  /** The thread on screen: its messages are read while the page is visible. */
  show(id, element) {
    this.showing = { id, element };
    this.markRead();
  }

  isShowing(id) {
    const showing = this.showing;
    return Boolean(showing && showing.id === id && showing.element.isConnected
      && document.visibilityState === "visible");
  }

  /** Say `read` for everything the visible thread shows. */
  markRead() {
    const showing = this.showing;
    if (!showing || !this.isShowing(showing.id)) return;
    const conv = this.conversations.get(showing.id);
    const thread = this.threads.get(showing.id);
    if (!conv || !thread || !thread.messages.size) return;
    const seq = Math.max(...[...thread.messages.values()]
      .filter((m) => m.sender_id !== this.me.id).map((m) => m.seq), 0);
    if (seq > (conv.last_read_seq || 0)) {
      this.receipt(showing.id, "read", seq);
      conv.last_read_seq = seq;
    } else if (!conv.unread || thread.held < conv.last_seq) return;
    if (seq >= conv.last_seq || thread.held >= conv.last_seq) conv.unread = 0;
    this.emit({ conversation_id: showing.id });
  }

  // --- sending ---------------------------------------------------------------------
  // Frames go out paced, under the server's budget (10 frames/s, bursts of 30), so a
  // reconnect with a full outbox or a replay of many messages is never taken for flooding:
  // sends in order of writing, and receipts coalesced to the highest seq per conversation.

  send(conversationId, body) {
    const entry = {
      id: newId(), conversation_id: conversationId, body, created_at: new Date().toISOString(),
      state: "queued",
    };
    this.outbox.set(entry.id, entry);
    this.persist(entry.id);
    this.pump();
    this.emit({ conversation_id: conversationId });
    return entry;
  }

  retry(sendId) {
    const entry = this.outbox.get(sendId);
    if (!entry) return;
    entry.state = "queued";
    entry.error = null;
    entry.refused = false;
    this.persist(sendId);
    this.pump();
    this.emit({ conversation_id: entry.conversation_id });
  }

  discard(sendId) {
    const entry = this.outbox.get(sendId);
    if (!entry) return;
    this.forget(sendId);
    this.emit({ conversation_id: entry.conversation_id });
  }

  /** A token for one frame, or false when the pace is used up for now. */
  take() {
    const now = Date.now();
    this.tokens = Math.min(BURST, this.tokens + (now - this.refilled) / REFILL_MS);
    this.refilled = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  later(ms = REFILL_MS) {
    if (this.pumpTimer) return;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = null;
      this.pump();
    }, ms);
  }

  /** Send what waits, as far as the connection and the pace allow. */
  pump() {
    if (this.stopped || !this.socket || !this.socket.connected) return; // again after `welcome`
    const now = Date.now();
    for (const entry of this.sorted([...this.outbox.values()])) {
      if (entry.state !== "queued" || entry.refused) continue;
      if (entry.notBefore > now) {
        this.later(entry.notBefore - now);
        continue;
      }
      if (!this.take()) return this.later();
      this.transmit(entry);
    }
    for (const [id, wanted] of this.receiptsWanted) {
      const sent = this.receiptsSent.get(id) || { delivered: 0, read: 0 };
      const status = wanted.read > sent.read ? "read"
        : wanted.delivered > Math.max(sent.delivered, sent.read) ? "delivered" : null;
      if (status) {
        if (!this.take()) return this.later();
        if (!this.socket.send({ type: "receipt", conversation_id: id, seq: wanted[status], status })) return;
        sent[status] = wanted[status];
        this.receiptsSent.set(id, sent);
      }
      if (sent.read >= wanted.read && Math.max(sent.delivered, sent.read) >= wanted.delivered) {
        this.receiptsWanted.delete(id);
      }
    }
    return undefined;
  }

  /** Tell the other members we have received (or read) up to `seq`, soon and once. */
  receipt(id, status, seq) {
    const wanted = this.receiptsWanted.get(id) || { delivered: 0, read: 0 };
    if (seq <= wanted[status]) return;
    wanted[status] = seq;
    this.receiptsWanted.set(id, wanted);
    clearTimeout(this.receiptTimer);
    this.receiptTimer = setTimeout(() => this.pump(), RECEIPT_DELAY_MS);
  }

  transmit(entry) {
    const frame = {
      type: "send", id: entry.id, conversation_id: entry.conversation_id, body: entry.body, kind: "text",
    };
    if (new TextEncoder().encode(JSON.stringify(frame)).length > MAX_FRAME_BYTES) {
      // The server would close the connection (1009), and the resend after every reconnect
      // would close it again: refuse it here instead.
      this.refused({ ref: entry.id, code: "payload_too_large", message: "" });
      return;
    }
    if (!this.socket.send(frame)) return;
    entry.state = "sending";
    clearTimeout(this.timers.get(entry.id));
    this.timers.set(entry.id, setTimeout(() => {
      this.timers.delete(entry.id);
      if (entry.state !== "sending" || !this.outbox.has(entry.id)) return;
      entry.state = "failed"; // still sent again after the next reconnect, with the same id
      entry.error = { code: "timeout" };
      this.emit({ conversation_id: entry.conversation_id });
      if (this.status === "open") this.reconnect();
    }, ACK_TIMEOUT_MS));
  }

  /** The connection dropped: what waited for an ack waits for the next connection. */
  requeue() {
    for (const entry of this.outbox.values()) {
      if (entry.state === "sending") entry.state = "queued";
    }
  }

  persist(sendId) {
    // Read-modify-write of one entry, so two tabs of the same user do not undo each other.
    const stored = load(this.outboxKey, {});
    const entry = this.outbox.get(sendId);
    if (entry) {
      const { id, conversation_id: conv, body, created_at: created, refused, error } = entry;
      stored[sendId] = {
        id, conversation_id: conv, body, created_at: created, state: refused ? "failed" : "queued",
        refused: Boolean(refused), error: refused ? error : null,
      };
    } else delete stored[sendId];
    save(this.outboxKey, stored);
  }

  forget(sendId) {
    clearTimeout(this.timers.get(sendId));
    this.timers.delete(sendId);
    this.outbox.delete(sendId);
    this.persist(sendId);
  }

  /** Another tab changed the outbox: drop what it confirmed, show what it queued. */
  syncOutbox() {
    const stored = load(this.outboxKey, {});
    let changed = false;
    for (const id of [...this.outbox.keys()]) {
      if (!(id in stored)) {
        this.outbox.delete(id);
        clearTimeout(this.timers.get(id));
        changed = true;
      }
    }
    for (const [id, entry] of Object.entries(stored)) {
      if (!this.outbox.has(id)) {
        this.outbox.set(id, { ...entry, state: entry.refused ? "failed" : "queued" });
        changed = true;
      }
    }
    if (changed) this.emit();
  }

  // --- frames from the server ----------------------------------------------------------

  frame(frame) {
    switch (frame && frame.type) {
      case "message": return this.received(frame);
      case "ack": return this.acked(frame);
      case "receipt": return this.receiptIn(frame);
      case "resync": return this.resync(frame);
      case "error": return this.refused(frame);
      // Appointment reminders ride on the same socket; the reminders card listens for them.
      case "reminder": return void window.dispatchEvent(new CustomEvent("tandem:reminder", { detail: frame }));
      default: return undefined;
    }
  }

  received(message) {
    const id = message.conversation_id;
    const conv = this.conversations.get(id);
    const own = message.sender_id === this.me.id;
    const entry = own ? this.outbox.get(message.id) : null;
    if (entry) { // our own message, echoed (or replayed) before its ack arrived
      this.forget(message.id);
      message = { ...message, localId: entry.id };
    }
    if (!conv) {
      this.refresh(); // a conversation this page has not listed yet
      return;
    }
    if (message.seq > conv.last_seq) {
      if (!own && !this.isShowing(id)) conv.unread = (conv.unread || 0) + 1;
      if (message.seq > conv.last_seq + 1 && !this.threads.has(id)) this.refresh(); // counts may be off
      conv.last_seq = message.seq;
    }
    if (this.threads.has(id)) { // kept even while the thread's first page is loading
      this.store(id, message);
      this.advance(id);
    }
    this.noteSeq(id, conv.last_seq);
    if (!own) {
      if (this.isShowing(id)) this.markRead();
      else this.receipt(id, "delivered", message.seq);
    }
    this.emit({ conversation_id: id });
  }

  acked(ack) {
    const entry = this.outbox.get(ack.id);
    if (!entry) return; // sent by another tab; its message frame brings it here
    this.forget(ack.id);
    const message = {
      seq: ack.seq, id: ack.id, localId: ack.id, sender_id: this.me.id, kind: "text",
      body: entry.body, sent_at: ack.sent_at, conversation_id: ack.conversation_id,
    };
    const conv = this.conversations.get(ack.conversation_id);
    if (conv && ack.seq > conv.last_seq) conv.last_seq = ack.seq;
    if (this.threads.has(ack.conversation_id)) {
      this.store(ack.conversation_id, message);
      this.advance(ack.conversation_id);
    }
    this.noteSeq(ack.conversation_id, ack.seq);
    this.emit({ conversation_id: ack.conversation_id });
  }

  refused(error) {
    const entry = error.ref ? this.outbox.get(error.ref) : null;
    if (!entry) {
      console.warn("ws error", error.code, error.message, error.ref);
      if (error.ref && error.ref in this.seqs) {
        // The resume of this conversation was refused (e.g. a seq this server never had,
        // from another installation): forget it and take the server's word.
        delete this.seqs[error.ref];
        save(this.seqKey, this.seqs);
        this.refresh();
      }
      return;
    }
    clearTimeout(this.timers.get(entry.id));
    if (error.code === "rate_limited") { // not processed: the same id again a little later
      entry.state = "queued";
      entry.notBefore = Date.now() + RATE_LIMIT_RETRY_MS;
      this.later(RATE_LIMIT_RETRY_MS);
      return;
    }
    entry.state = "failed";
    entry.refused = true; // not sent again on its own: only when the person asks
    entry.error = { code: error.code, message: error.message, rule_id: error.rule_id || null,
      reason: error.reason || null, params: error.params || {} };
    this.persist(entry.id);
    this.emit({ conversation_id: entry.conversation_id, refused: entry.id });
  }

  receiptIn(receipt) {
    const id = receipt.conversation_id;
    const conv = this.conversations.get(id);
    if (receipt.user_id === this.me.id) { // read on another device or tab
      if (conv && receipt.status === "read" && receipt.seq > (conv.last_read_seq || 0)) {
        conv.last_read_seq = receipt.seq;
        if (receipt.seq >= conv.last_seq) conv.unread = 0;
      }
    } else {
      const peer = this.peers.get(id) || { delivered: 0, read: 0 };
      if (receipt.status === "read") peer.read = Math.max(peer.read, receipt.seq);
      peer.delivered = Math.max(peer.delivered, receipt.seq);
      this.peers.set(id, peer);
    }
    this.emit({ conversation_id: id });
  }

  resync(frame) {
    const id = frame.conversation_id;
    const thread = this.threads.get(id);
    if (thread && thread.base !== null) this.catchUp(id, frame.after_seq);
    this.refresh();
  }
}

let current = null;

/** The messaging state of the signed-in user (a new one when someone else signs in). */
export function messenger(me) {
  if (current && current.me.id === me.id) return current;
  if (current) current.stop();
  current = new Messenger(me);
  return current;
}

function signedOut() {
  if (current) current.stop();
  current = null;
}

window.addEventListener("tandem:signed-out", signedOut);
window.addEventListener("tandem:unauthenticated", signedOut);
