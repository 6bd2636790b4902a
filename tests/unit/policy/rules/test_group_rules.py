from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from server.policy.decision import Said, allow, refuse, said
from server.policy.facts import GroupFacts, PolicyRequest
from server.policy.loader import PolicySet
from server.policy.rules.group_rules import evaluate
from server.policy.schema import GroupRulesConfig

Request = Callable[..., PolicyRequest]
Group = Callable[..., GroupFacts]


@pytest.fixture
def config(policies: PolicySet) -> GroupRulesConfig:
    return policies.group_rules


def _join(request_for: Request, facts: GroupFacts, relation: str = "client_self") -> PolicyRequest:
    return request_for("join_group", relation, case=None, group=facts)


def test_only_joining_a_group_is_its_business(config: GroupRulesConfig, request_for: Request) -> None:
    assert evaluate(config, request_for("start_video"), 1) is None


def test_joining_needs_the_group_facts(config: GroupRulesConfig, request_for: Request) -> None:
    assert evaluate(config, request_for("join_group", case=None), 1) == refuse(
        "group_rules", 1, said("no_session", "Joining a group needs the group session's facts")
    )


def test_a_valid_join_is_allowed(config: GroupRulesConfig, request_for: Request, group: Group) -> None:
    assert evaluate(config, _join(request_for, group()), 1) == allow("group_rules", 1)


@pytest.mark.parametrize(
    ("facts", "sentence", "permissive"),
    [
        ({"recording": True}, said("recording_forbidden", "Group sessions may not be recorded"),
         {"recording_allowed": True}),
        ({"hybrid": True}, said("hybrid_forbidden", "Hybrid group sessions are not allowed"), {"hybrid_allowed": True}),
        (
            {"confidentiality_accepted": False},
            said("confidentiality_first", "The group confidentiality agreement must be accepted before joining"),
            {"confidentiality_agreement_required": False},
        ),
        ({"participants": 15}, said("full", "The group is full (15 participants)", max_participants=15),
         {"max_participants": 16}),
        (
            {"facilitators": 0},
            said("facilitators_first", "The session needs 1 facilitator present before others join", needed=1),
            None,
        ),
    ],
)
def test_each_condition_refuses_and_can_be_relaxed(
    config: GroupRulesConfig,
    request_for: Request,
    group: Group,
    facts: dict[str, object],
    sentence: Said,
    permissive: dict[str, object] | None,
) -> None:
    strict = msgspec.structs.replace(config, hybrid_allowed=False)
    request = _join(request_for, group(**facts))
    assert evaluate(strict, request, 1) == refuse("group_rules", 1, sentence)
    if permissive is None:
        return  # at least one facilitator is always required
    relaxed = msgspec.structs.replace(strict, **permissive)
    assert evaluate(relaxed, request, 1) == allow("group_rules", 1)


def test_hybrid_sessions_are_allowed_by_default(config: GroupRulesConfig, request_for: Request, group: Group) -> None:
    decision = evaluate(config, _join(request_for, group(hybrid=True)), 1)
    assert decision is not None
    assert decision.allowed


def test_two_facilitators_are_counted_in_plural(config: GroupRulesConfig, request_for: Request, group: Group) -> None:
    two = msgspec.structs.replace(config, min_facilitators=2)
    assert evaluate(two, _join(request_for, group(facilitators=1)), 1) == refuse(
        "group_rules", 1,
        said("facilitators_first", "The session needs 2 facilitators present before others join", needed=2)
    )


def test_facilitators_join_a_full_or_unstaffed_session(
    config: GroupRulesConfig, request_for: Request, group: Group
) -> None:
    request = _join(request_for, group(participants=15, facilitators=0), "facilitator")
    assert evaluate(config, request, 1) == allow("group_rules", 1)


def _enrol(request_for: Request, facts: GroupFacts | None) -> PolicyRequest:
    return request_for("enrol_group", "facilitator", case=None, group=facts)


def test_enrolling_needs_the_group_facts(config: GroupRulesConfig, request_for: Request) -> None:
    assert evaluate(config, _enrol(request_for, None), 1) == refuse(
        "group_rules", 1, said("no_group", "Enrolling in a group needs the group's facts")
    )


def test_enrolment_fills_a_cohort_up_to_the_session_size(
    config: GroupRulesConfig, request_for: Request, group: Group
) -> None:
    assert evaluate(config, _enrol(request_for, group(participants=14)), 1) == allow("group_rules", 1)
    assert evaluate(config, _enrol(request_for, group(participants=15)), 1) == refuse(
        "group_rules", 1, said("full", "The group is full (15 participants)", max_participants=15)
    )
