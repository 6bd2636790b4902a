"""Bad input gets a clear JSON error with the right status and loses nothing, on SQLite
and PostgreSQL.

Every refusal here is checked for the one error shape ``{"error": {"code", "message"}}``
and, where the request tried to write, for leaving every table (audit log included)
exactly as it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.clock import FakeClock
from server.identity.passwords import Passwords
from server.web.state import SERVICES, Services
from tests.conftest import make_settings
from tests.helpers.http import error_of, row_counts
from tests.helpers.world import PASSWORD, World, build, login


class Env:
    def __init__(self, client: TestClient[Any, Any], services: Services, w: World) -> None:
        self.client, self.services, self.w = client, services, w
        self.h: dict[str, dict[str, str]] = {}

    async def sign_in(self, *usernames: str) -> None:
        for username in usernames:
            self.h[username] = await login(self.client, username)

    def note_url(self) -> str:
        return f"/api/cases/{self.w.cases['own']}/notes"


@pytest.fixture
async def env(tmp_path: Path, db_url: str, clock: FakeClock, aiohttp_client: Any) -> Env:
    # As the ``api`` fixture, with argon2 at its cheapest: every test here builds a world
    # of a dozen accounts, and none of them is about the cost of hashing.
    app = create_app(make_settings(db_url, tmp_path), clock=clock,
                     passwords=Passwords(memory_cost=1024, time_cost=1))
    client = await aiohttp_client(app)
    services = app[SERVICES]
    e = Env(client, services, await build(services))
    await e.sign_in("officer", "admin", "senior")
    return e


async def unchanged(e: Env, method: str, url: str, status: int, code: str, *, ignore: tuple[str, ...] = (),
                    **kwargs: Any) -> dict[str, Any]:
    """Send a request that must fail with (status, code) and write nothing (but ``ignore``d tables)."""
    before = await row_counts(e.services)
    resp = await e.client.request(method, url, **kwargs)
    err = await error_of(resp, status, code)
    after = await row_counts(e.services)
    for name in ignore:
        before.pop(name), after.pop(name)
    assert after == before, f"{method} {url} wrote rows while failing: {err}"
    return err


# -- bodies -------------------------------------------------------------------------


async def test_malformed_json_is_400_and_writes_nothing(env: Env) -> None:
    headers = {**env.h["officer"], "Content-Type": "application/json"}
    for raw in (b"{", b'{"text": "unterminated', b"\xff\xfe\x00", b"{'text': 'single'}", b'{"text": "a"} trailing',
                b""):
        err = await unchanged(env, "POST", env.note_url(), 400, "invalid_request", data=raw, headers=headers)
        assert "JSON" in err["message"], raw


INVALID_NOTES: list[tuple[Any, str]] = [
    ({"text": 5}, "$.text"),  # wrong type
    ({"text": ["a"]}, "$.text"),
    ({"text": None}, "$.text"),
    ({"text": ""}, "$.text"),  # too short
    ({"text": "x" * 10_001}, "$.text"),  # too long
    ({"text": "ok", "author_id": "someone-else"}, "author_id"),  # unknown field
    ({}, "text"),  # missing field
    ([], "object"),  # not an object
    ("text", "object"),
]


async def test_invalid_body_is_422_naming_the_field(env: Env) -> None:
    for body, names in INVALID_NOTES:
        err = await unchanged(env, "POST", env.note_url(), 422, "invalid_request", json=body,
                              headers=env.h["officer"])
        assert names in err["message"], (body, err)


async def test_numbers_out_of_range_and_duplicated_keys(env: Env) -> None:
    url = f"/api/cases/{env.w.cases['same_office']}/exceptions"
    headers = {**env.h["senior"], "Content-Type": "application/json"}
    for raw in (b'{"days": 1e400, "reason": "x"}', b'{"days": 123456789012345678901234567890, "reason": "x"}',
                b'{"days": 7.5, "reason": "x"}', b'{"days": "7", "reason": "x"}', b'{"days": true, "reason": "x"}'):
        err = await unchanged(env, "POST", url, 422, "invalid_request", data=raw, headers=headers)
        assert "days" in err["message"], raw


async def test_deeply_nested_json_is_refused_not_a_crash(env: Env) -> None:
    # ChangePolicy.config is free-form JSON; a hostile nesting depth must be a 4xx.
    depth = 20_000
    raw = b'{"reason": "x", "config": {"a": ' + b"[" * depth + b"]" * depth + b"}}"
    headers = {**env.h["admin"], "Content-Type": "application/json"}
    resp = await env.client.put("/api/policies/face_to_face_first", data=raw, headers=headers)
    assert 400 <= resp.status < 500
    await error_of(resp)


async def test_wrong_content_type_is_refused(env: Env) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        headers = {**env.h["officer"], "Content-Type": content_type}
        err = await unchanged(env, "POST", env.note_url(), 415, "unsupported_media_type", data=b'{"text": "hello"}',
                              headers=headers)
        assert "application/json" in err["message"]
    # No content type at all, as from a bare HTTP client.
    headers = {**env.h["officer"]}
    await unchanged(env, "POST", env.note_url(), 415, "unsupported_media_type", data=b'{"text": "hello"}',
                    headers={**headers, "Content-Type": ""})
    # A charset parameter is fine.
    resp = await env.client.post(env.note_url(), data=b'{"text": "hello"}',
                                 headers={**headers, "Content-Type": "application/json; charset=utf-8"})
    assert resp.status == 201


async def test_oversized_bodies_are_413_on_every_kind_of_route(env: Env) -> None:
    limit = env.services.settings.max_body_bytes
    big = b'{"text": "' + b"x" * limit + b'"}'
    json_headers = {"Content-Type": "application/json"}
    # Declared length, authenticated route with a body.
    await unchanged(env, "POST", env.note_url(), 413, "payload_too_large", data=big,
                    headers={**env.h["officer"], **json_headers})
    # Public route (sign-in), before anyone is known.
    await unchanged(env, "POST", "/api/session", 413, "payload_too_large", data=big, headers=json_headers)
    # A route that takes no body still refuses to read an unbounded one.
    await unchanged(env, "POST", "/api/me/totp", 413, "payload_too_large", data=big,
                    headers={**env.h["officer"], **json_headers})

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192]

    await unchanged(env, "POST", env.note_url(), 413, "payload_too_large", data=chunks(),
                    headers={**env.h["officer"], **json_headers})
    # Exactly at the limit is still accepted (and refused only for what it says).
    body = b'{"text": "' + b"x" * (limit - 12) + b'"}'
    assert len(body) == limit
    resp = await env.client.post(env.note_url(), data=body, headers={**env.h["officer"], **json_headers})
    await error_of(resp, 422, "invalid_request")  # longer than a note may be, but not too large to read


# -- query strings --------------------------------------------------------------------


BAD_QUERIES = [
    "limit=" + "9" * 5000,
    "limit=" + "x" * 6000,
    "limit=-1",
    "limit=0",
    "limit=501",
    "offset=1.5",
    "limit=1&limit=2",
    "limit=10&offset=0&offset=1",
    "bogus=1",
    "limit=%00",
]


async def test_bad_query_values_are_422(env: Env) -> None:
    for query in BAD_QUERIES:
        resp = await env.client.get(f"/api/admin/users?{query}", headers=env.h["admin"])
        err = await error_of(resp, 422, "invalid_request")
        assert "query" in err["message"].lower(), query


async def test_query_on_a_route_without_one_is_ignored_and_a_huge_url_is_refused(env: Env) -> None:
    resp = await env.client.get("/api/caseload?x=1&x=2", headers=env.h["officer"])
    assert resp.status == 200
    # Beyond aiohttp's request-line limit the parser refuses before any handler runs.
    resp = await env.client.get("/api/admin/users?limit=" + "9" * 20_000, headers=env.h["admin"])
    assert resp.status in (400, 414)


# -- routes and methods ---------------------------------------------------------------


async def test_unknown_routes_are_404_json_and_wrong_methods_405(env: Env) -> None:
    for method, path in (("GET", "/api/nope"), ("POST", "/api/cases/x/y/z"), ("GET", "/api"), ("GET", "/nope"),
                         ("DELETE", "/api/admin"), ("GET", "/api/admin/offices/x")):
        for headers in ({}, env.h["officer"]):
            await error_of(await env.client.request(method, path, headers=headers), 404, "not_found")
    for method, path, allow in (("PATCH", "/api/me", "GET"), ("PUT", "/api/caseload", "GET"),
                                ("DELETE", "/api/cases", "POST"), ("POST", "/api/policies", "GET"),
                                ("GET", "/api/admin/users/x/disabled", "POST")):
        resp = await env.client.request(method, path, headers=env.h["admin"])
        await error_of(resp, 405, "method_not_allowed")
        assert allow in resp.headers["Allow"], (method, path)


# -- tokens and CSRF ------------------------------------------------------------------


async def test_forged_malformed_and_expired_tokens_are_401(env: Env) -> None:
    url = env.note_url()
    for header in ("Bearer forged-token", "Bearer " + "x" * 129, "Bearer ", "Token abc", "Bearer a b",
                   "Basic b2ZmaWNlcjpwdw=="):
        await unchanged(env, "POST", url, 401, "unauthenticated", json={"text": "hi"},
                        headers={"Authorization": header})
    await unchanged(env, "POST", url, 401, "unauthenticated", json={"text": "hi"},
                    cookies={"tandem_session": "forged"})
    # A real token, idled out (staff) and then past its absolute end (client).
    env.services.clock.advance(timedelta(seconds=env.services.settings.session_idle_s + 1))
    # The expired session row itself is deleted on sight; nothing else changes.
    await unchanged(env, "POST", url, 401, "unauthenticated", ignore=("sessions",), json={"text": "hi"},
                    headers=env.h["officer"])
    assert (await env.client.get("/api/me", headers=env.h["officer"])).status == 401
    client_headers = await login(env.client, "client")
    env.services.clock.advance(timedelta(seconds=env.services.settings.client_session_absolute_s + 1))
    await error_of(await env.client.get("/api/my/case", headers=client_headers), 401, "unauthenticated")


async def test_signed_out_token_is_dead(env: Env) -> None:
    headers = await login(env.client, "officer")
    assert (await env.client.delete("/api/session", headers=headers)).status == 204
    await unchanged(env, "POST", env.note_url(), 401, "unauthenticated", json={"text": "hi"}, headers=headers)


async def test_cookie_writes_without_csrf_token_are_refused_and_write_nothing(env: Env) -> None:
    client = env.client
    origin = {"Origin": f"http://{client.host}:{client.port}"}
    r = await client.post("/api/session", json={"username": "officer", "password": PASSWORD, "kind": "cookie"},
                          headers=origin)
    assert r.status == 200
    csrf = (await r.json())["csrf_token"]
    url = env.note_url()
    await unchanged(env, "POST", url, 403, "csrf_failed", json={"text": "hi"}, headers=origin)
    await unchanged(env, "POST", url, 403, "csrf_failed", json={"text": "hi"}, headers={"X-CSRF-Token": "forged"})
    await unchanged(env, "POST", url, 403, "csrf_failed", json={"text": "hi"},
                    headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    # The CSRF check comes before the body is looked at.
    await unchanged(env, "POST", url, 403, "csrf_failed", data=b"{", headers={"Content-Type": "application/json"})
    # Reads need no token; the right token lets the write through.
    assert (await client.get(url)).status == 200
    assert (await client.post(url, json={"text": "hi"}, headers={**origin, "X-CSRF-Token": csrf})).status == 201


# -- failing creates write nothing -------------------------------------------------------


async def test_failing_staff_creates_leave_every_table_unchanged(env: Env) -> None:
    admin = env.h["admin"]
    good = {"username": "newbie", "display_name": "New", "role": "officer", "password": "a-long-password"}
    await unchanged(env, "POST", "/api/admin/users", 409, "conflict", json={**good, "username": "officer"},
                    headers=admin)
    await unchanged(env, "POST", "/api/admin/users", 403, "policy_refused",
                    json={**good, "office_id": "no-such-office"}, headers=admin)
    await unchanged(env, "POST", "/api/admin/users", 422, "invalid_request", json={**good, "password": "short"},
                    headers=admin)
    await unchanged(env, "POST", "/api/admin/users", 422, "invalid_request", json={**good, "role": "client"},
                    headers=admin)
    await unchanged(env, "POST", "/api/admin/users", 422, "invalid_request", json={**good, "username": "a b"},
                    headers=admin)
    await unchanged(env, "POST", "/api/admin/offices", 403, "policy_refused", json={"name": "Office A"},
                    headers=admin)
    await unchanged(env, "POST", "/api/admin/users/no-such-user/disabled", 404, "not_found",
                    json={"disabled": True}, headers=admin)


async def test_failing_case_opens_leave_every_table_unchanged(env: Env) -> None:
    w, officer, senior = env.w, env.h["officer"], env.h["senior"]
    case = {"client_username": "fresh_client", "client_display_name": "Fresh"}
    # The supervising officer must be an officer.
    await unchanged(env, "POST", "/api/cases", 422, "invalid_request",
                    json={**case, "officer_id": w.users["mentor"]}, headers=senior)
    missing = await unchanged(env, "POST", "/api/cases", 404, "not_found",
                              json={**case, "officer_id": "no-such-officer"}, headers=senior)
    # Out of scope: an officer opens cases only on their own caseload; to a senior, an officer
    # of another office is no officer at all (issue 12: the same answer as a missing one).
    err = await unchanged(env, "POST", "/api/cases", 403, "policy_refused",
                          json={**case, "officer_id": w.users["officer2"]}, headers=officer)
    assert err["rule_id"] == "scope"
    assert await unchanged(env, "POST", "/api/cases", 404, "not_found",
                           json={**case, "officer_id": w.users["officer3"]}, headers=senior) == missing
    # The client's username is taken.
    await unchanged(env, "POST", "/api/cases", 409, "conflict",
                    json={**case, "client_username": "client", "officer_id": w.users["officer"]}, headers=officer)
    # After all that, the same request done right succeeds: nothing was left half made.
    resp = await env.client.post("/api/cases", json={**case, "officer_id": w.users["officer"]}, headers=officer)
    assert resp.status == 201, await resp.text()


async def test_failing_case_writes_leave_every_table_unchanged(env: Env) -> None:
    w, officer = env.w, env.h["officer"]
    own = w.cases["own"]
    await unchanged(env, "POST", f"/api/cases/{own}/network", 404, "not_found",
                    json={"partner_id": w.users["mentor"]}, headers=officer)
    await unchanged(env, "POST", f"/api/cases/{own}/network", 409, "conflict",
                    json={"partner_id": w.users["partner"]}, headers=officer)  # already in the network
    await unchanged(env, "POST", "/api/mentor-assignments", 404, "not_found",
                    json={"mentor_id": w.users["mentor"], "client_id": "no-such-client"}, headers=officer)
    await unchanged(env, "POST", "/api/cases/no-such-case/notes", 404, "not_found", json={"text": "hi"},
                    headers=officer)
    met_at = (env.services.clock.now() + timedelta(days=1)).isoformat()
    await unchanged(env, "POST", f"/api/cases/{own}/face-to-face", 422, "invalid_request",
                    json={"met_at": met_at, "location": "X"}, headers=officer)
    await unchanged(env, "POST", f"/api/cases/{own}/face-to-face", 422, "invalid_request",
                    json={"met_at": "2026-01-05T08:00:00", "location": "X"}, headers=officer)  # no timezone


# -- policy changes ---------------------------------------------------------------------


async def test_invalid_policy_changes_name_the_key_and_keep_the_version(env: Env) -> None:
    client, admin = env.client, env.h["admin"]
    body = await (await client.get("/api/policies", headers=admin)).json()
    version = body["version"]
    rules = {r["rule_id"]: r["config"] for r in body["rules"]}
    f2f = rules["face_to_face_first"]
    url = "/api/policies/face_to_face_first"
    cases: list[tuple[dict[str, Any], str]] = [
        ({**f2f, "min_meetings": -1}, "face_to_face_first.min_meetings"),
        ({**f2f, "min_meetings": "one"}, "face_to_face_first.min_meetings"),
        ({**f2f, "max_exception_days": 10_000}, "face_to_face_first.max_exception_days"),
        ({**f2f, "gated_actions": ["fly_to_the_moon"]}, "face_to_face_first.gated_actions"),
        ({**f2f, "gated_actions": ["send_message", "send_message"]}, "face_to_face_first.gated_actions"),
        ({**f2f, "minimum_meetings": 2}, "face_to_face_first.minimum_meetings"),
        ({k: v for k, v in f2f.items() if k != "min_meetings"}, "face_to_face_first.min_meetings"),
    ]
    for config, key in cases:
        err = await unchanged(env, "PUT", url, 422, "invalid_request", json={"config": config, "reason": "test"},
                              headers=admin)
        assert key in err["message"], (key, err)
    err = await unchanged(env, "PUT", "/api/policies/scope", 422, "invalid_request",
                          json={"config": {**rules["scope"], "admin_reads_message_content": True}, "reason": "test"},
                          headers=admin)
    assert "scope.admin_reads_message_content" in err["message"]
    await unchanged(env, "PUT", url, 422, "invalid_request", json={"config": f2f, "reason": "   "}, headers=admin)
    await unchanged(env, "PUT", url, 422, "invalid_request", json={"config": f2f}, headers=admin)
    await unchanged(env, "PUT", "/api/policies/no_such_rule", 404, "not_found",
                    json={"config": f2f, "reason": "test"}, headers=admin)
    after = await (await client.get("/api/policies", headers=admin)).json()
    assert after["version"] == version
    assert {r["rule_id"]: r["config"] for r in after["rules"]} == rules
    versions = await (await client.get("/api/policies/versions", headers=admin)).json()
    assert [v["version"] for v in versions["versions"]] == [version]
