"""Schemathesis against the served OpenAPI document of a real running server.

One server (SQLite, system clock) for the module, its world built through the action
functions; every operation is fuzzed as an admin and as an officer with a bearer token,
with valid and invalid data. Checks: no 5xx ever, and every documented response
(including every error) matches its declared schema and content type.

Path parameters are half of the time a real id (the officer's own case, a spare user,
a real rule), so bodies reach the service layer and not only the 404 of an unknown id.
Sign-out gets a spare session, so the fuzzing tokens stay alive.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from server.identity.model import Role
from server.messaging.attachments import MAGIC
from server.policy.loader import RULE_IDS
from server.scheduling.model import Kind, Recurrence
from server.scheduling.service import NewAppointment
from tests.conftest import make_settings
from tests.helpers import db
from tests.helpers.live import LiveServer
from tests.helpers.world import PASSWORD, World, build

schemathesis.experimental.OPEN_API_3_1.enable()
# Attachment uploads are raw files: any bytes, and half the time a real file signature.
for _media_type, (_magic, *_) in MAGIC.items():
    schemathesis.openapi.media_type(_media_type, st.binary(max_size=1024) | st.binary(max_size=1024).map(
        lambda b, m=_magic: m + b))

# Each fuzzer is ONE pytest item holding every operation as a subtest: the project-wide 180 s
# limit was reached on a loaded machine once the API passed ~170 operations (pytest-timeout's
# signal then broke hypothesis mid-run, and the report hid which operation it was in).
FUZZ_TIMEOUT_S = 1800
CHECKS = (not_a_server_error, response_schema_conformance, content_type_conformance)
FUZZ = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


@dataclass
class Live:
    url: str
    world: World
    tokens: dict[str, str]  # role -> bearer token
    spare_token: str  # signed out by the fuzzer's DELETE /api/session
    spare_user: str
    turn: itertools.count[int]
    appointments: list[str]  # a weekly video series of the officer's own case

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints fixtures of a failing example; the URL is all that helps there.
        printer.text(f"Live({self.url})")


def _bearer(url: str, username: str) -> str:
    resp = requests.post(f"{url}/api/session", json={"username": username, "password": PASSWORD, "kind": "bearer"},
                         timeout=30)
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["token"]
    return token


@pytest.fixture(scope="module")
def live(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("fuzz")
    # Throttling off, so generated sign-ins and enrolments reach the password check
    # instead of stopping at a 429 after the first twenty.
    settings = make_settings(db.sqlite_copy(sqlite_template, tmp), tmp, login_limit_per_source=1_000_000,
                             login_limit_per_account=1_000_000, login_limit_per_address=1_000_000)
    with LiveServer(settings) as server:
        assert server.services is not None
        services = server.services
        w = server.run(build(services))
        spare_user = server.run(services.identity.create_user(
            None, username="spare", display_name="Spare", role=Role.OFFICER, office_id=w.offices["A"], password=None))
        start = services.clock.now() + timedelta(days=1)
        made = server.run(services.scheduling.create(w.actor("officer"), w.cases["own"], NewAppointment(
            kind=Kind.VIDEO, starts_at=start, ends_at=start + timedelta(minutes=30),
            recurrence=Recurrence(interval_weeks=1, count=20))))
        yield Live(server.url, w, {role: _bearer(server.url, role) for role in ("admin", "officer")},
                   _bearer(server.url, "officer2"), spare_user, itertools.count(),
                   [e.appointment.id for e in made])


@pytest.fixture(scope="module")
def served_schema(live: Live) -> Any:
    return schemathesis.from_uri(f"{live.url}/api/openapi.json")


schema = schemathesis.from_pytest_fixture(
    "served_schema",
    data_generation_methods=[schemathesis.DataGenerationMethod.positive, schemathesis.DataGenerationMethod.negative],
    # We sign in ourselves; generated credentials (a cookie of control characters) are
    # refused by aiohttp's HTTP parser in plain text before Tandem sees the request.
    generation_config=schemathesis.GenerationConfig(with_security_parameters=False),
)


def _aim(case: Any, live: Live) -> None:
    """Every other example, point path parameters at things that exist."""
    if next(live.turn) % 2 or not case.path_parameters:
        return
    real = {"case_id": live.world.cases["own"], "user_id": live.spare_user,
            "rule_id": RULE_IDS[next(live.turn) % len(RULE_IDS)],
            "appointment_id": live.appointments[next(live.turn) % len(live.appointments)]}
    case.path_parameters = {k: real.get(k, v) for k, v in case.path_parameters.items()}


def _call(case: Any, live: Live, role: str) -> None:
    _aim(case, live)
    token = live.tokens[role]
    if (case.method, case.path) == ("DELETE", "/api/session"):
        token = live.spare_token
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=30)


@pytest.mark.timeout(FUZZ_TIMEOUT_S)
@schema.parametrize()
@FUZZ
def test_fuzz_as_admin(case: Any, live: Live) -> None:
    _call(case, live, "admin")


@pytest.mark.timeout(FUZZ_TIMEOUT_S)
@schema.parametrize()
@FUZZ
def test_fuzz_as_officer(case: Any, live: Live) -> None:
    _call(case, live, "officer")


def test_fuzzing_left_the_tokens_alive(live: Live) -> None:
    # Runs after the fuzzers (file order): if a token died mid-run, the fuzzing above
    # only ever saw 401s and proved nothing.
    for role, token in live.tokens.items():
        resp = requests.get(f"{live.url}/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert resp.status_code == 200, role
