"""The policy engine's word on a participant joining a live group session.

``group_rules`` decides (the confidentiality agreement, the session's size, a facilitator
present, hybrid and recording allowed) and, where policy gates ``join_group``,
``face_to_face_first`` on the participant's own case. A refusal names its rule.

A participant who comes before any facilitator is not turned away: the session does not run
without one (``min_facilitators``), so they wait in the lobby until a facilitator is there to
admit them. This module only builds the facts and reads the decision; the pure session
(``session_machine``) still holds its own controls (removed, locked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.identity.model import Actor
from server.policy.decision import Decision, refusal
from server.policy.facts import JOIN_GROUP, ActorFacts, CaseFacts, GroupFacts, PolicyRequest
from server.policy.service import PolicyService

FACILITATORS_FIRST = "group_rules.facilitators_first"


@dataclass(frozen=True)
class Present:
    """Who holds a place in the live session before this join."""

    participants: int = 0
    staff: int = 0  # facilitators and co-facilitators


@dataclass(frozen=True)
class LiveLimits:
    """What the policy in force sets for a live session."""

    max_participants: int
    last_n: int


def live_limits(policy: PolicyService) -> LiveLimits:
    config = policy.engine.policies.group_rules
    return LiveLimits(max_participants=config.max_participants, last_n=config.last_n)


def decide_join(policy: PolicyService, actor: Actor, now: datetime, *, case: CaseFacts | None, present: Present,
                hybrid: bool, agreement_accepted: bool) -> bool:
    """Raise the refusal of a participant's join; otherwise whether they may enter without the
    lobby as far as the facilitators go (False: no facilitator is there yet)."""

    def ask(facilitators: int) -> Decision:
        return policy.evaluate(PolicyRequest(
            action=JOIN_GROUP, now=now, case=case, relation="client_self" if case is not None else "none",
            actor=ActorFacts(user_id=actor.user_id, role=actor.role.value, office_id=actor.office_id),
            group=GroupFacts(participants=present.participants, facilitators=facilitators, hybrid=hybrid,
                             recording=False, confidentiality_accepted=agreement_accepted)))

    decision = ask(present.staff)
    facilitator_there = True
    if not decision.allowed and decision.codes and decision.codes[0].code == FACILITATORS_FIRST:
        # To the lobby until a facilitator comes; every other rule still decides now.
        facilitator_there = False
        decision = ask(policy.engine.policies.group_rules.min_facilitators)
    if not decision.allowed:
        raise refusal(decision)
    return facilitator_there
