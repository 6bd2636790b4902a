// How "may this client be supervised remotely?" is shown, to staff and to the client.
// A refusal always names the rule that refused (DESIGN: every refusal says which rule).
import { h } from "./dom.js";
import { t, has } from "./i18n.js";

/** Text for why remote contact is refused: the catalog's, else the server's reason. */
export function refusalText(remote, audience) {
  const key = `remote.refused.${remote.rule_id}.${audience}`;
  return remote.rule_id && has(key) ? t(key) : remote.reason;
}

export function remoteStatus(remote, audience) {
  const allowed = remote.allowed === true;
  return h("div", {
    class: `remote ${allowed ? "is-allowed" : "is-refused"}`,
    "data-remote": allowed ? "allowed" : "refused",
    "data-rule-id": remote.rule_id || null,
  },
  h("p", { class: `status ${allowed ? "status-yes" : "status-no"}` },
    t(allowed ? `remote.allowed.${audience}` : `remote.not_allowed.${audience}`)),
  allowed
    ? (remote.reason ? h("p", { class: "reason" }, remote.reason) : null)
    : h("p", { class: "reason" }, refusalText(remote, audience)),
  remote.rule_id ? h("p", { class: "rule muted" }, t("remote.rule", { rule_id: remote.rule_id }))
    : null);
}
