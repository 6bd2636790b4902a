"""The policy engine: one request in, one explainable decision out.

Rules run in a fixed order; the first refusal wins, so the reason a person sees is the
most basic one (no access at all comes before "meet face to face first"). When every
applicable rule allows, their reasons and obligations are merged, deduplicated, in
order. ``scope``, ``networks``, ``mentoring`` and ``retention`` have no ``enabled`` switch: access control
and storage limitation are not optional; the other rules may be switched off by policy.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from server.policy.decision import Decision, Reason
from server.policy.facts import CaseFacts, PolicyRequest
from server.policy.loader import PolicySet
from server.policy.rules import (
    alternatives,
    face_to_face_first,
    group_rules,
    mentoring,
    networks,
    retention,
    safe_space,
    scope,
)

Evaluate = Callable[[Any, PolicyRequest, int], Decision | None]

#: Evaluation order; the first refusal wins.
ORDER: tuple[tuple[str, Evaluate], ...] = (
    (scope.RULE_ID, scope.evaluate),
    (networks.RULE_ID, networks.evaluate),
    (mentoring.RULE_ID, mentoring.evaluate),
    (face_to_face_first.RULE_ID, face_to_face_first.evaluate),
    (group_rules.RULE_ID, group_rules.evaluate),
    (safe_space.RULE_ID, safe_space.evaluate),
    (alternatives.RULE_ID, alternatives.evaluate),
    (retention.RULE_ID, retention.evaluate),
)


def clock_facts(case: CaseFacts | None, now: datetime) -> tuple[bool, ...]:
    """How ``now`` compares with every instant a rule compares it with (today only
    face_to_face_first, with a case's exception end). Two requests equal but for ``now``
    and equal in these get the same decision, so a caller may reuse one (the send
    pipeline does). tests/unit/policy/test_clock_facts.py holds every rule to this."""
    until = case.exception_until if case is not None else None
    return (until is not None and until > now,)


class PolicyEngine:
    def __init__(self, policies: PolicySet) -> None:
        self._policies = policies

    @property
    def policies(self) -> PolicySet:
        return self._policies

    def evaluate(self, request: PolicyRequest) -> Decision:
        version = self._policies.version
        reasons: dict[str, Reason] = {}  # sentence -> its code, deduplicated in order
        obligations: dict[str, None] = {}
        for rule_id, evaluate in ORDER:
            config = self._policies.config(rule_id)
            if not getattr(config, "enabled", True):
                continue
            decision = evaluate(config, request, version)
            if decision is None:
                continue
            if not decision.allowed:
                return decision
            for sentence, code in zip(decision.reasons, decision.codes, strict=True):
                reasons.setdefault(sentence, code)
            obligations.update(dict.fromkeys(decision.obligations))
        return Decision(
            allowed=True,
            rule_id=None,
            policy_version=version,
            reasons=tuple(reasons),
            codes=tuple(reasons.values()),
            obligations=tuple(obligations),
        )
