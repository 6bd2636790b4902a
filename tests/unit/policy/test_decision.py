from __future__ import annotations

import pytest

from server.errors import PolicyRefused
from server.policy.decision import Decision, Reason, allow, cite, refusal, refuse, said


def test_cite_names_the_rule() -> None:
    assert cite("scope", "Officers see only their own caseload") == (
        "Officers see only their own caseload (rule scope)"
    )


def test_refuse_builds_a_refusal_with_one_cited_reason_and_its_code() -> None:
    decision = refuse("face_to_face_first", 3, said("too_few", "Only 1 of 2", count=1, required=2))
    assert decision == Decision(
        allowed=False,
        rule_id="face_to_face_first",
        policy_version=3,
        reasons=("Only 1 of 2 (rule face_to_face_first)",),
        codes=(Reason(code="face_to_face_first.too_few", params={"count": 1, "required": 2}),),
    )


def test_allow_names_no_rule_and_keeps_codes_and_obligations_in_order() -> None:
    decision = allow("safe_space", 2, [said("check", "Check"), said("more", "More")], ["b", "a"])
    assert decision.allowed
    assert decision.rule_id is None
    assert decision.reasons == ("Check (rule safe_space)", "More (rule safe_space)")
    assert [c.code for c in decision.codes] == ["safe_space.check", "safe_space.more"]
    assert decision.obligations == ("b", "a")


def test_allow_defaults_to_no_reasons_or_obligations() -> None:
    assert allow("group_rules", 1) == Decision(allowed=True, rule_id=None, policy_version=1, reasons=())


def test_an_allowed_decision_cannot_name_a_refusing_rule() -> None:
    with pytest.raises(ValueError, match="names no refusing rule"):
        Decision(allowed=True, rule_id="scope", policy_version=1, reasons=())


@pytest.mark.parametrize(("rule_id", "reasons"), [(None, ("why",)), ("scope", ())])
def test_a_refusal_needs_a_rule_and_a_reason(rule_id: str | None, reasons: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="must name its rule"):
        Decision(allowed=False, rule_id=rule_id, policy_version=1, reasons=reasons,
                 codes=tuple(Reason(code="x") for _ in reasons))


def test_every_reason_has_its_code() -> None:
    with pytest.raises(ValueError, match="every reason has its code"):
        Decision(allowed=False, rule_id="scope", policy_version=1, reasons=("why (rule scope)",))


def test_a_refusal_is_raised_with_its_code_and_params() -> None:
    err = refusal(refuse("group_rules", 1, said("full", "The group is full (15 participants)", max_participants=15)))
    assert isinstance(err, PolicyRefused)
    assert err.to_json() == {"error": {
        "code": "policy_refused", "message": "The group is full (15 participants) (rule group_rules)",
        "rule_id": "group_rules", "reason": "group_rules.full", "params": {"max_participants": 15}}}
