// Administration landing page: the office's accounts (create, page through, disable and
// re-enable), its offices, the policy in force and its versions, the retention policy and
// the receipts of its runs; data subjects' requests and exports.
import { h } from "../shared/dom.js";
import { formatDate } from "../shared/i18n.js";
import { pageHeading, loadInto, greeting, details } from "../shared/ui.js";
import { retentionCard } from "./retention.js";
import { usersCard } from "./users.js";
import { officesCard } from "./offices.js";
import { historyCards } from "./history.js";
import { dataRequestCards } from "./data_requests.js";

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

export async function render(view, ctx) {
  const { me, api, t } = ctx;
  const users = usersCard(ctx);
  const offices = officesCard(ctx);
  const slot = h("div", { class: "stack" });
  const policies = h("section", { class: "card", "aria-labelledby": "policies-title" },
    h("h2", { id: "policies-title" }, t("admin.policies")), slot);
  const history = historyCards(ctx);
  const retention = retentionCard(api, t);
  const requests = dataRequestCards(ctx);
  view.append(pageHeading(t("admin.title")), greeting(me), users.card, offices.card, policies,
    ...history.cards, retention.card, ...requests.cards);
  const loadPolicies = async () => {
    const data = await loadInto(slot, () => api.get("/api/policies"), loadPolicies);
    if (data) slot.replaceChildren(...policySummary(data, t));
  };
  await Promise.all([users.loaded, offices.loaded, loadPolicies(), history.loaded, retention.loaded,
    requests.loaded]);
}
