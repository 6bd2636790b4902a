"""Scope: who may touch which case, by their relation to it.

CEP practice recommendations (2024) and GDPR art. 5(1)(c) (data minimisation), 25
(data protection by design): officers see their caseload, seniors their office
(or only their caseload, by policy), a client their own case, mentors their mentees'
conversations and never case data, partners their case network only. The caller
computes the relation (``identity/scope.py``); this rule also checks that the
relation agrees with the case facts, so a wrong relation fails closed.

Conversations that are not case conversations (mentor-mentee, case network) are sent
with ``case=None`` and are governed by conversation membership, not by this rule.

The office boundary is the same rule's ``act_in_office``: staff act in their own office;
only a cross-office administrator (an office-less admin the deployment names, never one
the API can make) acts in another office or on an account of no office. An admin's office
is all they administer, so an admin of office B has no way into office A (issue 12).
"""

from __future__ import annotations

from server.policy.decision import Decision, Said, allow, refuse, said
from server.policy.facts import (
    ACT_IN_OFFICE,
    READ_CASE,
    SEND_MESSAGE,
    START_VIDEO,
    SUPERVISE_REMOTELY,
    WRITE_CASE,
    ActorFacts,
    CaseFacts,
    PolicyRequest,
)
from server.policy.schema import ScopeConfig

RULE_ID = "scope"

# action -> relations that may do it on a case
PERMITTED: dict[str, tuple[str, ...]] = {
    READ_CASE: ("supervising_officer", "office_senior", "client_self"),
    WRITE_CASE: ("supervising_officer", "office_senior"),
    SEND_MESSAGE: ("supervising_officer", "office_senior", "client_self"),
    SUPERVISE_REMOTELY: ("supervising_officer", "office_senior"),
    START_VIDEO: ("supervising_officer", "office_senior"),
}

_BY_RELATION = {
    "mentor": said("mentor", "Mentors talk only with their mentees and see no case data"),
    "network_partner": said("network_partner", "Partner agencies see only their case network channel"),
    "interpreter_invited": said("interpreter", "Interpreters join only the sessions they are invited to"),
    "facilitator": said("facilitator", "Facilitators see only their group sessions, not case data"),
    "client_self": said("officers_only", "Only the supervising officer or a senior officer of the office may do this"),
}
_BY_ROLE = {
    "admin": said("admin", "Administrators run the service and do not see case data"),
    "officer": said("own_caseload", "Officers see only their own caseload"),
    "senior_officer": said("own_office_cases", "Senior officers see only the cases of their own office"),
}


def _holds(actor: ActorFacts, case: CaseFacts, relation: str) -> bool:
    if relation == "supervising_officer":
        return actor.user_id == case.officer_id
    if relation == "office_senior":
        return actor.role == "senior_officer" and actor.office_id == case.office_id
    return actor.role == "client" and actor.user_id == case.client_id


def _not_permitted(request: PolicyRequest) -> Said:
    if request.relation in _BY_RELATION:
        return _BY_RELATION[request.relation]
    return _BY_ROLE.get(request.actor.role, said("no_part", "You have no part in this case"))


def _in_office(request: PolicyRequest, version: int) -> Decision:
    office, actor = request.office, request.actor
    if office is None:
        return refuse(RULE_ID, version, said("no_office", "This action needs an office"))
    if request.relation == "own_office" and actor.office_id is not None and actor.office_id == office.office_id:
        return allow(RULE_ID, version, [said("own_office", "Acting in their own office")])
    if request.relation == "cross_office" and actor.cross_office:
        return allow(RULE_ID, version, [said("cross_office", "Acting as the deployment's cross-office administrator")])
    if request.relation in ("own_office", "cross_office"):
        return refuse(RULE_ID, version,
                      said("office_mismatch", "The relation to this office does not match the records"))
    if actor.office_id is None:
        return refuse(RULE_ID, version, said("no_office_of_own", "An account with no office acts in no office unless "
                                             "the deployment names it a cross-office administrator"))
    return refuse(RULE_ID, version, said("other_office", "Staff act only within their own office"))


def evaluate(config: ScopeConfig, request: PolicyRequest, version: int) -> Decision | None:
    if request.action == ACT_IN_OFFICE:
        return _in_office(request, version)
    permitted = PERMITTED.get(request.action)
    if permitted is None:
        return None
    case = request.case
    if case is None:
        if request.action == SEND_MESSAGE:
            return None  # not a case conversation
        return refuse(RULE_ID, version, said("no_case", "This action needs a case"))
    relation = request.relation
    if relation == "office_senior" and config.senior_officer_scope == "caseload":
        return refuse(RULE_ID, version, said("senior_caseload", "Senior officers see only their own caseload"))
    if relation not in permitted:
        return refuse(RULE_ID, version, _not_permitted(request))
    if not _holds(request.actor, case, relation):
        return refuse(RULE_ID, version,
                      said("case_mismatch", "The relation to this case does not match the case record"))
    return allow(RULE_ID, version, [said("acting_as", f"Acting as {relation.replace('_', ' ')} of this case",
                                         relation=relation)])
