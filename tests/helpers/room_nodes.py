"""Two (or more) Tandem nodes in this test's process, each a real aiohttp server on its own
port, sharing one database and one Redis bus: the world of tests/integration/test_rooms_*.py
(rooms homed on one node and reached, taken over or drained through another)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from server.app import create_app
from server.bus.redis import RedisBus
from server.clock import Clock, FakeClock
from server.store.schema import room_homes
from server.web.room_router import ROUTER, RoomRouter
from server.web.state import SERVICES, Services
from server.web.ws_group import GROUP_LIVE, GroupLive
from server.web.ws_signalling import SIGNALLING, Signalling
from tests.conftest import make_settings
from tests.helpers.nodes import RedisServer


@dataclass
class Node:
    """One node: its HTTP client (for /ws and the API) and the parts the tests look into."""

    client: TestClient[Any, Any]
    services: Services
    signalling: Signalling
    router: RoomRouter
    group_live: GroupLive

    @property
    def node_id(self) -> str:
        return self.router.node_id


async def start_node(database_url: str, data_dir: Path, *, name: str, redis_url: str, lease_s: float,
                     bus_prefix: str, clock: Clock | None = None, **overrides: Any) -> Node:
    """Node ``node-{name}`` started on ``database_url``; ``clock`` as create_app takes it (None: the real one);
    ``overrides`` are more settings (e.g. the SFU's media addresses)."""
    settings = make_settings(database_url, data_dir, redis_url=redis_url, node_id=f"node-{name}",
                             room_lease_s=lease_s, **overrides)
    app: web.Application = create_app(settings, clock=clock, bus=RedisBus(redis_url, prefix=bus_prefix))
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    return Node(client, app[SERVICES], app[SIGNALLING], app[ROUTER], app[GROUP_LIVE])


@dataclass
class Pair:
    """Nodes ``node-a`` and ``node-b`` on one database, with a Redis of their own and one fake clock."""

    a: Node
    b: Node
    redis: RedisServer
    clock: FakeClock


@contextlib.asynccontextmanager
async def node_pair(database_url: str, tmp_path: Path, *, lease_s: float, bus_prefix: str,
                    **overrides: Any) -> AsyncIterator[Pair]:
    """Two nodes (``start_node``'s ``overrides`` for both), their buses connected; closed, and their
    Redis stopped, after."""
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    clock = FakeClock()
    made: list[Node] = []
    try:
        for name in ("a", "b"):
            made.append(await start_node(database_url, tmp_path / name, name=name, redis_url=redis.url,
                                         lease_s=lease_s, bus_prefix=bus_prefix, clock=clock, **overrides))
        await wait_for_buses(made)
        yield Pair(made[0], made[1], redis, clock)
    finally:
        await close_nodes(made)
        redis.stop()


async def wait_for_buses(nodes: list[Node]) -> None:
    """Until every node's bus is connected (at most 10 s each)."""
    for n in nodes:
        for _ in range(500):
            if n.services.bus.healthy:
                break
            await asyncio.sleep(0.02)
        assert n.services.bus.healthy, "a node's bus never connected"


async def close_nodes(nodes: list[Node]) -> None:
    for n in nodes:
        await n.client.close()


async def home_row(services: Services, room: str) -> Any:
    """The room's row in ``room_homes`` (None: no node holds it)."""
    async with services.store.read("test.home") as conn:
        return (await conn.execute(select(room_homes).where(room_homes.c.room_id == room))).first()
