from __future__ import annotations

from pathlib import Path

import pytest

from server.checkins.safe_space import Verdict, evaluate, questions, side_of
from server.errors import BadRequest
from server.policy.facts import CaseFacts
from server.policy.loader import load_dir
from server.policy.schema import Question, SafeSpaceConfig

POLICIES = Path(__file__).resolve().parents[3] / "policies"


@pytest.fixture(scope="module")
def config() -> SafeSpaceConfig:
    cfg = load_dir(POLICIES, version=1).config("safe_space")
    assert isinstance(cfg, SafeSpaceConfig)
    return cfg


def case(**flags: bool) -> CaseFacts:
    return CaseFacts(case_id="c", office_id="o", officer_id="off", client_id="cli",
                     face_to_face_with_current_officer=1, face_to_face_total=1, exception_until=None, **flags)


def ids(qs: tuple[Question, ...]) -> list[str]:
    return [q.id for q in qs]


def test_client_questions_without_flags(config: SafeSpaceConfig) -> None:
    assert ids(questions(config, case(), "client")) == ["private_place", "alone", "not_driving"]


@pytest.mark.parametrize("flag", ["domestic_violence", "protected_person"])
def test_domestic_violence_flags_add_questions_and_the_shared_address(config: SafeSpaceConfig, flag: str) -> None:
    assert ids(questions(config, case(**{flag: True}), "client")) == [
        "private_place", "alone", "not_driving", "protected_person_not_near", "talking_freely", "not_at_shared_address"]


def test_staff_questions_do_not_depend_on_flags(config: SafeSpaceConfig) -> None:
    expected = ["private_room", "headset", "screen_not_overlooked"]
    assert ids(questions(config, case(), "staff")) == expected
    assert ids(questions(config, case(domestic_violence=True), "staff")) == expected


@pytest.mark.parametrize(("role", "side"), [("client", "client"), ("officer", "staff"),
                                            ("senior_officer", "staff"), ("interpreter", "staff")])
def test_sides(role: str, side: str) -> None:
    assert side_of(role) == side


def test_all_safe_answers_pass(config: SafeSpaceConfig) -> None:
    asked = questions(config, case(), "client")
    result = evaluate(asked, {q.id: True for q in asked})
    assert result.verdict is Verdict.PASSED and result.passed and result.unsafe == ()


def test_one_unsafe_answer_fails_and_names_it(config: SafeSpaceConfig) -> None:
    asked = questions(config, case(domestic_violence=True), "client")
    answers = {q.id: True for q in asked} | {"not_at_shared_address": False}
    result = evaluate(asked, answers)
    assert result.verdict is Verdict.UNSAFE and not result.passed
    assert result.unsafe == ("not_at_shared_address",)


def test_a_question_whose_safe_answer_is_no() -> None:
    asked = (Question(id="anyone_listening", text="Is anyone listening?", safe_answer=False),)
    assert evaluate(asked, {"anyone_listening": False}).passed
    assert evaluate(asked, {"anyone_listening": True}).unsafe == ("anyone_listening",)


def test_cant_talk_wins_over_any_answers(config: SafeSpaceConfig) -> None:
    asked = questions(config, case(), "client")
    assert evaluate(asked, {}, cant_talk=True).verdict is Verdict.CANT_TALK


def test_missing_answers_are_refused_not_passed(config: SafeSpaceConfig) -> None:
    asked = questions(config, case(), "client")
    with pytest.raises(BadRequest, match="missing: not_driving"):
        evaluate(asked, {"private_place": True, "alone": True})


def test_unknown_answers_are_refused(config: SafeSpaceConfig) -> None:
    asked = questions(config, case(), "client")
    with pytest.raises(BadRequest, match="Unknown safe-space questions: headset"):
        evaluate(asked, {q.id: True for q in asked} | {"headset": True})
