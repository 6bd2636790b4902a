// Administration landing page: the office's accounts (create, page through, disable and
// re-enable), its offices, the policy in force (each rule changed from its own form) and its
// versions, the retention policy and the receipts of its runs; data subjects' requests and exports.
import { h } from "../shared/dom.js";
import { formatDate } from "../shared/i18n.js";
import { pageHeading, loadInto, greeting, details } from "../shared/ui.js";
import { retentionCard } from "./retention.js";
import { usersCard } from "./users.js";
import { officesCard } from "./offices.js";
import { historyCards } from "./history.js";
import { dataRequestCards } from "./data_requests.js";
import { policyForm } from "./policy_form.js";

/** A rule's name, id and "Change", which opens the form that edits its config. */
function ruleItem(rule, ctx, changed) {
  const { t } = ctx;
  const slot = h("div", { class: "stack" });
  const titleId = `rule-${rule.rule_id}-title`;
  const close = () => { slot.replaceChildren(); opener.focus(); };
  const opener = h("button", { type: "button", class: "button secondary", "data-change-rule": rule.rule_id,
    "aria-describedby": titleId, onclick: () => {
      slot.replaceChildren(policyForm(rule, ctx, changed, close));
      slot.querySelector("form").elements[0].focus();
    } }, t("admin.policy_change"));
  return h("li", { class: "rule-item", "data-rule-id": rule.rule_id },
    h("span", { class: "rule-title", id: titleId }, rule.title),
    h("code", { class: "rule-id" }, rule.rule_id), opener, slot);
}

function policySummary(policy, ctx, changed) {
  const { t } = ctx;
  return [
    details([
      [t("admin.policy_version"), h("span", { id: "policy-version" }, String(policy.version))],
      [t("admin.policy_created"), formatDate(policy.created_at)],
      policy.author ? [t("admin.policy_author"), policy.author] : null,
      policy.reason ? [t("admin.policy_reason"), policy.reason] : null,
    ]),
    h("h3", { id: "rules-title" }, t("admin.rules")),
    h("ul", { class: "rules", "aria-labelledby": "rules-title" },
      policy.rules.map((rule) => ruleItem(rule, ctx, changed))),
  ];
}

export async function render(view, ctx) {
  const { me, api, t } = ctx;
  const users = usersCard(ctx);
  const offices = officesCard(ctx);
  const slot = h("div", { class: "stack" });
  const status = h("p", { role: "status", id: "policy-status" });
  const policies = h("section", { class: "card", "aria-labelledby": "policies-title" },
    h("h2", { id: "policies-title" }, t("admin.policies")), status, slot);
  const history = historyCards(ctx);
  const retention = retentionCard(api, t);
  const requests = dataRequestCards(ctx);
  view.append(pageHeading(t("admin.title")), greeting(me), users.card, offices.card, policies,
    ...history.cards, retention.card, ...requests.cards);
  const loadPolicies = async () => {
    const data = await loadInto(slot, () => api.get("/api/policies"), loadPolicies);
    if (data) slot.replaceChildren(...policySummary(data, ctx, changed));
  };
  const changed = async (version) => {
    await Promise.all([loadPolicies(), history.reloadVersions()]);
    status.textContent = t("admin.policy_changed", { version: version.version });
  };
  await Promise.all([users.loaded, offices.loaded, loadPolicies(), history.loaded, retention.loaded,
    requests.loaded]);
}
