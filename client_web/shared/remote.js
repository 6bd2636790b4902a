// How "may this client be supervised remotely?" is shown, to staff and to the client. The
// reason is worded from its code in the reader's language; staff also see the rule that
// decided (DESIGN: every refusal says which rule), clients never see rule ids (issue 13).
import { h } from "./dom.js";
import { t, has } from "./i18n.js";
import { reasonText, showsRules } from "./reasons.js";

/** The decision's reason in the reader's words; the server's English only for staff. */
export function reasonOf(remote, audience) {
  const coded = remote.coded ? reasonText(remote.coded.code, remote.coded.params, { who: audience }) : null;
  if (coded) return coded;
  const key = `remote.refused.${remote.rule_id}.${audience}`;
  if (!remote.allowed && remote.rule_id && has(key)) return t(key);
  return audience === "client" ? null : remote.reason || null;
}

export function remoteStatus(remote, audience) {
  const allowed = remote.allowed === true;
  const reason = reasonOf(remote, audience);
  return h("div", {
    class: `remote ${allowed ? "is-allowed" : "is-refused"}`,
    "data-remote": allowed ? "allowed" : "refused",
    "data-rule-id": showsRules() ? remote.rule_id || null : null,
  },
  h("p", { class: `status ${allowed ? "status-yes" : "status-no"}` },
    t(allowed ? `remote.allowed.${audience}` : `remote.not_allowed.${audience}`)),
  reason ? h("p", { class: "reason" }, reason) : null,
  remote.rule_id && showsRules() ? h("p", { class: "rule muted" }, t("remote.rule", { rule_id: remote.rule_id }))
    : null);
}
