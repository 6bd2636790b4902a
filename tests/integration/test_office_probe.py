"""The two-office probe (issue 12): every route that names a resource, every role of
office B, against office A's resources, on SQLite and PostgreSQL.

Routes are taken from the registry, so a new route is probed as soon as it is declared.
A route is probed when its path carries an id, or when its body names a resource
(``BODY_IDS``). Each cell (route x office-B role) sends the request twice: once with
office A's ids, once with random ids, and asserts:

- no 5xx, and the office-A request is refused (no 2xx): it would read or change data of
  another office. Writes also compare row counts of every table, audit log included;
- the two answers are the same: status, code, rule id and message (ids taken out of it),
  so an id of office A cannot be told from an id that does not exist.

Body cells do the same on office B's own resources (a fresh case of officer3, a group of
facilitator_b) with one case or user of office A named in the body (``OFFICE_PLACEHOLDERS``
of the route's example: a new supervising officer, a facilitator, a case to enrol, a
mentor) against a random id there.

Writes that would change their target if they were wrongly allowed get a fresh office-A
target per cell (``FRESH``), so one cell cannot change what the next one sees. One world
per database, built once for the module on a live server.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.app import build_registry
from server.groups.sessions import NewSession
from server.identity.model import Actor, Role
from server.ids import new_id
from server.scheduling.model import Kind
from server.scheduling.service import NewAppointment
from server.web.state import Services
from tests.conftest import make_settings
from tests.helpers import db, world
from tests.helpers.http import row_counts, substitute
from tests.helpers.live import LiveServer
from tests.helpers.services import require_postgres
from tests.helpers.world import OFFICE_B, PASSWORD

ROUTES = {(r.method, r.path): r for r in build_registry().routes}
PARAM = re.compile(r"\{(\w+)\}")
#: Path parameters that name no office's data: a policy rule is the deployment's, a device
#: test lives in memory for the user who started it (tests/media/test_echo.py refuses
#: someone else's).
NOT_OFFICE_DATA = {"rule_id", "echo_id", "figure"}  # an evaluation figure's name is every office's
#: Path parameters naming office A's resources (``_targets`` makes one of each).
KINDS = ("case_id", "appointment_id", "checkin_id", "conversation_id", "attachment_id", "group_id", "user_id",
         "request_id", "assignment_id", "mentoring_id", "alert_id", "session_id", "room_id",
         "meeting_id")
#: Routes with no id in the path whose body names office A's resource: the supervising
#: officer of a new case, the client to be given a mentor (office B's own mentor).
BODY_IDS = {("POST", "/api/cases"), ("POST", "/api/mentor-assignments")}
#: Placeholders of example bodies that name an office's case or user (partners and
#: interpreters belong to no office). Each is probed on office B's own resources too.
OFFICE_PLACEHOLDERS = ("OFFICER", "CASE", "CLIENT", "MENTOR", "FACILITATOR")
#: Routes whose target would change if the call were wrongly allowed: a fresh one per cell.
FRESH = {(m, p) for (m, p) in ROUTES if m != "GET"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HEX_ID = re.compile(r"[0-9a-f]{32}")
WAIT = re.compile(r"\d+ s\b")


def probed() -> list[tuple[str, str]]:
    out = []
    for (method, path) in ROUTES:
        params = set(PARAM.findall(path)) - NOT_OFFICE_DATA
        if params or (method, path) in BODY_IDS:
            out.append((method, path))
    return sorted(out)


def body_probed() -> list[tuple[str, str, str]]:
    """(method, path, placeholder) of every route whose example body names an office's case or user."""
    return sorted((m, path, name) for (m, path), spec in ROUTES.items() for name in OFFICE_PLACEHOLDERS
                  if f'"{name}"' in json.dumps(spec.example))


def test_every_path_parameter_has_an_office_a_resource() -> None:
    unknown = {p for (_m, path) in ROUTES for p in PARAM.findall(path)} - set(KINDS) - NOT_OFFICE_DATA
    assert not unknown, f"path parameters with no office-A resource in the probe: {unknown}"


# -- the world ---------------------------------------------------------------------------


@dataclass
class Probe:
    live: LiveServer
    services: Services
    w: world.World
    http: aiohttp.ClientSession
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # office-B role -> bearer headers
    shared: dict[str, str] = field(default_factory=dict)  # path parameter -> an office-A id for reads
    n: Iterator[int] = field(default_factory=lambda: iter(range(1_000_000)))

    def run(self, coro: Any) -> Any:
        return self.live.run(coro)


@dataclass(frozen=True)
class Staff:
    """Who builds an office's resources in the probe."""

    office: str
    senior: str
    officer: str
    facilitator: str
    mentor: str


A = Staff("A", "senior", "officer", "facilitator", "mentor")
B = Staff("B", "senior_b", "officer3", "facilitator_b", "mentor_b")


async def _case(p: Probe, s: Staff) -> tuple[str, str]:
    """A fresh case of the office, on the officer's caseload: (case id, client id)."""
    n = next(p.n)
    made = await p.services.cases.create_case(p.w.actor(s.senior), client_username=f"probe_client_{n}",
                                              client_display_name=f"Probe {n}", officer_id=p.w.users[s.officer])
    return made.case_id, made.client_id


async def _appointment(p: Probe, s: Staff, case_id: str) -> str:
    start = p.services.clock.now() + timedelta(minutes=5)
    made = await p.services.scheduling.create(p.w.actor(s.officer), case_id, NewAppointment(
        kind=Kind.IN_PERSON, starts_at=start, ends_at=start + timedelta(minutes=30), location="Office"))
    return made[0].appointment.id


async def _checkin(p: Probe, s: Staff, case_id: str) -> str:
    now = p.services.clock.now()
    done = await p.services.checkins.schedule_checkin(p.w.actor(s.officer), case_id, now - timedelta(minutes=5),
                                                      now + timedelta(hours=1))
    return str(done.row.id)


async def _group(p: Probe, s: Staff, case_id: str) -> str:
    n = next(p.n)
    group = await p.services.groups.create_cohort(p.w.actor(s.facilitator), name=f"Probe {n}", programme="Probe")
    await p.services.groups.enrol(p.w.actor(s.facilitator), group, case_id)
    return group


async def _conversation(p: Probe, client_id: str) -> str:
    rows = await p.services.messaging.conversations(Actor(client_id, "", "", Role.CLIENT, None, "en", False))
    return next(str(c.id) for c, _members, _may in rows if c.kind == "case")


async def _targets(p: Probe, names: set[str], s: Staff = A) -> dict[str, str]:
    """An office's resources around one fresh case: those ``names`` asks for (a path's parameters)."""
    case_id, client_id = await _case(p, s)
    client = Actor(client_id, "", "", Role.CLIENT, None, "en", False)
    out = {"case_id": case_id, "client_id": client_id}
    if names & {"conversation_id", "attachment_id", "checkin_id", "alert_id"}:  # remote supervision starts face to face
        await p.services.cases.record_face_to_face(p.w.actor(s.officer), case_id, location="Office",
                                                   met_at=p.services.clock.now() - timedelta(days=1))
    if names & {"conversation_id", "attachment_id"}:
        out["conversation_id"] = await _conversation(p, client_id)
        out["attachment_id"] = (await p.services.attachments.upload(client, out["conversation_id"], "image/png",
                                                                    PNG)).id
    if "user_id" in names:
        out["staff_id"] = await p.services.identity.create_user(
            None, username=f"probe_staff_{next(p.n)}", display_name="Staff", role=Role.OFFICER,
            office_id=p.w.offices[s.office], password=None)
    if "appointment_id" in names:
        out["appointment_id"] = await _appointment(p, s, case_id)
    if "checkin_id" in names:
        out["checkin_id"] = await _checkin(p, s, case_id)
    if "alert_id" in names:  # the officer's: their client could not talk safely in a check-in
        unsafe = await _checkin(p, s, case_id)
        await p.services.checkins.answer_safe_space(client, unsafe, {}, cant_talk=True)
        alerts = await p.services.alerts.open_alerts(p.w.actor(s.officer))
        out["alert_id"] = next(a.row.id for a in alerts if a.row.checkin_id == unsafe)
    if names & {"group_id", "session_id"}:
        out["group_id"] = await _group(p, s, case_id)
    if "session_id" in names:
        start = p.services.clock.now() - timedelta(minutes=1)
        made = await p.services.group_sessions.schedule(p.w.actor(s.facilitator), out["group_id"], NewSession(
            start, start + timedelta(minutes=90)))
        out["session_id"] = made[0].id
    if "room_id" in names:
        out["room_id"] = await p.services.rooms.create_room(p.w.actor(s.senior), name=f"Probe room {next(p.n)}",
                                                            kind="office")
    if "meeting_id" in names:  # a network meeting by video on the case (issue 16)
        networks = p.services.networks
        await networks.raise_concern(p.w.actor(s.officer), case_id, noticed="Probe", noticed_by="Probe")
        out["meeting_id"] = await networks.schedule_meeting(
            p.w.actor(s.officer), case_id, starts_at=p.services.clock.now() + timedelta(minutes=5), mode="video")
    if "request_id" in names:
        out["request_id"] = await p.services.retention.request(client, "rectification", "Wrong address", [])
    if names & {"assignment_id", "mentoring_id"}:  # a mentor's routes name their assignment "mentoring_id"
        out["assignment_id"] = out["mentoring_id"] = (await p.services.cases.assign_mentor(
            p.w.actor(s.officer), mentor_id=p.w.users[s.mentor], client_id=client_id)).id
    return out


def _placeholders(p: Probe, ids: dict[str, str], s: Staff) -> dict[str, str]:
    """What an example body's placeholders name: the case and client of ``ids``, the office's
    staff, and the partner and interpreter of office B's case (they belong to no office)."""
    return {"OFFICER": p.w.users[s.officer], "CLIENT": ids["client_id"], "CASE": ids["case_id"],
            "FACILITATOR": p.w.users[s.facilitator], "MENTOR": p.w.users[s.mentor],
            "PARTNER": p.w.users["partner_b"], "INTERPRETER": p.w.users["interpreter_b"]}


def _random_targets() -> dict[str, str]:
    return {k: new_id() for k in (*KINDS, "client_id", "staff_id")}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def probe(request: pytest.FixtureRequest, sqlite_template: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    tmp = tmp_path_factory.mktemp("probe")
    if request.param == "sqlite":
        url = db.sqlite_copy(sqlite_template, tmp)
    else:
        require_postgres()
        url = request.getfixturevalue("pg_database")
        asyncio.run(db.truncate_pg(url))
    with LiveServer(make_settings(url, tmp)) as live:
        assert live.services is not None
        services = live.services

        async def setup() -> Probe:
            w = await world.build(services)
            await world.add_office_b(services, w)
            p = Probe(live, services, w, aiohttp.ClientSession(live.url))
            for role, username in OFFICE_B.items():
                resp = await p.http.post("/api/session", json={"username": username, "password": PASSWORD,
                                                               "kind": "bearer"})
                assert resp.status == 200, await resp.text()
                p.headers[role] = {"Authorization": f"Bearer {(await resp.json())['token']}"}
            p.shared = await _targets(p, set(KINDS))
            return p

        p = live.run(setup)
        yield p
        live.run(p.http.close)


# -- the cells -------------------------------------------------------------------------


def _request(p: Probe, method: str, path: str, ids: dict[str, str], names: dict[str, str]) -> tuple[str, Any]:
    """The URL (ids from ``ids``) and body (placeholders from ``names``) of one call."""
    spec = ROUTES[(method, path)]
    # A user in a group's path is its member (the client enrolled in it), elsewhere a staff account.
    named = {**ids, "user_id": ids["client_id"] if "{group_id}" in path else ids.get("staff_id", "")}
    url = path
    for name in PARAM.findall(path):
        url = url.replace("{" + name + "}", named[name])
    body = substitute(copy.deepcopy(spec.example), names)
    match (method, path):
        case ("POST", "/api/cases"):
            body.update(client_username=f"probe_new_{next(p.n)}")
        case ("POST", "/api/cases/{case_id}/face-to-face"):
            body.update(met_at=(p.services.clock.now() - timedelta(hours=1)).isoformat())
        case ("POST", "/api/conversations/{conversation_id}/attachments"):
            body = PNG
    return url, body


@dataclass(frozen=True)
class Answer:
    status: int
    code: str | None
    rule_id: str | None
    message: str | None
    text: str

    def shape(self) -> tuple[Any, ...]:
        message = HEX_ID.sub("<id>", self.message) if self.message else None
        if self.code == "rate_limited" and message:  # the public code routes throttle the probe's one
            message = WAIT.sub("<n> s", message)     # address: the seconds left tell nothing of office A
        return self.status, self.code, self.rule_id, message


async def _call(p: Probe, method: str, url: str, body: Any, headers: dict[str, str]) -> Answer:
    sent: dict[str, Any] = ({"data": body, "headers": {**headers, "Content-Type": "image/png"}}
                            if isinstance(body, bytes) else {"json": body, "headers": headers})
    async with p.http.request(method, url, **sent) as resp:
        text = await resp.text(errors="replace")
        err = {}
        if resp.content_type == "application/json" and text:
            payload = await resp.json()
            err = payload.get("error", {}) if isinstance(payload, dict) else {}
        return Answer(resp.status, err.get("code"), err.get("rule_id"), err.get("message"), text[:300])


async def _compare(p: Probe, method: str, where: str, role: str, real: tuple[str, Any],
                   random: tuple[str, Any]) -> None:
    headers = p.headers[role]
    before = await row_counts(p.services) if method != "GET" else None
    got_real = await _call(p, method, *real, headers)
    written = before is not None and await row_counts(p.services) != before
    got_random = await _call(p, method, *random, headers)
    where = f"{where} as {role} of office B"
    assert got_real.status < 500 and got_random.status < 500, f"{where}: {got_real.text} / {got_random.text}"
    assert got_real.status >= 400, f"{where} reached office A: {got_real.status} {got_real.text}"
    assert not written, f"{where}: refused, but rows were written"
    assert got_real.shape() == got_random.shape(), (
        f"{where}: office A's id answers {got_real.shape()}, a random id {got_random.shape()}")


async def _probe_cell(p: Probe, method: str, path: str, role: str) -> None:
    real = await _targets(p, set(PARAM.findall(path))) if (method, path) in FRESH else p.shared
    random = _random_targets()
    await _compare(p, method, f"{method} {path}", role, _request(p, method, path, real, _placeholders(p, real, A)),
                   _request(p, method, path, random, _placeholders(p, random, A)))


async def _probe_body_cell(p: Probe, method: str, path: str, role: str, placeholder: str) -> None:
    own = await _targets(p, set(PARAM.findall(path)), B)
    names = _placeholders(p, own, B)
    foreign = {**names, placeholder: _placeholders(p, p.shared, A)[placeholder]}
    await _compare(p, method, f"{method} {path} naming office A's {placeholder.lower()}", role,
                   _request(p, method, path, own, foreign),
                   _request(p, method, path, own, {**names, placeholder: new_id()}))


def _cells() -> list[Any]:
    out = []
    for method, path in probed():
        for role in world.ROLES:
            out.append(pytest.param(method, path, role, id=f"{method} {path} {role}"))
    return out


@pytest.mark.parametrize(("method", "path", "role"), _cells())
def test_other_office_cannot_tell_or_touch(probe: Probe, method: str, path: str, role: str) -> None:
    probe.run(_probe_cell(probe, method, path, role))


def _body_cells() -> list[Any]:
    out = []
    for method, path, name in body_probed():
        for role in world.ROLES:
            out.append(pytest.param(method, path, name, role, id=f"{method} {path} {name} {role}"))
    return out


@pytest.mark.parametrize(("method", "path", "placeholder", "role"), _body_cells())
def test_office_a_ids_in_the_body_cannot_be_told(probe: Probe, method: str, path: str, placeholder: str,
                                                 role: str) -> None:
    """Office B's own resource in the path, office A's case or user in the body."""
    probe.run(_probe_body_cell(probe, method, path, role, placeholder))
