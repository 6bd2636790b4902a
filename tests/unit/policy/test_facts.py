from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from server.policy.facts import (
    ACTIONS,
    RELATIONS,
    ROLES,
    ActorFacts,
    CaseFacts,
    GroupFacts,
    PolicyRequest,
)

OFFICER = ActorFacts(user_id="u", role="officer", office_id="o")
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_the_vocabularies_are_the_documented_ones() -> None:
    assert ACTIONS == (
        "supervise_remotely",
        "send_message",
        "start_video",
        "join_group",
        "enrol_group",
        "read_case",
        "write_case",
        "grant_exception",
        "act_in_office",
        "read_network",
        "write_network",
        "read_mentoring",
        "write_mentoring",
        "record_mentoring_outcome",
    )
    assert "room_device" in ROLES
    assert RELATIONS[-1] == "none"


def test_a_request_has_safe_defaults() -> None:
    request = PolicyRequest(action="read_case", actor=OFFICER, now=NOW)
    assert request.case is None
    assert request.relation == "none"
    assert request.group is None


def test_an_aware_non_utc_now_is_accepted() -> None:
    now = datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    assert PolicyRequest(action="read_case", actor=OFFICER, now=now).now == now


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="role 'judge' is not one of"):
        ActorFacts(user_id="u", role="judge", office_id=None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("action", "delete_case"),
        ("relation", "friend"),
        ("message_kind", "sms"),
        ("network_quality", "great"),
        ("category", "photos"),
    ],
)
def test_unknown_vocabulary_in_a_request_is_refused(field: str, value: str) -> None:
    fields: dict[str, Any] = {"action": "read_case", "actor": OFFICER, "now": NOW}
    fields[field] = value
    with pytest.raises(ValueError, match=f"{field} '{value}' is not one of"):
        PolicyRequest(**fields)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        PolicyRequest(action="read_case", actor=OFFICER, now=datetime(2025, 1, 1))


def test_a_naive_exception_end_is_refused(case: Callable[..., CaseFacts]) -> None:
    with pytest.raises(ValueError, match="exception_until must be a timezone-aware"):
        case(exception_until=datetime(2025, 1, 1))


@pytest.mark.parametrize(("current", "total"), [(-1, 0), (2, 1)])
def test_meeting_counts_must_agree(case: Callable[..., CaseFacts], current: int, total: int) -> None:
    with pytest.raises(ValueError, match="face_to_face_with_current_officer"):
        case(face_to_face_with_current_officer=current, face_to_face_total=total)


def test_case_flags_default_to_false(case: Callable[..., CaseFacts]) -> None:
    facts = case()
    assert not (facts.domestic_violence)
    assert not (facts.protected_person)
    assert not facts.legal_hold
    assert facts.language is None


@pytest.mark.parametrize(("participants", "facilitators"), [(-1, 0), (0, -1)])
def test_group_counts_cannot_be_negative(
    group: Callable[..., GroupFacts], participants: int, facilitators: int
) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        group(participants=participants, facilitators=facilitators)


@pytest.mark.parametrize(("role", "office_id"), [("officer", None), ("admin", "o")])
def test_only_an_admin_with_no_office_is_cross_office(role: str, office_id: str | None) -> None:
    with pytest.raises(ValueError, match="only an admin with no office"):
        ActorFacts(user_id="u", role=role, office_id=office_id, cross_office=True)
