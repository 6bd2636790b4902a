"""SIGTERM drains a real ``tandem serve`` node (issue 15 item 3): two node processes on one
PostgreSQL and a private Redis; a check-in homed on node A with the client on node B. Node A
gets SIGTERM: both participants are told to ``reconnect``, node A exits within its drain
bound, and both are back in the call on node B in the places they had. Then a rolling
restart as a deploy does it (``systemctl restart tandem@8081``, then ``@8082``) under
messaging load: the check-in never ends and no acknowledged message is lost."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
from tests.helpers.messaging_load import finish_load, start_load
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


@dataclass
class Stack:
    nodes: list[Node]
    checkin: str
    start: Callable[[str], Node]  # a node of that name, started (again) and ready


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    require_postgres()
    name = f"tandem_sigterm_{db.pg_name().removeprefix('tandem_test_')}"
    database_url = db.create_pg_database(name)
    redis = RedisServer(tmp_path / "redis")
    started: list[Node] = []
    try:
        checkin_id = db._in_thread(lambda: asyncio.run(_seed(database_url, tmp_path / "seed")))
        redis.start()
        env = node_env(database_url=database_url, redis_url=redis.url, kek=TEST_KEK,
                       extra={"TANDEM_ROOM_LEASE_S": "3", "TANDEM_DRAIN_TIMEOUT_S": "10"})

        def start(node_name: str) -> Node:
            node = start_node(node_name, tmp_path, {**env, "TANDEM_NODE_ID": node_name})
            started.append(node)
            node.wait_ready(90)
            return node

        nodes = [start_node(f"node-{n}", tmp_path, {**env, "TANDEM_NODE_ID": f"node-{n}"}) for n in ("a", "b")]
        started.extend(nodes)
        for node in nodes:
            node.wait_ready(90)
        yield Stack(nodes, checkin_id, start)
    finally:
        for node in started:
            node.stop()
        redis.stop()
        db.drop_pg_database(name)


@pytest.fixture
def two_nodes(stack: Stack) -> tuple[Node, Node, str]:
    return stack.nodes[0], stack.nodes[1], stack.checkin


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


async def _connect(session: aiohttp.ClientSession, node: Node, headers: dict[str, str]) -> Any:
    ws = await session.ws_connect(f"{node.url}/ws", headers=headers)
    await ws.send_json({"type": "hello"})
    await _next(ws, "welcome")
    return ws


async def test_a_rolling_restart_under_load_ends_no_check_in_and_loses_no_acked_message(stack: Stack) -> None:
    """Node A drains and comes back, then node B does: the call hops A -> B -> A with both
    people in the places they had, while 8 messaging clients send through both nodes."""
    a, b = stack.nodes
    checkin = stack.checkin
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        officer = await _bearer(session, a.url, "officer")
        client = await _bearer(session, b.url, "client")
        await _safe(session, a.url, officer, checkin)
        await _safe(session, b.url, client, checkin)
        off = await _connect(session, a, officer)
        cli = await _connect(session, b, client)
        joined = await _join(off, checkin)
        waiting = await _join(cli, checkin)
        await off.send_json({"type": "admit", "room": checkin, "participant": waiting["participant"]})
        await _next(cli, "admitted")
        live = stack.nodes  # the load reconnects to whichever of these answers
        load = await start_load(session, live, 8, password=PASSWORD)
        await asyncio.sleep(1.0)

        for going in (0, 1):  # systemctl restart tandem@8081, then tandem@8082
            node, other = live[going], live[1 - going]
            node.proc.send_signal(signal.SIGTERM)
            for ws in (off, cli):
                assert (await _next(ws, "reconnect"))["reason"] == "drain"
                await ws.close()
            off = await _connect(session, other, officer)
            cli = await _connect(session, other, client)
            # the first hop the client is back first, the second the officer: either restores the room
            first, second = (cli, off) if going == 0 else (off, cli)
            firsts, seconds = await _join(first, checkin), await _join(second, checkin)
            back, again = (firsts, seconds) if going == 0 else (seconds, firsts)
            assert (back["state"], back["participant"]) == ("admitted", waiting["participant"])
            assert (again["state"], again["participant"]) == ("admitted", joined["participant"])
            expected = joined if going == 0 else waiting
            assert (await _next(first, "peer_joined"))["participant"] == expected["participant"]
            await asyncio.to_thread(node.proc.wait, DRAIN_BOUND_S)
            assert node.proc.returncode == 0, node.log_tail()
            assert "Traceback" not in node.log_text(), node.log_tail(120)
            live[going] = await asyncio.to_thread(stack.start, f"{node.name}-again")

        result = await finish_load(session, live, *load)
        assert result["acked_messages"] > 50, result
        assert (result["acked_lost"], result["acked_duplicates"]) == (0, 0), result
        async with session.get(f"{live[0].url}/api/checkins/{checkin}", headers=officer) as resp:
            detail = await resp.json()
        assert detail["state"] == "in_call", detail  # the check-in never ended
        assert detail["evidence"]["interrupted"] is True and detail["evidence"]["dropped"] is False
        assert detail["suggestion"]["outcome"] == "attended", detail["suggestion"]
        for ws in (off, cli):
            await ws.close()
