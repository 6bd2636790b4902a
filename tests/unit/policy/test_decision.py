from __future__ import annotations

import pytest

from server.policy.decision import Decision, allow, cite, refuse


def test_cite_names_the_rule() -> None:
    assert cite("scope", "Officers see only their own caseload") == (
        "Officers see only their own caseload (rule scope)"
    )


def test_refuse_builds_a_refusal_with_one_cited_reason() -> None:
    decision = refuse("face_to_face_first", 3, "No meeting")
    assert decision == Decision(
        allowed=False,
        rule_id="face_to_face_first",
        policy_version=3,
        reasons=("No meeting (rule face_to_face_first)",),
    )


def test_allow_names_no_rule_and_keeps_obligations_in_order() -> None:
    decision = allow("safe_space", 2, ["Check"], ["b", "a"])
    assert decision.allowed
    assert decision.rule_id is None
    assert decision.reasons == ("Check (rule safe_space)",)
    assert decision.obligations == ("b", "a")


def test_allow_defaults_to_no_reasons_or_obligations() -> None:
    assert allow("group_rules", 1) == Decision(allowed=True, rule_id=None, policy_version=1, reasons=())


def test_an_allowed_decision_cannot_name_a_refusing_rule() -> None:
    with pytest.raises(ValueError, match="names no refusing rule"):
        Decision(allowed=True, rule_id="scope", policy_version=1, reasons=())


@pytest.mark.parametrize(("rule_id", "reasons"), [(None, ("why",)), ("scope", ())])
def test_a_refusal_needs_a_rule_and_a_reason(rule_id: str | None, reasons: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="must name its rule"):
        Decision(allowed=False, rule_id=rule_id, policy_version=1, reasons=reasons)
