// What a Web Push shows on the lock screen and where tapping it leads. Pure functions,
// imported by the service worker (/sw.js) and tested in a page.
//
// The server's payload carries a type and an id only ({"type": "new_message",
// "conversation_id": …}, {"type": "reminder", "appointment_id": …}, or a staff alert
// {"type": "staff_alert", "kind": …, "checkin_id": …}; see server/messaging/push.py and
// server/alerts/model.py). The notification shows the catalog text for that type and
// nothing else: no name, no message text, nothing of the case, because whoever holds the
// phone can read its lock screen. Tapping it opens a page of this app only, chosen here
// from the type, never a URL taken from the payload.

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const TEXT = { new_message: "push.new_message", reminder: "push.reminder", staff_alert: "push.staff_alert" };
export const HOME = "/#/home";

/** The push's data as an object, or null for anything else (no data, not JSON, not an object). */
export function parsePayload(text) {
  try {
    const data = JSON.parse(text);
    return data && typeof data === "object" && !Array.isArray(data) ? data : null;
  } catch {
    return null;
  }
}

const waitingAlert = (data) => data && data.type === "staff_alert" && data.kind === "client_waiting"
  && typeof data.checkin_id === "string" && ID.test(data.checkin_id);

/** The page a push is about: a conversation, a check-in with a client waiting, or the home page. */
export function routeFor(data) {
  if (data && data.type === "new_message" && typeof data.conversation_id === "string"
    && ID.test(data.conversation_id)) {
    return `/#/messages?id=${data.conversation_id}`;
  }
  if (waitingAlert(data)) return `/#/checkin?c=${data.checkin_id}`;
  return HOME; // other alerts are listed on every staff page (shared/alerts.js)
}

/** {title, body, tag, route} for a payload; `text(key)` looks a key up in the user's catalog. */
export function notice(data, text) {
  const type = data && Object.prototype.hasOwnProperty.call(TEXT, data.type) ? data.type : null;
  const route = routeFor(data);
  return {
    title: text("push.title"),
    body: text(waitingAlert(data) ? "push.staff_alert_waiting" : type ? TEXT[type] : "push.other"),
    // A newer notification about the same thing replaces the older one instead of stacking.
    tag: type === "new_message" && route !== HOME ? `message-${data.conversation_id}` : type || "other",
    route,
  };
}

/** The absolute URL to open for a tapped notification: a hash route of this origin, else home. */
export function clickTarget(data, origin) {
  const route = data && typeof data.route === "string" ? data.route : HOME;
  try {
    const url = new URL(route, origin);
    if (url.origin === origin && url.pathname === "/" && !url.search && url.hash.startsWith("#/")) {
      return url.href;
    }
  } catch {
    // not a URL at all: home
  }
  return new URL(HOME, origin).href;
}
