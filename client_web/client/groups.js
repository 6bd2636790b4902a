// A participant's programme groups, on a phone: each group's coming sessions (when, and
// which are off) and its confidentiality agreement, which they read and accept before their
// first session; once accepted it says so. The card stays hidden for a client in no group.
// Each coming session can be added to a calendar (.ics); joining is offered in the
// appointments card while a session's join window is open (client/appointments.js).
import { h } from "../shared/dom.js";
import { loadInto, errorBox } from "../shared/ui.js";
import { sessionWhen, sessionBadges, calendarLinks } from "../shared/group_sessions.js";

const enc = encodeURIComponent;

function agreementPart(group, agreement, api, t, reload) {
  const key = (name) => `my-agreement-${name}-${group.id}`;
  if (!agreement.text) return null;
  if (agreement.accepted) {
    return h("p", { class: "note", id: key("accepted") }, t("my_groups.accepted"));
  }
  const error = h("div", { "aria-live": "polite" });
  const titleId = key("title");
  const accept = async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    error.replaceChildren();
    try {
      await api.post(`/api/groups/${enc(group.id)}/agreement/acceptance`, { version: agreement.version });
      await reload(t("my_groups.accepted"));
    } catch (err) {
      error.replaceChildren(errorBox(err));
      button.disabled = false;
    }
  };
  return h("div", { class: "stack", id: key("box") },
    h("h4", { id: titleId }, t("my_groups.agreement_title")),
    h("p", { class: "agreement-text", id: key("text") }, agreement.text),
    h("p", { class: "hint" }, t("my_groups.agreement_hint")),
    h("button", { type: "button", class: "button primary big-button", id: key("accept"),
      "aria-describedby": titleId, onclick: accept }, t("my_groups.accept")),
    error);
}

function groupItem(group, sessions, agreement, api, t, reload) {
  const titleId = `my-group-${group.id}-title`;
  const coming = sessions.filter((s) => Date.parse(s.ends_at) > Date.now());
  const firstOfSeries = new Set(); // a series' .ics is offered once, on its first coming session
  const seriesLink = (s) => !!s.series_id && !firstOfSeries.has(s.series_id) && !!firstOfSeries.add(s.series_id);
  return h("li", { class: "card", "data-group-id": group.id },
    h("h3", { id: titleId }, group.name),
    h("p", {}, group.programme),
    agreementPart(group, agreement, api, t, reload),
    h("h4", {}, t("my_groups.sessions")),
    coming.length
      ? h("ul", { class: "plain", id: `my-sessions-${group.id}` }, coming.map((s) =>
        h("li", { "data-session-id": s.id, "data-status": s.status }, h("p", {}, sessionWhen(s)), sessionBadges(s, t),
          s.status === "scheduled" ? calendarLinks(s, t, seriesLink(s)) : null)))
      : h("p", { class: "muted", id: `my-sessions-${group.id}` }, t("my_groups.no_sessions")));
}

/** "Your group" card; resolves when the first list is in. */
export function myGroupsCard(api, t) {
  const slot = h("div", { class: "stack" });
  const said = h("p", { class: "visually-hidden", role: "status", id: "my-groups-status" });
  const card = h("section", { class: "card", id: "my-groups-card", "aria-labelledby": "my-groups-title", hidden: true },
    h("h2", { id: "my-groups-title" }, t("my_groups.title")), said, slot);
  const load = async (message) => {
    const data = await loadInto(slot, async () => {
      const { groups } = await api.get("/api/groups");
      return Promise.all(groups.map(async (g) => {
        const [sessions, agreement] = await Promise.all([api.get(`/api/groups/${enc(g.id)}/sessions`),
          api.get(`/api/groups/${enc(g.id)}/agreement`)]);
        return { group: g, sessions: sessions.sessions, agreement };
      }));
    }, () => load());
    if (data && !data.length) {
      card.hidden = true;
      return;
    }
    card.hidden = false;
    if (!data) return;
    slot.replaceChildren(h("ul", { class: "cards", id: "my-groups" },
      data.map((x) => groupItem(x.group, x.sessions, x.agreement, api, t, load))));
    said.textContent = message || "";
  };
  return { card, loaded: load() };
}
