// Administration landing page: who can sign in, and the policy version in force.
import { h } from "../shared/dom.js";
import { formatDate } from "../shared/i18n.js";
import { pageHeading, loadInto, greeting, roleName, details } from "../shared/ui.js";
import { retentionCard } from "./retention.js";

function usersTable(users, officeNames, t) {
  const columns = ["admin.username", "admin.display_name", "admin.role", "admin.office",
    "admin.status"];
  return h("div", {
    // Scrolls sideways on a phone, so it must be focusable (keyboard scrolling) and named.
    class: "table-wrap", role: "region", "aria-label": t("admin.users_table"), tabindex: "0",
  },
  h("table", { class: "table", id: "users-table" },
    h("thead", {}, h("tr", {}, columns.map((key) => h("th", { scope: "col" }, t(key))))),
    h("tbody", {}, users.map((u) => h("tr", { "data-username": u.username },
      h("th", { scope: "row" }, u.username),
      h("td", {}, u.display_name),
      h("td", {}, roleName(u.role)),
      h("td", {}, u.office_id ? officeNames.get(u.office_id) || u.office_id : t("admin.no_office")),
      h("td", {}, t(u.disabled ? "admin.disabled" : "admin.active")))))));
}

function policySummary(policy, t) {
  return [
    details([
      [t("admin.policy_version"), h("span", { id: "policy-version" }, String(policy.version))],
      [t("admin.policy_created"), formatDate(policy.created_at)],
      policy.author ? [t("admin.policy_author"), policy.author] : null,
      policy.reason ? [t("admin.policy_reason"), policy.reason] : null,
    ]),
    h("h3", { id: "rules-title" }, t("admin.rules")),
    h("ul", { class: "rules", "aria-labelledby": "rules-title" },
      policy.rules.map((rule) => h("li", { class: "rule-item", "data-rule-id": rule.rule_id },
        h("span", { class: "rule-title" }, rule.title),
        h("code", { class: "rule-id" }, rule.rule_id)))),
  ];
}

function section(id, title) {
  const slot = h("div", { class: "stack" });
  const el = h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), slot);
  return { el, slot };
}

export async function render(view, { me, api, t }) {
  const users = section("users-title", t("admin.users"));
  const policies = section("policies-title", t("admin.policies"));
  const retention = retentionCard(api, t);
  view.append(pageHeading(t("admin.title")), greeting(me), users.el, policies.el, retention.card);
  const loadUsers = async () => {
    const data = await loadInto(users.slot, () => Promise.all([
      api.get("/api/admin/users"),
      api.get("/api/admin/offices").catch(() => ({ offices: [] })), // names are a nicety; ids will do
    ]), loadUsers);
    if (!data) return;
    const [{ users: rows }, { offices }] = data;
    const officeNames = new Map(offices.map((office) => [office.id, office.name]));
    users.slot.replaceChildren(usersTable(rows, officeNames, t));
  };
  const loadPolicies = async () => {
    const data = await loadInto(policies.slot, () => api.get("/api/policies"), loadPolicies);
    if (data) policies.slot.replaceChildren(...policySummary(data, t));
  };
  await Promise.all([loadUsers(), loadPolicies(), retention.loaded]);
}
