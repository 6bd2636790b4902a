from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from server.policy.facts import CaseFacts, PolicyRequest
from server.policy.loader import PolicySet
from server.policy.rules.safe_space import evaluate, group_questions_for, questions_for
from server.policy.schema import SafeSpaceConfig

Request = Callable[..., PolicyRequest]
Case = Callable[..., CaseFacts]


@pytest.fixture
def config(policies: PolicySet) -> SafeSpaceConfig:
    return policies.safe_space


@pytest.mark.parametrize("action", ["send_message", "join_group", "read_case"])
def test_only_video_needs_a_safe_space(config: SafeSpaceConfig, request_for: Request, action: str) -> None:
    assert evaluate(config, request_for(action), 1) is None


def test_both_sides_are_checked_before_video(config: SafeSpaceConfig, request_for: Request) -> None:
    decision = evaluate(config, request_for("start_video"), 1)
    assert decision is not None
    assert decision.allowed
    assert decision.obligations == ("safe_space_check:client", "safe_space_check:staff")
    assert decision.reasons == ("Client and staff confirm a safe space before the video starts (rule safe_space)",)


@pytest.mark.parametrize("flag", ["domestic_violence", "protected_person"])
def test_domestic_violence_cases_add_a_check(
    config: SafeSpaceConfig, request_for: Request, case: Case, flag: str
) -> None:
    decision = evaluate(config, request_for("start_video", case=case(**{flag: True})), 1)
    assert decision is not None
    assert decision.obligations[-1] == "safe_space_check:domestic_violence"
    assert len(decision.reasons) == 2


def test_staff_answer_the_staff_questions(config: SafeSpaceConfig, case: Case) -> None:
    dv_case = case(domestic_violence=True)
    assert questions_for(config, dv_case, "staff") == config.staff_questions


def test_clients_answer_the_client_questions(config: SafeSpaceConfig, case: Case) -> None:
    assert questions_for(config, None, "client") == config.client_questions
    assert questions_for(config, case(), "client") == config.client_questions


def test_domestic_violence_adds_questions_and_the_shared_address(config: SafeSpaceConfig, case: Case) -> None:
    asked = questions_for(config, case(domestic_violence=True), "client")
    assert asked == (
        *config.client_questions,
        *config.domestic_violence_questions,
        config.shared_address_question,
    )
    allowed_at_home = msgspec.structs.replace(config, forbid_shared_address_when_dv=False)
    assert questions_for(allowed_at_home, case(protected_person=True), "client") == (
        *config.client_questions,
        *config.domestic_violence_questions,
    )


def test_an_unknown_side_is_refused(config: SafeSpaceConfig) -> None:
    with pytest.raises(ValueError, match="side must be"):
        questions_for(config, None, "mentor")  # type: ignore[arg-type]


def test_a_live_group_session_adds_the_groups_question_for_both_sides(config: SafeSpaceConfig, case: Case) -> None:
    assert config.group_question.id == "group_only" and config.group_question.safe_answer
    assert group_questions_for(config, case(), "client") == (*config.client_questions, config.group_question)
    assert group_questions_for(config, case(), "staff") == (*config.staff_questions, config.group_question)
    dv = group_questions_for(config, case(domestic_violence=True), "client")
    assert dv[-1] == config.group_question and dv[:-1] == questions_for(config, case(domestic_violence=True), "client")


def test_the_groups_question_id_is_unique_among_the_questions(config: SafeSpaceConfig) -> None:
    clash = msgspec.structs.replace(config, group_question=config.client_questions[0])
    assert [p.key for p in clash.problems()] == ["question ids"]
    assert config.problems() == []
