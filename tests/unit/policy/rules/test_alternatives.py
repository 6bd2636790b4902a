from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from server.policy.facts import CaseFacts, PolicyRequest
from server.policy.loader import PolicySet
from server.policy.rules.alternatives import evaluate, missed_checkin_outcome
from server.policy.schema import AlternativesConfig

Request = Callable[..., PolicyRequest]
Case = Callable[..., CaseFacts]
OFFERS = ("offer_alternative:phone", "offer_alternative:in_person")


@pytest.fixture
def config(policies: PolicySet) -> AlternativesConfig:
    return policies.alternatives


def _obligations(config: AlternativesConfig, request: PolicyRequest) -> tuple[str, ...]:
    decision = evaluate(config, request, 1)
    assert decision is not None
    assert decision.allowed
    return decision.obligations


def test_only_video_is_its_business(config: AlternativesConfig, request_for: Request, case: Case) -> None:
    request = request_for("send_message", case=case(low_digital_access=True))
    assert evaluate(config, request, 1) is None


@pytest.mark.parametrize("quality", [None, "good"])
def test_nothing_to_offer_without_a_need(config: AlternativesConfig, request_for: Request, quality: str | None) -> None:
    assert evaluate(config, request_for("start_video", network_quality=quality), 1) is None


def test_low_digital_access_gets_the_configured_alternatives(
    config: AlternativesConfig, request_for: Request, case: Case
) -> None:
    request = request_for("start_video", case=case(low_digital_access=True))
    assert _obligations(config, request) == OFFERS


def test_no_network_gets_the_alternatives_once(config: AlternativesConfig, request_for: Request, case: Case) -> None:
    request = request_for("start_video", network_quality="none")
    assert _obligations(config, request) == OFFERS
    both = request_for("start_video", case=case(low_digital_access=True), network_quality="none")
    assert _obligations(config, both) == OFFERS


def test_with_no_alternatives_configured_nothing_is_offered(
    config: AlternativesConfig, request_for: Request, case: Case
) -> None:
    none_offered = msgspec.structs.replace(config, offer_for_low_digital_access=())
    request = request_for("start_video", case=case(low_digital_access=True), network_quality="none")
    assert evaluate(none_offered, request, 1) is None


def test_a_poor_network_falls_back_to_audio(config: AlternativesConfig, request_for: Request) -> None:
    request = request_for("start_video", network_quality="poor")
    assert _obligations(config, request) == ("audio_only",)
    video_anyway = msgspec.structs.replace(config, audio_only_on_poor_network=False)
    assert evaluate(video_anyway, request, 1) is None


def test_case_less_video_has_no_digital_access_flag(config: AlternativesConfig, request_for: Request) -> None:
    assert evaluate(config, request_for("start_video", case=None), 1) is None


def test_a_technical_failure_is_not_absence(config: AlternativesConfig) -> None:
    assert missed_checkin_outcome(config, technical_failure=True) == "technical_failure"
    assert missed_checkin_outcome(config, technical_failure=False) == "non_attendance"
    strict = msgspec.structs.replace(config, technical_failure_is_not_absence=False)
    assert missed_checkin_outcome(strict, technical_failure=True) == "non_attendance"
