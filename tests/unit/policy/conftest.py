from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from server.policy.facts import ActorFacts, CaseFacts, GroupFacts, PolicyRequest
from server.policy.loader import PolicySet, load_dir

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
POLICIES_DIR = Path(__file__).resolve().parents[3] / "policies"

# Default actors for each relation, consistent with the default case below.
ACTORS = {
    "supervising_officer": ActorFacts(user_id="off-1", role="officer", office_id="o-1"),
    "office_senior": ActorFacts(user_id="sen-1", role="senior_officer", office_id="o-1"),
    "client_self": ActorFacts(user_id="cli-1", role="client", office_id=None),
    "mentor": ActorFacts(user_id="men-1", role="mentor", office_id=None),
    "network_partner": ActorFacts(user_id="par-1", role="partner", office_id=None),
    "interpreter_invited": ActorFacts(user_id="int-1", role="interpreter", office_id=None),
    "facilitator": ActorFacts(user_id="fac-1", role="facilitator", office_id="o-1"),
    "own_office": ActorFacts(user_id="adm-1", role="admin", office_id="o-1"),
    "cross_office": ActorFacts(user_id="adm-0", role="admin", office_id=None, cross_office=True),
    "none": ActorFacts(user_id="off-2", role="officer", office_id="o-2"),
}


def make_case(**overrides: Any) -> CaseFacts:
    fields: dict[str, Any] = {
        "case_id": "case-1",
        "office_id": "o-1",
        "officer_id": "off-1",
        "client_id": "cli-1",
        "face_to_face_with_current_officer": 1,
        "face_to_face_total": 1,
        "exception_until": None,
    }
    fields.update(overrides)
    return CaseFacts(**fields)


def make_group(**overrides: Any) -> GroupFacts:
    fields: dict[str, Any] = {
        "participants": 5,
        "facilitators": 1,
        "hybrid": False,
        "recording": False,
        "confidentiality_accepted": True,
    }
    fields.update(overrides)
    return GroupFacts(**fields)


_DEFAULT_CASE = object()


def make_request(
    action: str,
    relation: str = "supervising_officer",
    *,
    case: Any = _DEFAULT_CASE,
    actor: ActorFacts | None = None,
    **overrides: Any,
) -> PolicyRequest:
    return PolicyRequest(
        action=action,
        actor=actor or ACTORS[relation],
        now=NOW,
        case=make_case() if case is _DEFAULT_CASE else case,
        relation=relation,
        **overrides,
    )


@pytest.fixture(scope="session")
def policies() -> PolicySet:
    return load_dir(POLICIES_DIR)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def request_for() -> Callable[..., PolicyRequest]:
    return make_request


@pytest.fixture
def case() -> Callable[..., CaseFacts]:
    return make_case


@pytest.fixture
def group() -> Callable[..., GroupFacts]:
    return make_group
