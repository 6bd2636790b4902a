// A facilitator's programme groups: open a group (cohort), and for each group its members by
// name with what the API allows on them: enrol a participant through their case (the case
// reference comes with the officer's referral; facilitators see no case data), add a
// co-facilitator of the office, and withdraw a member (asked once more). Opening a group's
// members is a read the server audits, so it happens only when asked for. Under the members,
// the group's sessions, agreement and registers (sessions.js); with the participants, their
// one-time join links to a session (join_links.js).
import { h, append } from "../shared/dom.js";
import { loadInto, errorBox, field, selectField } from "../shared/ui.js";
import { actionForm } from "../shared/forms.js";
import { sessionsSection } from "./sessions.js";
import { joinLinksSection } from "./join_links.js";


function memberItem(group, m, ctx, reload) {
  const { t, api, me } = ctx;
  const li = h("li", { "data-user-id": m.id, "data-role": m.role });
  const error = h("div", { "aria-live": "polite" });
  const withdraw = async () => {
    try {
      await api.del(`/api/groups/${encodeURIComponent(group.id)}/members/${encodeURIComponent(m.id)}`);
      await reload(t("groups.withdrawn", { name: m.display_name }));
    } catch (err) {
      error.replaceChildren(errorBox(err));
    }
  };
  const idle = () => {
    li.replaceChildren();
    const nameId = `member-${group.id}-${m.id}`;
    append(li, [h("span", { class: "name", id: nameId }, m.display_name),
      m.id === me.id ? h("span", { class: "muted" }, ` · ${t("groups.you")}`)
        : h("button", { type: "button", class: "button secondary", "data-withdraw": m.id,
          "aria-describedby": nameId, onclick: ask }, t("groups.withdraw")),
      error]);
  };
  const ask = () => {
    const question = `withdraw-${group.id}-${m.id}`;
    li.replaceChildren(h("p", { class: "confirm", id: question }, t("groups.confirm_withdraw", { name: m.display_name })),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "button primary", "data-confirm-withdraw": "",
          "aria-describedby": question, onclick: withdraw }, t("groups.withdraw")),
        h("button", { type: "button", class: "button secondary",
          onclick: () => { idle(); li.querySelector("button")?.focus(); } }, t("groups.keep"))), error);
    li.querySelector("[data-confirm-withdraw]").focus();
  };
  idle();
  return li;
}

const NAMINGS = ["first_name", "initials"];

/** One group's members and forms, loaded into `slot`. */
async function showGroup(slot, summary, ctx) {
  const { t, api } = ctx;
  const said = h("p", { class: "visually-hidden", role: "status", id: `group-status-${summary.id}` });
  const content = h("div", { class: "stack" });
  const sessions = sessionsSection(summary, ctx);
  slot.replaceChildren(said, content, sessions.section);
  const reload = async (message) => {
    const group = await loadInto(content, () => api.get(`/api/groups/${encodeURIComponent(summary.id)}`), () => reload());
    if (!group) return;
    const key = (name) => `${name}-${group.id}`;
    const participants = group.members.filter((m) => m.role === "participant");
    const facilitators = group.members.filter((m) => m.role !== "participant");
    const list = (id, members, empty) => (members.length
      ? h("ul", { class: "plain members", id }, members.map((m) => memberItem(group, m, ctx, reload)))
      : h("p", { class: "muted", id }, empty));
    content.replaceChildren();
    append(content, [
      h("h4", {}, t("groups.facilitators")), list(key("facilitators"), facilitators, t("groups.no_facilitators")),
      h("h4", {}, t("groups.participants")), list(key("participants"), participants, t("groups.no_participants")),
      joinLinksSection(group, participants, ctx).section,
      h("h4", {}, t("groups.add_participant")),
      actionForm(key("enrol"), [field(key("case-ref"), t("groups.case_reference"),
        { type: "text", required: true, maxlength: "64", autocomplete: "off", autocapitalize: "none",
          spellcheck: "false", "data-case-reference": "" }, t("groups.case_reference_hint"))],
      t("groups.enrol"), {
        body: (form) => ({ case_id: form.querySelector("[data-case-reference]").value.trim() }),
        send: (b) => api.post(`/api/groups/${encodeURIComponent(group.id)}/participants`, b),
        done: () => reload(t("groups.enrolled")),
      }),
      h("h4", {}, t("groups.add_facilitator")),
      group.colleagues.length
        ? actionForm(key("cofac"), [selectField(key("colleague"), t("groups.choose_facilitator"),
          group.colleagues.map((c) => [c.id, c.display_name]))], t("groups.add"), {
          body: (form) => ({ user_id: form.querySelector("select").value }),
          send: (b) => api.post(`/api/groups/${encodeURIComponent(group.id)}/facilitators`, b),
          done: () => reload(t("groups.facilitator_added")),
        })
        : h("p", { class: "muted" }, t("groups.no_colleagues")),
      // How participants see one another in the group (staff always see full names).
      h("h4", {}, t("groups.member_names")),
      actionForm(key("names"), [selectField(key("naming"), t("groups.member_names_label"),
        NAMINGS.map((n) => [n, t(`groups.member_names.${n}`)]), group.member_names || "first_name")],
      t("groups.save"), {
        body: (form) => ({ member_names: form.querySelector("select").value }),
        send: (b) => api.put(`/api/groups/${encodeURIComponent(group.id)}/member-names`, b),
        done: () => reload(t("groups.member_names_saved")),
      })]);
    said.textContent = message || "";
  };
  await Promise.all([reload(), sessions.loaded]);
}

function groupItem(g, ctx) {
  const { t } = ctx;
  const panelId = `group-panel-${g.id}`;
  const panel = h("div", { class: "stack", id: panelId, hidden: true });
  const toggle = h("button", { type: "button", class: "button secondary", "data-open-group": g.id,
    "aria-expanded": "false", "aria-controls": panelId }, t("groups.manage"));
  toggle.addEventListener("click", async () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    panel.hidden = !open;
    if (open) await showGroup(panel, g, ctx);
    else panel.replaceChildren();
  });
  return h("li", { class: "card", "data-id": g.id },
    h("h3", { class: "big" }, g.name), h("p", {}, g.programme), toggle, panel);
}

export function groupsCard(ctx) {
  const { t, api } = ctx;
  const slot = h("div", { class: "stack" });
  const said = h("p", { class: "visually-hidden", role: "status", id: "groups-status" });
  const load = async (message) => {
    const data = await loadInto(slot, () => api.get("/api/groups"), () => load());
    if (!data) return;
    slot.replaceChildren(data.groups.length
      ? h("ul", { class: "cards", id: "groups" }, data.groups.map((g) => groupItem(g, ctx)))
      : h("p", {}, t("facilitator.no_groups")));
    said.textContent = message || "";
  };
  const create = actionForm("new-group-form", [
    field("new-group-name", t("groups.name"), { type: "text", required: true, maxlength: "200" }),
    field("new-group-programme", t("groups.programme"), { type: "text", required: true, maxlength: "200" }),
  ], t("groups.create"), {
    body: (form) => ({ name: form.querySelector("#new-group-name").value.trim(),
      programme: form.querySelector("#new-group-programme").value.trim() }),
    send: (b) => api.post("/api/groups", b),
    done: async (form, _created, sent) => {
      form.reset();
      await load(t("groups.created", { name: sent.name }));
    },
  });
  const card = h("section", { class: "card", "aria-labelledby": "groups-title" },
    h("h2", { id: "groups-title" }, t("facilitator.groups")), said, slot,
    h("h3", {}, t("groups.new")), create);
  return { card, loaded: load() };
}
