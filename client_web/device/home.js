// The room device's screen (#/device, then its landing page): a meeting-room PC that joins
// group sessions as the room. Not signed in, it asks for a pairing and shows the short code
// large (as TVs do) while polling its claim; an admin or senior officer enters the code on
// the Rooms screen, and the claim signs the device in. The claim's secret lives only in this
// module's memory (nothing is written to localStorage or sessionStorage; a reload starts a
// new pairing). Signed in, it shows its room's current or next session with a large Join.
// Nothing personal is shown or kept: the sessions' group names and times only.
import { h } from "../shared/dom.js";
import { setCsrfToken } from "../shared/api.js";
import { pageHeading, loadInto, errorBox } from "../shared/ui.js";
import { sessionWhen } from "../shared/group_sessions.js";
import { timeOnly } from "../shared/appointments.js";

const CLAIM_EVERY_MS = 3000;
const REFRESH_EVERY_MS = 30000;

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** "ABC 234": easier to read across a room and to type. */
function spaced(code) {
  return `${code.slice(0, 3)} ${code.slice(3)}`;
}

async function pairing(view, ctx) {
  const { api, t } = ctx;
  const slot = h("div", { class: "stack device-pairing" });
  view.append(pageHeading(t("room_device.pair_title")), slot);
  let failures = 0;
  while (view.isConnected) {
    const started = await loadInto(slot, () => api.post("/api/room-devices/pairing"), () => {
      view.replaceChildren();
      pairing(view, ctx);
    });
    if (!started) return;
    const secret = started.secret; // page memory only
    slot.replaceChildren(
      h("p", { class: "lead" }, t("room_device.pair_intro")),
      h("p", { class: "muted", id: "pairing-code-label" }, t("room_device.code_label")),
      h("p", { class: "pairing-code", id: "pairing-code", "data-code": started.code }, spaced(started.code)),
      h("p", { class: "muted", id: "pairing-expires" }, t("room_device.code_expires", { time: timeOnly(started.expires_at) })),
      h("p", { class: "visually-hidden", role: "status", id: "pairing-status" }));
    const expires = Date.parse(started.expires_at);
    while (view.isConnected && Date.now() < expires) {
      await sleep(CLAIM_EVERY_MS);
      if (!view.isConnected) return;
      let claimed;
      try {
        claimed = await api.post("/api/room-devices/claim", { device_id: started.device_id, secret });
        failures = 0;
      } catch (err) {
        failures += 1;
        if (failures >= 5 || err.status === 404) {
          slot.append(errorBox(err));
          break; // a new code below
        }
        continue;
      }
      if (claimed.paired) {
        setCsrfToken(claimed.csrf_token);
        await ctx.signedIn({ user: claimed.user, csrf_token: claimed.csrf_token });
        return;
      }
    }
    if (!view.isConnected) return;
    slot.replaceChildren();
  }
}

function sessionCard(s, t, now) {
  const open = Date.parse(s.opens_at) <= now && now < Date.parse(s.closes_at);
  const titleId = `device-session-${s.id}`;
  return h("section", { class: "card device-session", "data-session-id": s.id, "aria-labelledby": titleId },
    h("h2", { id: titleId }, Date.parse(s.starts_at) <= now ? t("room_device.now") : t("room_device.next")),
    h("p", { class: "big" }, s.group_name),
    h("p", {}, s.programme),
    h("p", { class: "lead" }, sessionWhen(s)),
    open
      ? h("a", { class: "button primary big-button", id: "device-join", href: `#/group-sessions/${encodeURIComponent(s.id)}/live`,
        "aria-describedby": titleId }, t("room_device.join"))
      : h("p", { class: "muted", id: "device-opens" }, t("room_device.opens_at", { time: timeOnly(s.opens_at) })));
}

function showRoom(slot, heading, data, t) {
  heading.textContent = data.room_name;
  const now = Date.now();
  const current = data.sessions.find((s) => Date.parse(s.closes_at) > now);
  slot.replaceChildren(
    h("p", { class: "muted", id: "device-name" }, t("room_device.signed_in_as", { name: data.device_name })),
    current ? sessionCard(current, t, now) : h("p", { class: "lead", id: "device-none" }, t("room_device.no_session")));
}

async function room(view, ctx) {
  const { api, t } = ctx;
  const heading = pageHeading(t("room_device.title"));
  const slot = h("div", { class: "stack" });
  view.append(heading, slot);
  const data = await loadInto(slot, () => api.get("/api/room-device"), () => {
    view.replaceChildren();
    room(view, ctx);
  });
  if (!data) return;
  showRoom(slot, heading, data, t);
  (async () => { // the next session comes up by itself; a failed refresh keeps what is shown
    while (view.isConnected) {
      await sleep(REFRESH_EVERY_MS);
      if (!view.isConnected) return;
      try {
        showRoom(slot, heading, await api.get("/api/room-device"), t);
      } catch (err) {
        if (err.status === 401) window.dispatchEvent(new CustomEvent("tandem:unauthenticated", { detail: { code: err.code } }));
      }
    }
  })();
}

export async function render(view, ctx) {
  if (ctx.me && ctx.me.role === "room_device") await room(view, ctx);
  else pairing(view, ctx); // runs while the screen is shown
}
