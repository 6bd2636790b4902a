from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from server.policy import engine as engine_module
from server.policy.decision import Decision, Reason, allow, refuse, said
from server.policy.engine import ORDER, PolicyEngine
from server.policy.facts import CaseFacts, GroupFacts, PolicyRequest
from server.policy.loader import RULE_IDS, PolicySet, replace_rule

Request = Callable[..., PolicyRequest]


def test_rules_run_in_the_documented_order() -> None:
    assert [rule_id for rule_id, _ in ORDER] == [
        "scope",
        "networks",
        "mentoring",
        "face_to_face_first",
        "group_rules",
        "safe_space",
        "alternatives",
        "retention",
    ]
    assert sorted(rule_id for rule_id, _ in ORDER) == sorted(RULE_IDS)


def test_the_engine_exposes_its_policies(policies: PolicySet) -> None:
    assert PolicyEngine(policies).policies is policies


def test_scope_refuses_before_face_to_face_first(
    policies: PolicySet, request_for: Request, case: Callable[..., CaseFacts]
) -> None:
    request = request_for("start_video", "mentor", case=case(face_to_face_with_current_officer=0))
    decision = PolicyEngine(policies).evaluate(request)
    assert (decision.allowed, decision.rule_id) == (False, "scope")
    assert decision.reasons == ("Mentors talk only with their mentees and see no case data (rule scope)",)


def test_face_to_face_first_refuses_before_safe_space_obligations(
    policies: PolicySet, request_for: Request, case: Callable[..., CaseFacts]
) -> None:
    request = request_for(
        "start_video",
        case=case(face_to_face_with_current_officer=0, face_to_face_total=0),
    )
    decision = PolicyEngine(policies).evaluate(request)
    assert decision == Decision(
        allowed=False,
        rule_id="face_to_face_first",
        policy_version=1,
        reasons=("No face-to-face meeting with this client is recorded yet (rule face_to_face_first)",),
        codes=(Reason(code="face_to_face_first.none_recorded"),),
    )


def test_an_allowed_video_merges_reasons_and_obligations_in_rule_order(
    policies: PolicySet, request_for: Request, case: Callable[..., CaseFacts]
) -> None:
    request = request_for(
        "start_video",
        case=case(domestic_violence=True, low_digital_access=True),
        network_quality="poor",
    )
    decision = PolicyEngine(policies).evaluate(request)
    assert decision.allowed
    assert decision.rule_id is None
    assert [r.rsplit("(rule ", 1)[1] for r in decision.reasons] == [
        "scope)",
        "face_to_face_first)",
        "safe_space)",
        "safe_space)",
        "alternatives)",
        "alternatives)",
    ]
    assert decision.obligations == (
        "safe_space_check:client",
        "safe_space_check:staff",
        "safe_space_check:domestic_violence",
        "offer_alternative:phone",
        "offer_alternative:in_person",
        "audio_only",
    )


def test_a_disabled_rule_is_skipped(policies: PolicySet, request_for: Request, case: Callable[..., CaseFacts]) -> None:
    config = msgspec.to_builtins(policies.face_to_face_first) | {"enabled": False}
    relaxed = replace_rule(policies, "face_to_face_first", config, version=2)
    request = request_for(
        "supervise_remotely",
        case=case(face_to_face_with_current_officer=0, face_to_face_total=0),
    )
    decision = PolicyEngine(relaxed).evaluate(request)
    assert decision.allowed
    assert decision.policy_version == 2
    assert decision.reasons == ("Acting as supervising officer of this case (rule scope)",)


def test_an_action_no_rule_speaks_to_is_allowed_without_reasons(
    policies: PolicySet, request_for: Request, group: Callable[..., GroupFacts]
) -> None:
    request = request_for("join_group", "client_self", case=None, group=group())
    assert PolicyEngine(policies).evaluate(request) == Decision(
        allowed=True, rule_id=None, policy_version=1, reasons=()
    )


def test_mentor_conversations_are_not_case_conversations(policies: PolicySet, request_for: Request) -> None:
    request = request_for("send_message", "mentor", case=None, message_kind="text")
    assert PolicyEngine(policies).evaluate(request).allowed


def _fake(decision: Decision | None) -> Callable[[Any, PolicyRequest, int], Decision | None]:
    return lambda config, request, version: decision


def test_the_first_refusal_wins_and_merged_output_is_deduplicated(
    policies: PolicySet, request_for: Request, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = request_for("read_case")
    engine = PolicyEngine(policies)
    monkeypatch.setattr(
        engine_module,
        "ORDER",
        (
            ("scope", _fake(allow("a", 1, [said("same", "same"), said("first", "first")], ["x", "y"]))),
            ("retention", _fake(None)),
            ("group_rules", _fake(allow("a", 1, [said("same", "same")], ["y", "z"]))),
        ),
    )
    merged = engine.evaluate(request)
    assert merged.reasons == ("same (rule a)", "first (rule a)")
    assert merged.codes == (Reason(code="a.same"), Reason(code="a.first"))
    assert merged.obligations == ("x", "y", "z")
    monkeypatch.setattr(
        engine_module,
        "ORDER",
        (
            ("scope", _fake(allow("a", 1, [said("ok", "ok")]))),
            ("retention", _fake(refuse("first", 1, said("no", "no")))),
            ("group_rules", _fake(refuse("second", 1, said("no", "no")))),
        ),
    )
    assert engine.evaluate(request).rule_id == "first"
