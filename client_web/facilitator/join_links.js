// A group's join links, for those who run it: choose a coming session and a participant, and
// get a one-time link that signs that participant in for that session only (for someone
// without their password at hand, or on another phone), to send them yourself.
import { h } from "../shared/dom.js";
import { loadInto, selectField } from "../shared/ui.js";
import { actionForm } from "../shared/forms.js";
import { dayAndTime } from "../shared/appointments.js";
import { sessionWhen } from "../shared/group_sessions.js";
import { shareableLink } from "../shared/share.js";

const enc = encodeURIComponent;

/** The "Join links" part of a group's panel; `participants` are its current participants. */
export function joinLinksSection(group, participants, ctx) {
  const { t, api } = ctx;
  const key = (name) => `join-link-${name}-${group.id}`;
  const slot = h("div", { class: "stack" });
  const out = h("div", { class: "stack", id: key("out"), "aria-live": "polite" });
  const section = h("section", { class: "stack", "aria-labelledby": key("title") },
    h("h4", { id: key("title") }, t("join_links.title")), h("p", { class: "hint" }, t("join_links.hint")), slot, out);
  const load = async () => {
    const data = await loadInto(slot, () => api.get(`/api/groups/${enc(group.id)}/sessions`), load);
    if (!data) return;
    const coming = data.sessions.filter((s) => s.status === "scheduled" && Date.parse(s.closes_at) > Date.now());
    if (!coming.length || !participants.length) {
      slot.replaceChildren(h("p", { class: "muted", id: key("none") }, t("join_links.none")));
      return;
    }
    const names = new Map(participants.map((p) => [p.id, p.display_name]));
    slot.replaceChildren(actionForm(key("form"), [
      selectField(key("session"), t("join_links.session"), coming.map((s) => [s.id, sessionWhen(s)])),
      selectField(key("participant"), t("join_links.participant"), participants.map((p) => [p.id, p.display_name])),
    ], t("join_links.make"), {
      body: (form) => ({ session: form.querySelector(`#${key("session")}`).value,
        participant: form.querySelector(`#${key("participant")}`).value }),
      send: (b) => api.post(`/api/group-sessions/${enc(b.session)}/participants/${enc(b.participant)}/link`),
      done: (_form, made, sent) => {
        out.replaceChildren(h("div", { class: "note", "data-join-link": sent.participant },
          h("p", {}, t("join_links.made", { name: names.get(sent.participant), until: dayAndTime(made.expires_at) })),
          ...shareableLink(made.path, key("made"))));
      },
    }));
  };
  return { section, loaded: load() };
}
