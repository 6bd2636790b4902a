"""SIGTERM drains a real ``tandem serve`` node (issue 15 item 3): two node processes on one
PostgreSQL and a private Redis; a check-in homed on node A with the client on node B. Node A
gets SIGTERM: both participants are told to ``reconnect``, node A exits within its drain
bound, and both are back in the call on node B in the places they had."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from server.app import create_app
from server.identity.passwords import Passwords
from server.web.state import SERVICES
from tests.conftest import TEST_KEK, make_settings
from tests.helpers import db
from tests.helpers.checkins import schedule
from tests.helpers.nodes import Node, RedisServer, node_env, start_node
from tests.helpers.services import require_postgres
from tests.helpers.world import PASSWORD, build

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
DRAIN_BOUND_S = 25.0  # TANDEM_DRAIN_TIMEOUT_S (10) plus shutdown and a loaded machine's slack


async def _seed(database_url: str, data_dir: Path) -> str:
    app = create_app(make_settings(database_url, data_dir), passwords=Passwords(memory_cost=8, time_cost=1))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        services = app[SERVICES]
        w = await build(services)
        return await schedule(services, w)
    finally:
        await runner.cleanup()


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[Node, Node, str]]:
    require_postgres()
    name = f"tandem_sigterm_{db.pg_name().removeprefix('tandem_test_')}"
    database_url = db.create_pg_database(name)
    redis = RedisServer(tmp_path / "redis")
    nodes: list[Node] = []
    try:
        checkin_id = db._in_thread(lambda: asyncio.run(_seed(database_url, tmp_path / "seed")))
        redis.start()
        env = node_env(database_url=database_url, redis_url=redis.url, kek=TEST_KEK,
                       extra={"TANDEM_ROOM_LEASE_S": "3", "TANDEM_DRAIN_TIMEOUT_S": "10"})
        for n in ("a", "b"):
            nodes.append(start_node(f"node-{n}", tmp_path, {**env, "TANDEM_NODE_ID": f"node-{n}"}))
        for node in nodes:
            node.wait_ready(90)
        yield nodes[0], nodes[1], checkin_id
    finally:
        for node in nodes:
            node.stop()
        redis.stop()
        db.drop_pg_database(name)


async def _bearer(session: aiohttp.ClientSession, url: str, username: str) -> dict[str, str]:
    async with session.post(f"{url}/api/session", json={"username": username, "password": PASSWORD,
                                                        "kind": "bearer"}) as resp:
        assert resp.status == 200, await resp.text()
        return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def _safe(session: aiohttp.ClientSession, url: str, headers: dict[str, str], checkin: str) -> None:
    async with session.get(f"{url}/api/checkins/{checkin}/safe-space", headers=headers) as resp:
        questions = (await resp.json())["questions"]
    async with session.post(f"{url}/api/checkins/{checkin}/safe-space", headers=headers,
                            json={"answers": {q["id"]: True for q in questions}}) as resp:
        assert resp.status == 200 and (await resp.json())["passed"]


async def _next(ws: Any, kind: str, wait_s: float = 20.0, **match: Any) -> dict[str, Any]:
    deadline = time.monotonic() + wait_s
    while True:
        msg = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"connection closed waiting for {kind}: {msg}")
        frame: dict[str, Any] = msg.json()
        if frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


async def _join(ws: Any, room: str, wait_s: float = 30.0) -> dict[str, Any]:
    """Join, retrying ``unavailable`` (a room on its way to another node) as client_web does."""
    deadline = time.monotonic() + wait_s
    for n in range(100):
        await ws.send_json({"type": "join", "room": room, "id": f"j{n}"})
        while True:
            frame = (await ws.receive(timeout=wait_s)).json()
            if frame.get("ref") == f"j{n}":
                break
        if frame["type"] == "joined":
            return frame
        assert frame["code"] == "unavailable" and time.monotonic() < deadline, frame
        await asyncio.sleep(1.0)
    raise AssertionError("never joined")


async def test_sigterm_hands_the_nodes_calls_to_the_other_node(two_nodes: tuple[Node, Node, str]) -> None:
    a, b, checkin = two_nodes
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        officer = await _bearer(session, a.url, "officer")
        client = await _bearer(session, b.url, "client")
        await _safe(session, a.url, officer, checkin)
        await _safe(session, b.url, client, checkin)
        off = await session.ws_connect(f"{a.url}/ws", headers=officer)
        cli = await session.ws_connect(f"{b.url}/ws", headers=client)
        for ws in (off, cli):
            await ws.send_json({"type": "hello"})
            await _next(ws, "welcome")
        joined = await _join(off, checkin)
        waiting = await _join(cli, checkin)
        assert waiting["state"] == "waiting"
        await off.send_json({"type": "admit", "room": checkin, "participant": waiting["participant"]})
        await _next(cli, "admitted")

        started = time.monotonic()
        a.proc.send_signal(signal.SIGTERM)
        assert (await _next(off, "reconnect"))["reason"] == "drain"
        assert (await _next(cli, "reconnect"))["reason"] == "drain"
        back = await _join(cli, checkin)
        assert (back["state"], back["participant"]) == ("admitted", waiting["participant"])
        off2 = await session.ws_connect(f"{b.url}/ws", headers=officer)
        await off2.send_json({"type": "hello"})
        await _next(off2, "welcome")
        again = await _join(off2, checkin)
        assert (again["state"], again["participant"]) == ("admitted", joined["participant"])
        assert (await _next(cli, "peer_joined"))["participant"] == joined["participant"]
        await asyncio.to_thread(a.proc.wait, DRAIN_BOUND_S)
        assert time.monotonic() - started < DRAIN_BOUND_S
        assert a.proc.returncode == 0, a.log_tail()
        assert "Traceback" not in a.log_text(), a.log_tail(120)
        for ws in (off, off2, cli):
            await ws.close()
