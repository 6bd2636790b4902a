from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from server.policy.decision import refuse, said
from server.policy.facts import ActorFacts, CaseFacts, PolicyRequest
from server.policy.loader import PolicySet
from server.policy.rules.face_to_face_first import evaluate, max_exception
from server.policy.schema import FaceToFaceFirstConfig

Request = Callable[..., PolicyRequest]
Case = Callable[..., CaseFacts]


@pytest.fixture
def config(policies: PolicySet) -> FaceToFaceFirstConfig:
    return policies.face_to_face_first


def _reasons(config: FaceToFaceFirstConfig, request: PolicyRequest) -> tuple[str, ...]:
    decision = evaluate(config, request, 1)
    assert decision is not None
    return decision.reasons


def test_max_exception_is_the_configured_days(config: FaceToFaceFirstConfig) -> None:
    assert max_exception(config) == timedelta(days=30)


def test_a_senior_of_the_office_may_grant_an_exception(config: FaceToFaceFirstConfig, request_for: Request) -> None:
    decision = evaluate(config, request_for("grant_exception", "office_senior"), 1)
    assert decision is not None
    assert decision.allowed
    assert decision.reasons == ("A senior officer may grant an exception of up to 30 days (rule face_to_face_first)",)


@pytest.mark.parametrize(
    ("relation", "actor", "with_case"),
    [
        ("supervising_officer", None, True),
        ("office_senior", ActorFacts(user_id="s", role="officer", office_id="o-1"), True),
        ("office_senior", ActorFacts(user_id="s", role="senior_officer", office_id="o-9"), True),
        ("office_senior", None, False),
    ],
)
def test_nobody_else_may_grant_an_exception(
    config: FaceToFaceFirstConfig,
    request_for: Request,
    relation: str,
    actor: ActorFacts | None,
    with_case: bool,
) -> None:
    kwargs = {} if with_case else {"case": None}
    decision = evaluate(config, request_for("grant_exception", relation, actor=actor, **kwargs), 1)
    assert decision is not None
    assert not decision.allowed
    assert decision.rule_id == "face_to_face_first"
    assert decision.reasons[0].startswith("Only a senior officer of the client's office")


def test_ungated_actions_are_not_its_business(config: FaceToFaceFirstConfig, request_for: Request, case: Case) -> None:
    request = request_for("read_case", case=case(face_to_face_with_current_officer=0))
    assert evaluate(config, request, 1) is None


def test_appointment_notices_are_exempt(config: FaceToFaceFirstConfig, request_for: Request, case: Case) -> None:
    request = request_for(
        "send_message",
        case=case(face_to_face_with_current_officer=0, face_to_face_total=0),
        message_kind="appointment_notice",
    )
    assert evaluate(config, request, 1) is None


@pytest.mark.parametrize("kind", ["text", None])
@pytest.mark.parametrize("relation", ["supervising_officer", "client_self"])
def test_messages_before_the_first_meeting_are_refused(
    config: FaceToFaceFirstConfig,
    request_for: Request,
    case: Case,
    kind: str | None,
    relation: str,
) -> None:
    request = request_for(
        "send_message",
        relation,
        case=case(face_to_face_with_current_officer=0, face_to_face_total=0),
        message_kind=kind,
    )
    assert evaluate(config, request, 7) == refuse_f2f(
        "none_recorded", "No face-to-face meeting with this client is recorded yet", 7)


def refuse_f2f(code: str, sentence: str, version: int = 1, **params: str | int) -> object:
    return refuse("face_to_face_first", version, said(code, sentence, **params))


@pytest.mark.parametrize("relation", ["mentor", "network_partner", "interpreter_invited"])
def test_mentors_partners_and_interpreters_are_not_gated(
    config: FaceToFaceFirstConfig, request_for: Request, case: Case, relation: str
) -> None:
    request = request_for(
        "send_message",
        relation,
        case=case(face_to_face_with_current_officer=0, face_to_face_total=0),
    )
    assert evaluate(config, request, 1) is None


def test_without_a_case_messages_pass_and_supervision_is_refused(
    config: FaceToFaceFirstConfig, request_for: Request
) -> None:
    assert evaluate(config, request_for("send_message", case=None), 1) is None
    decision = evaluate(config, request_for("start_video", case=None), 1)
    assert decision == refuse_f2f("no_case", "Remote supervision needs a case to check")


@pytest.mark.parametrize(
    ("count", "sentence"),
    [
        (1, "1 face-to-face meeting recorded, 1 required"),
        (3, "3 face-to-face meetings recorded, 1 required"),
    ],
)
def test_enough_meetings_allow(
    config: FaceToFaceFirstConfig, request_for: Request, case: Case, count: int, sentence: str
) -> None:
    request = request_for(
        "supervise_remotely",
        case=case(face_to_face_with_current_officer=count, face_to_face_total=count),
    )
    assert _reasons(config, request) == (f"{sentence} (rule face_to_face_first)",)


def test_a_new_officer_needs_a_new_meeting(config: FaceToFaceFirstConfig, request_for: Request, case: Case) -> None:
    request = request_for("start_video", case=case(face_to_face_with_current_officer=0, face_to_face_total=4))
    assert _reasons(config, request) == (
        "No face-to-face meeting with the current supervising officer is recorded yet; "
        "a change of officer needs a new one (rule face_to_face_first)",
    )
    any_officer = msgspec.structs.replace(config, require_current_officer=False)
    decision = evaluate(any_officer, request, 1)
    assert decision is not None
    assert decision.allowed


@pytest.mark.parametrize(
    ("minimum", "count", "sentence"),
    [
        (2, 1, "Only 1 of the 2 required face-to-face meetings with this client is recorded"),
        (3, 2, "Only 2 of the 3 required face-to-face meetings with this client are recorded"),
    ],
)
def test_fewer_meetings_than_required_are_refused(
    config: FaceToFaceFirstConfig,
    request_for: Request,
    case: Case,
    minimum: int,
    count: int,
    sentence: str,
) -> None:
    stricter = msgspec.structs.replace(config, min_meetings=minimum)
    request = request_for(
        "start_video",
        case=case(face_to_face_with_current_officer=count, face_to_face_total=count),
    )
    assert evaluate(stricter, request, 1) == refuse_f2f("too_few", sentence, count=count, required=minimum)


def test_an_active_exception_allows_and_says_until_when(
    config: FaceToFaceFirstConfig, request_for: Request, case: Case, now: datetime
) -> None:
    cet = timezone(timedelta(hours=1))
    until = (now + timedelta(days=3)).astimezone(cet)
    request = request_for(
        "start_video",
        case=case(face_to_face_with_current_officer=0, face_to_face_total=0, exception_until=until),
    )
    assert _reasons(config, request) == (
        "A senior-officer exception allows remote supervision until 2025-03-13 09:00 UTC (rule face_to_face_first)",
    )


@pytest.mark.parametrize("ago", [timedelta(0), timedelta(days=1)])
def test_an_ended_exception_is_named_in_the_refusal(
    config: FaceToFaceFirstConfig, request_for: Request, case: Case, now: datetime, ago: timedelta
) -> None:
    until = now - ago
    request = request_for(
        "start_video",
        case=case(face_to_face_with_current_officer=0, face_to_face_total=0, exception_until=until),
    )
    stamp = until.strftime("%Y-%m-%d %H:%M UTC")
    assert evaluate(config, request, 1) == refuse_f2f(
        "none_recorded",
        f"No face-to-face meeting with this client is recorded yet; the senior-officer exception ended {stamp}",
        exception_ended=until.isoformat().replace("+00:00", "Z"),
    )
