// /ws with reconnect and resume (protocol: docs/protocol.md, server/web/gateway.py).
// Every (re)connect opens with a `hello` frame carrying the last `seq` seen per
// conversation, so the server replays what was missed while the phone was offline.
import { request, ApiError } from "./api.js";

// Close codes after which retrying cannot help: policy violation, not signed in, forbidden.
const FINAL_CLOSE_CODES = new Set([1008, 4001, 4401, 4403]);

/** True when the server says nobody is signed in (a refused handshake looks like a network drop). */
async function signedOut() {
  try {
    await request("GET", "/api/me");
    return false;
  } catch (err) {
    return err instanceof ApiError && err.status === 401;
  }
}

/**
 * Open /ws and keep it open. Reconnects with exponential backoff plus jitter, and at once
 * when the device comes back online.
 *   resume()         -> {conversation_id: last seq seen}, sent in every hello
 *   onOpen(socket)   after the server's `welcome`, on every (re)connect
 *   onMessage(frame, socket) for every other JSON frame
 *   onStatus(s)      "connecting" | "open" | "waiting" | "closed"
 * Gives up (status "closed", event "tandem:unauthenticated") once signed out.
 */
export function connectSocket({
  path = "/ws", resume = () => ({}), onOpen, onMessage, onStatus,
  minDelayMs = 500, maxDelayMs = 30000,
} = {}) {
  let ws = null;
  let attempt = 0;
  let timer = null;
  let stopped = false;
  const status = (s) => onStatus && onStatus(s);
  const url = () => `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`;

  const socket = {
    get connected() {
      return ws !== null && ws.readyState === WebSocket.OPEN;
    },
    send(frame) {
      if (!socket.connected) return false;
      ws.send(JSON.stringify(frame));
      return true;
    },
    close() {
      stop();
      if (ws) ws.close(1000);
    },
  };

  function stop() {
    stopped = true;
    clearTimeout(timer);
    timer = null;
    window.removeEventListener("online", reconnectNow);
    status("closed");
  }

  function open() {
    timer = null;
    status("connecting");
    const current = new WebSocket(url());
    let opened = false;
    ws = current;
    current.addEventListener("open", () => {
      opened = true;
      current.send(JSON.stringify({ type: "hello", version: 1, resume: resume() }));
    });
    current.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return; // the server only sends JSON; anything else is not ours to act on
      }
      if (frame && frame.type === "welcome") {
        attempt = 0;
        status("open");
        if (onOpen) onOpen(socket, frame);
      } else if (onMessage) onMessage(frame, socket);
    });
    current.addEventListener("close", async (event) => {
      if (ws === current) ws = null;
      if (stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code) || (!opened && await signedOut())) {
        stop();
        window.dispatchEvent(new CustomEvent("tandem:unauthenticated"));
        return;
      }
      const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** attempt);
      attempt += 1;
      status("waiting");
      timer = setTimeout(open, ceiling / 2 + Math.random() * (ceiling / 2));
    });
  }

  function reconnectNow() {
    if (stopped || timer === null) return;
    clearTimeout(timer);
    attempt = 0;
    open();
  }

  window.addEventListener("online", reconnectNow);
  open();
  return socket;
}
