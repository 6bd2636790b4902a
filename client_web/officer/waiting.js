// "Who is waiting": the officer's live panel of check-ins with someone in the waiting room,
// fed by `lobby` frames over /ws (and GET /api/checkins on load). Opening one leads through
// the officer's own safe-space check into the call (#/checkin?c=…), where they admit the
// person. A client's "I can't talk safely now" is a stored alert, shown on every staff page
// by shared/alerts.js (not here too).
import { h } from "../shared/dom.js";
import { connectSocket } from "../shared/socket.js";
import { formatTime } from "../shared/i18n.js";

export function waitingPanel({ api, t }) {
  const waiting = new Map(); // checkin id -> {case_id, waiting: [...]}
  const list = h("ul", { class: "stack", id: "waiting-list" });
  const card = h("section", { class: "card", id: "waiting-card", "aria-labelledby": "waiting-title" },
    h("h2", { id: "waiting-title" }, t("waiting.title")), list);

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
      }
    },
  });
  window.addEventListener("hashchange", () => socket.close(), { once: true });

  const loaded = api.get("/api/checkins").then((data) => {
    for (const c of (data && data.checkins) || []) {
      if (c.state === "waiting" && !waiting.has(c.id)) {
        waiting.set(c.id, { checkin_id: c.id, case_id: c.case_id,
          waiting: [{ display_name: c.client ? c.client.display_name : t("waiting.client") }] });
      }
    }
  }).catch(() => {}).finally(draw);
  return { card, loaded };
}
