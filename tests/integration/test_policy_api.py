"""Admins read and change policies; each change is a new version that every node adopts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.bus.redis import RedisBus
from server.web.state import SERVICES
from tests.conftest import make_settings
from tests.helpers.services import REDIS_URL, require_redis
from tests.helpers.world import build, login


async def current_f2f(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    body = await (await client.get("/api/policies", headers=headers)).json()
    rule: dict[str, Any] = next(r for r in body["rules"] if r["rule_id"] == "face_to_face_first")
    return rule


async def test_change_creates_version_with_author_and_reason_and_takes_effect(api: Any) -> None:
    client, services = api
    w = await build(services)
    admin, officer = await login(client, "admin"), await login(client, "officer")
    body = await (await client.get("/api/policies", headers=admin)).json()
    assert body["version"] == 1 and {r["rule_id"] for r in body["rules"]} == {
        "face_to_face_first", "safe_space", "retention", "alternatives", "scope", "group_rules", "networks",
        "mentoring"}
    # The values of the fields of a fixed set, for the admin's form: a select, or a checkbox each.
    choices = {r["rule_id"]: r["choices"] for r in body["rules"]}
    assert choices["scope"] == {"senior_officer_scope": ["caseload", "office"]}
    assert choices["face_to_face_first"]["gated_actions"] == [
        "join_group", "send_message", "start_video", "supervise_remotely"]
    assert choices["retention"] == {}
    config = (await current_f2f(client, admin))["config"]
    config["min_meetings"] = 2
    r = await client.put("/api/policies/face_to_face_first", headers=admin,
                         json={"config": config, "reason": "Regional directive: two meetings first"})
    assert r.status == 200
    v = await r.json()
    assert v["version"] == 2 and v["author"] == "admin" and v["reason"].startswith("Regional")
    d = await (await client.get(f"/api/cases/{w.cases['own']}/remote-decision", headers=officer)).json()
    assert d["allowed"] is False and d["rule_id"] == "face_to_face_first" and d["policy_version"] == 2
    history = (await (await client.get("/api/policies/versions", headers=admin)).json())["versions"]
    assert [h["version"] for h in history] == [2, 1]


async def test_invalid_change_names_the_key_and_changes_nothing(api: Any) -> None:
    client, services = api
    await build(services)
    admin = await login(client, "admin")
    config = (await current_f2f(client, admin))["config"]
    config["min_meetings"] = 0
    r = await client.put("/api/policies/face_to_face_first", headers=admin, json={"config": config, "reason": "x"})
    assert r.status == 422 and "min_meetings" in (await r.json())["error"]["message"]
    r = await client.put("/api/policies/no_such_rule", headers=admin, json={"config": {}, "reason": "x"})
    assert r.status == 404
    assert (await (await client.get("/api/policies", headers=admin)).json())["version"] == 1


async def test_officers_cannot_change_policies(api: Any) -> None:
    client, services = api
    await build(services)
    officer = await login(client, "officer")
    r = await client.put("/api/policies/face_to_face_first", headers=officer, json={"config": {}, "reason": "x"})
    assert r.status == 403 and (await r.json())["error"]["rule_id"] == "scope"


async def test_second_node_adopts_a_change_through_redis(pg_database: str, tmp_path: Path) -> None:
    """Two app processes' worth of wiring on one PostgreSQL and one Redis."""
    require_redis()
    from tests.helpers.db import truncate_pg

    await truncate_pg(pg_database)
    nodes = []
    for i in range(2):
        settings = make_settings(pg_database, tmp_path / f"n{i}", redis_url=REDIS_URL)
        app = create_app(settings, bus=RedisBus(REDIS_URL, prefix=f"tandem-test-{tmp_path.name}:"))
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        nodes.append(client)
    try:
        a, b = nodes
        services_a = a.server.app[SERVICES]
        services_b = b.server.app[SERVICES]
        for s in (services_a, services_b):
            while not s.bus.healthy:  # noqa: ASYNC110 - the bus exposes health as state, not an event
                await asyncio.sleep(0.02)
        await build(services_a)
        admin = await login(a, "admin")
        config = (await current_f2f(a, admin))["config"]
        config["max_exception_days"] = 10
        r = await a.put("/api/policies/face_to_face_first", headers=admin, json={"config": config, "reason": "x"})
        assert r.status == 200
        for _ in range(200):
            if services_b.policy.meta.version == 2:
                break
            await asyncio.sleep(0.02)
        assert services_b.policy.meta.version == 2
        admin_b = await login(b, "admin")
        assert (await current_f2f(b, admin_b))["config"]["max_exception_days"] == 10
    finally:
        for c in nodes:
            await c.close()
