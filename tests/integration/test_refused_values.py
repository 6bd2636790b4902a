"""Dates outside the supported years and names holding control or bidirectional-formatting
characters are refused with a coded 400 naming the field, never a 500, on every route that
takes one, on SQLite and PostgreSQL (issue 12, findings 5 and 6).

The cases are generated from the served OpenAPI document: every query parameter or body
field of format ``date`` or ``date-time``, and every field marked ``x-name``. A new route
is covered when it is declared; its ``example`` body is the valid request each case spoils
in one field.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.clock import FakeClock
from server.identity.passwords import Passwords
from server.web.routing import RouteSpec
from server.web.state import SERVICES, Services
from tests.conftest import make_settings
from tests.helpers.http import error_of, row_counts
from tests.helpers.world import World, build, login

OUT_OF_RANGE = {"date": ("9999-12-31", "0001-01-01"),
                "date-time": ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00")}
IN_RANGE = {"date": "2026-01-05", "date-time": "2026-01-05T09:00:00Z"}
REFUSED_NAMES = ("Tar\x00tu", "Tartu\u202eutraT", "Tar\ntu", "a\u2066b\u2069", "x\u200fy")
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Case:
    spec: RouteSpec
    where: str  # query | body
    path: tuple[str, ...]  # the field, through nested objects
    value: str

    def __str__(self) -> str:
        return f"{self.spec.method} {self.spec.path} {self.where} {'.'.join(self.path)}={self.value!r}"


def fields(schema: dict[str, Any], components: dict[str, Any], path: tuple[str, ...] = (),
           seen: frozenset[str] = frozenset()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every (path, schema) of a JSON schema's leaves, through $ref, anyOf and nested objects."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return
        yield from fields(components[name], components, path, seen | {name})
        return
    for alt in schema.get("anyOf", []):
        yield from fields(alt, components, path, seen)
    for name, prop in schema.get("properties", {}).items():
        yield from fields(prop, components, (*path, name), seen)
    if "anyOf" not in schema and "properties" not in schema:
        yield path, schema


def with_value(body: dict[str, Any], path: tuple[str, ...], value: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    inner = out
    for key in path[:-1]:
        inner = inner.setdefault(key, {})
    inner[path[-1]] = value
    return out


def generate(document: dict[str, Any], specs: list[RouteSpec],
             pick: Callable[[dict[str, Any]], tuple[str, ...]]) -> list[Case]:
    """A case per value ``pick(schema)`` returns for a field, in the query or the body."""
    components = document["components"]["schemas"]
    cases = []
    for spec in specs:
        op = document["paths"][spec.path][spec.method.lower()]
        for param in op.get("parameters", []):
            if param["in"] == "query":
                for _, leaf in fields(param["schema"], components):
                    cases += [Case(spec, "query", (param["name"],), v) for v in pick(leaf)]
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            for path, leaf in fields(body["schema"], components):
                cases += [Case(spec, "body", path, v) for v in pick(leaf)]
    return cases


def dates(leaf: dict[str, Any]) -> tuple[str, ...]:
    return OUT_OF_RANGE.get(leaf.get("format", ""), ())


def names(leaf: dict[str, Any]) -> tuple[str, ...]:
    return REFUSED_NAMES if leaf.get("x-name") else ()


class Env:
    def __init__(self, client: TestClient[Any, Any], services: Services, w: World) -> None:
        self.client, self.services, self.w = client, services, w
        self.headers: dict[str, dict[str, str]] = {}

    async def caller(self, spec: RouteSpec) -> dict[str, str]:
        """Bearer headers of a user the route's roles let through (none for a public route)."""
        if spec.permission.public:
            return {}
        roles = spec.permission.roles
        username = next(u for u, a in self.w.actors.items() if roles is None or a.role in roles)
        if username not in self.headers:
            self.headers[username] = await login(self.client, username)
        return self.headers[username]

    async def send(self, case: Case, document: dict[str, Any]) -> Any:
        spec = case.spec
        url = _PARAM.sub("x", spec.path)  # the values are refused when decoded, before any lookup
        query: dict[str, str] = {}
        body: dict[str, Any] | None = dict(spec.example) if spec.example is not None else None
        if case.where == "query":
            op = document["paths"][spec.path][spec.method.lower()]
            for param in op.get("parameters", []):
                if param["in"] == "query" and param.get("required"):
                    components = document["components"]["schemas"]
                    fmt = next((leaf.get("format") for _, leaf in fields(param["schema"], components)), None)
                    query[param["name"]] = IN_RANGE[str(fmt)]
            query[case.path[0]] = case.value
        else:
            assert body is not None, f"{spec.method} {spec.path}: declare an example body for the generated cases"
            body = with_value(body, case.path, case.value)
        return await self.client.request(spec.method, url, params=query, json=body,
                                         headers=await self.caller(spec))


@pytest.fixture
async def env(tmp_path: Path, db_url: str, clock: FakeClock, aiohttp_client: Any) -> Env:
    app = create_app(make_settings(db_url, tmp_path), clock=clock, passwords=Passwords(memory_cost=1024, time_cost=1))
    client = await aiohttp_client(app)
    services = app[SERVICES]
    return Env(client, services, await build(services))


async def served(env: Env) -> dict[str, Any]:
    resp = await env.client.get("/api/openapi.json")
    assert resp.status == 200
    document: dict[str, Any] = await resp.json()
    return document


async def refused_everywhere(env: Env, cases: list[Case], code: str) -> None:
    document = await served(env)
    before = await row_counts(env.services)
    wrong = []
    for case in cases:
        resp = await env.send(case, document)
        if resp.status != 400:
            wrong.append(f"{case}: {resp.status} {(await resp.text())[:200]}")
            continue
        err = await error_of(resp, 400, code)
        if case.path[-1] not in err["message"]:
            wrong.append(f"{case}: the message does not name the field: {err['message']}")
    assert wrong == []
    after = await row_counts(env.services)
    before.pop("sessions"), after.pop("sessions")
    before.pop("audit_log"), after.pop("audit_log")  # the sign-ins above
    assert after == before


async def test_dates_out_of_range_are_400_on_every_route_that_takes_one(env: Env) -> None:
    cases = generate(await served(env), env.services.registry.routes, dates)
    covered = {(c.spec.method, c.spec.path, ".".join(c.path)) for c in cases}
    assert {("GET", "/api/schedule", "date"), ("GET", "/api/checkins", "start"),
            ("POST", "/api/cases/{case_id}/appointments", "recurrence.until"),
            ("POST", "/api/cases/{case_id}/face-to-face", "met_at")} <= covered
    await refused_everywhere(env, cases, "date_out_of_range")


async def test_the_edges_of_the_supported_years_are_accepted(env: Env) -> None:
    officer = await login(env.client, "officer")
    for day in ("1900-01-01", "2200-12-31"):
        for view in ("day", "week"):
            resp = await env.client.get("/api/schedule", params={"date": day, "view": view}, headers=officer)
            assert resp.status == 200, await resp.text()
    for start in ("1900-01-01T00:00:00+14:00", "2200-12-31T23:59:59-14:00"):
        resp = await env.client.get("/api/checkins", params={"start": start}, headers=officer)
        assert resp.status == 200, await resp.text()


async def test_names_with_control_or_bidi_characters_are_400_on_every_route_that_takes_one(env: Env) -> None:
    cases = generate(await served(env), env.services.registry.routes, names)
    covered = {(c.spec.method, c.spec.path, ".".join(c.path)) for c in cases}
    assert {("POST", "/api/admin/users", "display_name"), ("POST", "/api/cases", "client_display_name"),
            ("POST", "/api/admin/offices", "name"), ("POST", "/api/groups", "name"),
            ("POST", "/api/groups", "programme"), ("POST", "/api/cases/{case_id}/appointments", "location"),
            ("PATCH", "/api/appointments/{appointment_id}", "location"),
            ("POST", "/api/cases/{case_id}/face-to-face", "location")} <= covered
    await refused_everywhere(env, cases, "invalid_name")


async def test_names_are_stored_in_nfc(env: Env) -> None:
    admin = await login(env.client, "admin")
    resp = await env.client.post("/api/admin/users", headers=admin, json={
        "username": "cafe", "display_name": "Cafe\u0301 \u05d0\u05d1", "role": "officer",
        "password": "a-long-password"})
    assert resp.status == 201, await resp.text()
    listed = await (await env.client.get("/api/admin/users", headers=admin)).json()
    assert "Caf\u00e9 \u05d0\u05d1" in [u["display_name"] for u in listed["users"]]  # Hebrew needs no bidi controls

