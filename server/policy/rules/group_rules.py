"""Group rules: the conditions a group programme session must meet before anyone joins.

CEP practice recommendations (2024), §4.1-4.3 (hybrid working, offices as hubs) and
the programme practice in ``shared/domain`` (groups of 8-15 led by trained
facilitators). Recording is off by default: a recorded group would expose every
participant's disclosures to people outside the room (GDPR art. 5(1)(c), 9).
"""

from __future__ import annotations

from server.policy.decision import Decision, allow, refuse, said
from server.policy.facts import ENROL_GROUP, JOIN_GROUP, PolicyRequest
from server.policy.schema import GroupRulesConfig

RULE_ID = "group_rules"


def evaluate(config: GroupRulesConfig, request: PolicyRequest, version: int) -> Decision | None:
    if request.action == ENROL_GROUP:
        return _enrol(config, request, version)
    if request.action != JOIN_GROUP:
        return None
    group = request.group
    if group is None:
        return refuse(RULE_ID, version, said("no_session", "Joining a group needs the group session's facts"))
    if group.recording and not config.recording_allowed:
        return refuse(RULE_ID, version, said("recording_forbidden", "Group sessions may not be recorded"))
    if group.hybrid and not config.hybrid_allowed:
        return refuse(RULE_ID, version, said("hybrid_forbidden", "Hybrid group sessions are not allowed"))
    if config.confidentiality_agreement_required and not group.confidentiality_accepted:
        return refuse(
            RULE_ID,
            version,
            said("confidentiality_first", "The group confidentiality agreement must be accepted before joining"),
        )
    # The facilitators who run the session are never turned away by its size.
    if request.actor.role != "facilitator":
        if group.participants >= config.max_participants:
            return refuse(
                RULE_ID,
                version,
                said("full", f"The group is full ({config.max_participants} participants)",
                     max_participants=config.max_participants),
            )
        if group.facilitators < config.min_facilitators:
            needed = config.min_facilitators
            plural = "" if needed == 1 else "s"
            return refuse(
                RULE_ID,
                version,
                said("facilitators_first", f"The session needs {needed} facilitator{plural} present before others join",
                     needed=needed),
            )
    return allow(RULE_ID, version)


def _enrol(config: GroupRulesConfig, request: PolicyRequest, version: int) -> Decision:
    """Enrolling a participant in a programme group (cohort): the cohort never holds more
    participants than a session may (its facilitators do not count)."""
    group = request.group
    if group is None:
        return refuse(RULE_ID, version, said("no_group", "Enrolling in a group needs the group's facts"))
    if group.participants >= config.max_participants:
        return refuse(RULE_ID, version, said("full", f"The group is full ({config.max_participants} participants)",
                                              max_participants=config.max_participants))
    return allow(RULE_ID, version)
