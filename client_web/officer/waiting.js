// "Who is waiting": the officer's live panel of check-ins with someone in the waiting room,
// fed by `lobby` frames over /ws (and GET /api/checkins on load), and the quiet alerts a
// client's "I can't talk safely now" sends. Opening one leads through the officer's own
// safe-space check into the call (#/checkin?c=…), where they admit the person.
import { h } from "../shared/dom.js";
import { connectSocket } from "../shared/socket.js";
import { formatTime } from "../shared/i18n.js";

export function waitingPanel({ api, t }) {
  const waiting = new Map(); // checkin id -> {case_id, waiting: [...]}
  const clients = new Map(); // checkin id -> the client's name (GET /api/checkins), for alerts
  const list = h("ul", { class: "stack", id: "waiting-list" });
  const alerts = h("ul", { class: "stack", id: "checkin-alerts", "aria-live": "polite" });
  const card = h("section", { class: "card", id: "waiting-card", "aria-labelledby": "waiting-title" },
    h("h2", { id: "waiting-title" }, t("waiting.title")), list, alerts);

  function draw() {
    const rows = [...waiting.entries()].filter(([, lobby]) => lobby.waiting.length);
    list.replaceChildren(...(rows.length ? rows.map(([checkinId, lobby]) =>
      h("li", { class: "row waiting", "data-checkin": checkinId },
        h("span", { class: "big" }, lobby.waiting.map((w) => w.display_name).join(", ")), " ",
        lobby.waiting[0].since
          ? h("span", { class: "muted" }, t("waiting.since", { time: formatTime(lobby.waiting[0].since) })) : null, " ",
        h("a", { class: "button primary", href: `#/checkin?c=${encodeURIComponent(checkinId)}`, id: `open-${checkinId}` },
          t("waiting.open"))))
      : [h("li", { class: "muted", id: "waiting-nobody" }, t("waiting.nobody"))]));
  }

  const socket = connectSocket({
    onMessage(frame) {
      if (frame.type === "lobby") {
        waiting.set(frame.checkin_id, frame);
        draw();
      } else if (frame.type === "checkin_alert") {
        const key = frame.kind === "cant_talk_safely" ? "waiting.alert_cant_talk" : "waiting.alert_safe_space";
        const name = clients.get(frame.checkin_id);
        alerts.append(h("li", { class: "note", "data-checkin": frame.checkin_id },
          t(name ? `${key}_named` : key, { time: formatTime(frame.at), name })));
      }
    },
  });
  window.addEventListener("hashchange", () => socket.close(), { once: true });

  const loaded = api.get("/api/checkins").then((data) => {
    for (const c of (data && data.checkins) || []) {
      if (c.client) clients.set(c.id, c.client.display_name);
      if (c.state === "waiting" && !waiting.has(c.id)) {
        waiting.set(c.id, { checkin_id: c.id, case_id: c.case_id,
          waiting: [{ display_name: c.client ? c.client.display_name : t("waiting.client") }] });
      }
    }
  }).catch(() => {}).finally(draw);
  return { card, loaded };
}
