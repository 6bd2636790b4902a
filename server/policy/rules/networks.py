"""Networks: who sees a case's network and takes part in it (TUKO, issue 16).

Estonian Prison and Probation Service, TUKO framework for safe cooperation: a network
around one high-risk case, led by the supervising officer as case leader, with partner
agencies and "the client whenever possible and safe". GDPR art. 5(1)(c) and 25: a
partner sees only the networks it is a member of, and only while its access lasts.

- The case leader (the supervising officer, or a senior officer of the case's office)
  always sees the network and takes part.
- Anyone else must be a member of the current process (``network_member_only``) whose
  access has not ended (``network_access_ended``: the member's end date passed, or the
  process closed).
- The client, as a member, on a case carrying one of ``victim_protection_flags``, takes
  part only when the case leader recorded why it is safe (``victim_protection``). The
  flag may be set after the client joined: the rule is asked on every access, so the
  client is out from that moment.

A refusal names the sub-rule that refused (its ``rule_id``); docs/policies.md lists them.
Which step of the process a participant may take, in which stage, is the network's own
transition table (``server/networks/machine.py``), with the same rule ids.
"""

from __future__ import annotations

from server.policy.decision import Decision, allow, refuse, said
from server.policy.facts import READ_NETWORK, WRITE_NETWORK, CaseFacts, PolicyRequest
from server.policy.schema import NetworksConfig

RULE_ID = "networks"
MEMBER_ONLY = "network_member_only"
ACCESS_ENDED = "network_access_ended"
VICTIM_PROTECTION = "victim_protection"


def victim_protection(config: NetworksConfig, case: CaseFacts | None) -> bool:
    """Does the case carry a flag that keeps the client out unless it is shown to be safe?"""
    return case is not None and any(bool(getattr(case, flag)) for flag in config.victim_protection_flags)


def evaluate(config: NetworksConfig, request: PolicyRequest, version: int) -> Decision | None:
    if request.action not in (READ_NETWORK, WRITE_NETWORK):
        return None
    case, network, actor = request.case, request.network, request.actor
    if case is None or network is None:
        return refuse(MEMBER_ONLY, version, said("unknown", "A network is asked about with its case and the "
                                                              "actor's place in it"))
    if request.relation == "supervising_officer" and actor.user_id == case.officer_id:
        return allow(RULE_ID, version, [said("case_leader", "Acting as the case leader")])
    if request.relation == "office_senior" and actor.role == "senior_officer" and actor.office_id == case.office_id:
        return allow(RULE_ID, version, [said("office_senior", "Acting as the case leader "
                                                                  "(a senior officer of the office)")])
    if not network.member:
        return refuse(MEMBER_ONLY, version, said("not_member", "Only the case leader and the network's "
                                                                 "members see it"))
    if network.member_kind == "client" and actor.user_id != case.client_id:
        return refuse(MEMBER_ONLY, version, said("mismatch", "The relation to this network does not match "
                                                               "the case record"))
    if not network.access_open:
        return refuse(ACCESS_ENDED, version, said("ended", "Your access to this network has ended"))
    if network.member_kind == "client" and victim_protection(config, case) and not network.safety_reason_recorded:
        return refuse(VICTIM_PROTECTION, version, said(
            "no_safety_reason",
            "This case carries a victim-protection flag: the client takes part only when the case leader records why "
            "it is safe"))
    return allow(RULE_ID, version, [said("member", "Taking part as a member of this case's network")])
