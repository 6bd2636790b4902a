// The admin's accounts card: create a staff account in their own office (the server puts it
// there when no office is sent), list the office's accounts a page at a time, and disable or
// re-enable one after a confirmation. Staff get no enrolment link: the admin hands them the
// username and first password, and they sign in on the usual page (then set up two-step
// sign-in when the server asks). Clients are enrolled through their case, never here.
import { h, append } from "../shared/dom.js";
import { loadInto, errorBox, field, selectField, roleName } from "../shared/ui.js";
import { LANGUAGES, languageName } from "../shared/i18n.js";
import { actionForm } from "../shared/forms.js";

const PAGE = 100; // the server's default page; it allows up to 500
const STAFF_ROLES = ["officer", "senior_officer", "facilitator", "mentor", "partner", "interpreter", "admin",
  "room_device", "evaluator"];

/** One account's row; its last cell asks (below the table) to disable or re-enable it. */
function userRow(u, ctx, officeNames, ask) {
  const { t, me } = ctx;
  const toggle = u.id === me.id ? h("span", { class: "muted" }, t("admin.you"))
    : h("button", { type: "button", class: "button secondary", "data-toggle": u.disabled ? "enable" : "disable",
      "aria-describedby": `user-${u.id}`, // which account: the row's username
      onclick: (event) => ask(u, event.currentTarget) }, t(u.disabled ? "admin.enable" : "admin.disable"));
  return h("tr", { "data-username": u.username, "data-user-id": u.id },
    h("th", { scope: "row", id: `user-${u.id}` }, u.username),
    h("td", {}, u.display_name),
    h("td", {}, roleName(u.role)),
    h("td", {}, u.office_id ? officeNames.get(u.office_id) || u.office_id : t("admin.no_office")),
    h("td", { "data-status": u.disabled ? "disabled" : "active" }, t(u.disabled ? "admin.disabled" : "admin.active")),
    h("td", { class: "row-action" }, toggle));
}

/**
 * The confirmation step, shown under the table (a phone's table scrolls sideways, so a
 * question inside it would be cut off); focus moves to it and back to the row's button.
 */
function confirmer(box, ctx, reload) {
  const { t, api } = ctx;
  return (u, opener) => {
    const enable = u.disabled;
    const error = h("div", { "aria-live": "polite" });
    const send = async () => {
      try {
        await api.post(`/api/admin/users/${encodeURIComponent(u.id)}/disabled`, { disabled: !enable });
        box.replaceChildren();
        await reload(t(enable ? "admin.enabled_done" : "admin.disabled_done", { username: u.username }));
      } catch (err) {
        error.replaceChildren(errorBox(err));
      }
    };
    const cancel = () => {
      box.replaceChildren();
      opener.focus();
    };
    box.replaceChildren(h("div", { class: "note", "data-username": u.username },
      h("p", { class: "confirm", id: "user-confirm-question" },
        t(enable ? "admin.confirm_enable" : "admin.confirm_disable", { username: u.username })),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "button primary", "data-confirm": "",
          "aria-describedby": "user-confirm-question", onclick: send }, t(enable ? "admin.enable" : "admin.disable")),
        h("button", { type: "button", class: "button secondary", "data-cancel": "", onclick: cancel },
          t("admin.keep"))),
      error));
    box.querySelector("[data-confirm]").focus();
  };
}

function usersTable(rows, ctx, officeNames, ask) {
  const { t } = ctx;
  const columns = ["admin.username", "admin.display_name", "admin.role", "admin.office", "admin.status",
    "admin.action"];
  return h("div", {
    // Scrolls sideways on a phone, so it must be focusable (keyboard scrolling) and named.
    class: "table-wrap", role: "region", "aria-label": t("admin.users_table"), tabindex: "0",
  },
  h("table", { class: "table", id: "users-table" },
    h("thead", {}, h("tr", {}, columns.map((key) => h("th", { scope: "col" }, t(key))))),
    h("tbody", {}, rows.map((u) => userRow(u, ctx, officeNames, ask)))));
}

/** The form for a new staff account; `created(username)` after the server accepts it. */
function createForm(ctx, created) {
  const { t, api } = ctx;
  const value = (form, name) => form.querySelector(`[name="${name}"]`).value;
  return actionForm("new-user-form", [
    h("p", { class: "muted" }, t("admin.new_user_hint")),
    field("new-username", t("admin.username"), { type: "text", required: true, maxlength: "64",
      autocomplete: "off", autocapitalize: "none", spellcheck: "false" }),
    field("new-display-name", t("admin.display_name"), { type: "text", required: true, maxlength: "200" }),
    selectField("new-role", t("admin.role"), STAFF_ROLES.map((role) => [role, roleName(role)]), "officer"),
    field("new-password", t("admin.first_password"), { type: "password", required: true, minlength: "10",
      maxlength: "256", autocomplete: "new-password" }, t("admin.first_password_hint")),
    selectField("new-locale", t("admin.language"), LANGUAGES.map((lang) => [lang, languageName(lang)]), "en"),
  ], t("admin.create_user"), {
    // No office_id: the server creates the account in the admin's own office.
    body: (form) => ({
      username: value(form, "new-username").trim(), display_name: value(form, "new-display-name").trim(),
      role: value(form, "new-role"), password: value(form, "new-password"), locale: value(form, "new-locale"),
    }),
    send: (b) => api.post("/api/admin/users", b),
    done: async (form, _created, sent) => {
      form.reset();
      await created(sent.username);
    },
  });
}

/** How a new staff member gets in: there is no link for staff, only the sign-in page. */
function createdNote(username, t) {
  const signIn = `${location.origin}/#/login`;
  return h("div", { class: "note", id: "new-user-done", role: "status" },
    h("p", {}, t("admin.user_created", { username })),
    h("p", {}, t("admin.how_staff_sign_in", { url: signIn })),
    h("p", {}, h("a", { class: "text-link", href: "#/login", id: "new-user-sign-in" }, signIn)));
}

export function usersCard(ctx) {
  const { t, api } = ctx;
  const slot = h("div", { class: "stack" });
  const said = h("p", { class: "visually-hidden", role: "status", id: "users-status" });
  const done = h("div", { id: "new-user-result" });
  const confirmBox = h("div", { id: "user-confirm" });
  let offset = 0;
  const load = async (message) => {
    const data = await loadInto(slot, () => Promise.all([
      api.get(`/api/admin/users?limit=${PAGE}&offset=${offset}`),
      api.get("/api/admin/offices").catch(() => ({ offices: [] })), // names are a nicety; ids will do
    ]), () => load());
    if (!data) return;
    const [{ users: rows }, { offices }] = data;
    const officeNames = new Map(offices.map((office) => [office.id, office.name]));
    const page = (delta) => { offset = Math.max(0, offset + delta); return load(); };
    const ask = confirmer(confirmBox, ctx, load);
    confirmBox.replaceChildren();
    slot.replaceChildren();
    append(slot, [
      rows.length ? usersTable(rows, ctx, officeNames, ask) : h("p", { class: "muted" }, t("admin.no_users")),
      h("p", { class: "muted", id: "users-range" },
        t("admin.users_range", { from: rows.length ? offset + 1 : offset, to: offset + rows.length })),
      offset > 0 || rows.length === PAGE ? h("div", { class: "actions" },
        offset > 0 ? h("button", { type: "button", class: "button secondary", id: "users-previous",
          onclick: () => page(-PAGE) }, t("admin.previous_page")) : null,
        rows.length === PAGE ? h("button", { type: "button", class: "button secondary", id: "users-next",
          onclick: () => page(PAGE) }, t("admin.next_page")) : null) : null]);
    said.textContent = message || "";
  };
  const created = async (username) => {
    done.replaceChildren(createdNote(username, t));
    await load();
  };
  const card = h("section", { class: "card", id: "users-card", "aria-labelledby": "users-title" },
    h("h2", { id: "users-title" }, t("admin.users")), said, slot, confirmBox,
    h("h3", { id: "new-user-title" }, t("admin.new_user")), createForm(ctx, created), done);
  return { card, loaded: load() };
}
