"""Every node forgets a shredded key (issue 15, item 7).

Two real ``tandem serve`` nodes on one PostgreSQL database and a private Redis read a
case conversation's history, so each caches the bucket's key. Another process (this test's
own app, with its own sweeper) then shreds the bucket and stops between the shred and the
purge, so the rows are still there to be read:

* with Redis up, both nodes stop decrypting them at once (their cache lifetime is set to
  ten minutes: only the bus notice can explain it);
* with Redis down (the notice cannot be published), both stop within the short cache
  lifetime a node uses while its bus is down;
* with Redis back, ``tandem retention run`` (a real CLI process, purging one row at a time)
  shreds a third bucket and both nodes stop reading its rows while most are still there.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from server.app import create_app
from server.bus.redis import RedisBus
from server.clock import FakeClock
from server.identity.passwords import Passwords
from server.settings import REPO_ROOT
from server.store.schema import data_keys, messages
from server.web.state import SERVICES, Services
from tests.conftest import TEST_KEK, make_settings
from tests.helpers import db
from tests.helpers.nodes import Node, RedisServer, node_env, start_node
from tests.helpers.retention import case_conversation
from tests.helpers.services import require_postgres
from tests.helpers.world import PASSWORD, build

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BUS_DOWN_TTL_S = 2
MARCH = 40  # rows the CLI purges one at a time, resting after each


def _retention_run(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "server.cli", "retention", "run"], cwd=REPO_ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


async def _destroyed(services: Services, bucket: str) -> bool:
    _, live = await _rows_and_live_keys(services, bucket)
    return live == 0


async def _unread(bodies: Callable[[], Awaitable[list[list[str]]]]) -> bool:
    return await bodies() == [[], []]


async def _history(session: aiohttp.ClientSession, node: Node, token: str, conv: str) -> list[str]:
    async with session.get(f"{node.url}/api/conversations/{conv}/messages", params={"after_seq": 0, "limit": 200},
                           headers={"Authorization": f"Bearer {token}"}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return [m["body"] for m in body["messages"]]


async def _login(session: aiohttp.ClientSession, node: Node) -> str:
    async with session.post(f"{node.url}/api/session",
                            json={"username": "officer", "password": PASSWORD, "kind": "bearer"}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return str(body["token"])


async def _rows_and_live_keys(services: Services, bucket: str) -> tuple[int, int]:
    async with services.store.read("test.shred_nodes") as conn:
        rows = (await conn.execute(select(func.count()).select_from(messages.join(
            data_keys, data_keys.c.id == messages.c.key_id)).where(data_keys.c.bucket == bucket))).scalar_one()
        live = (await conn.execute(select(func.count()).select_from(data_keys).where(
            data_keys.c.bucket == bucket, data_keys.c.category == "messages",
            data_keys.c.wrapped_key.is_not(None)))).scalar_one()
    return int(rows), int(live)


async def _until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> float:
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < within, what
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_a_node_that_cached_a_key_cannot_decrypt_after_another_process_shredded_it(tmp_path: Path) -> None:
    require_postgres()
    name = f"tandem_shred_nodes_{db.pg_name().removeprefix('tandem_test_')}"
    database_url = await asyncio.to_thread(db.create_pg_database, name)
    redis = RedisServer(tmp_path / "redis")
    nodes: list[Node] = []
    runner: web.AppRunner | None = None
    try:
        redis.start()
        clock = FakeClock(datetime(2024, 1, 5, 9, 0, tzinfo=UTC))
        app = create_app(make_settings(database_url, tmp_path / "sweeper", retention_sweep_enabled=False),
                         clock=clock, bus=RedisBus(redis.url), passwords=Passwords(memory_cost=8, time_cost=1))
        runner = web.AppRunner(app)
        await runner.setup()
        services = app[SERVICES]
        w = await build(services)
        conv = await case_conversation(services, w)
        for month, day, n in (("jan", datetime(2024, 1, 10, tzinfo=UTC), 3),
                              ("feb", datetime(2024, 2, 10, tzinfo=UTC), 3),
                              ("mar", datetime(2024, 3, 10, tzinfo=UTC), MARCH)):
            clock.advance(day - clock.now())
            for i in range(n):
                await services.messaging.send(w.actor("officer"), conv, f"{month}-{i}", f"{month} {i}")
        env = node_env(database_url=database_url, redis_url=redis.url, kek=TEST_KEK,
                       extra={"TANDEM_RETENTION_SWEEP": "false", "TANDEM_KEY_CACHE_TTL_S": "600",
                              "TANDEM_KEY_CACHE_TTL_BUS_DOWN_S": str(BUS_DOWN_TTL_S)})
        nodes = [start_node(n, tmp_path, env) for n in ("node-a", "node-b")]
        for node in nodes:
            await asyncio.to_thread(node.wait_ready)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            tokens = [await _login(session, node) for node in nodes]

            async def bodies() -> list[list[str]]:
                return [await _history(session, n, t, conv) for n, t in zip(nodes, tokens, strict=True)]

            march = [f"mar {i}" for i in range(MARCH)]
            everything = [f"{m} {i}" for m in ("jan", "feb") for i in range(3)] + march
            assert await bodies() == [everything, everything]  # each node now caches both keys

            async def shred_and_check(on: datetime, bucket: str, left: list[str], within: float) -> float:
                """Sweep as of ``on``; between the shred and the purge, wait until no node reads ``bucket``."""
                clock.advance(on - clock.now())
                took: list[float] = []

                async def between(step: str, _n: int) -> None:
                    rows, live = await _rows_and_live_keys(services, bucket)
                    if step == "shred" and live == 0 and not took:
                        assert rows == 3  # the rows are still there: only the keys can keep them unread

                        async def forgotten() -> bool:
                            return await bodies() == [left, left]

                        took.append(await _until(forgotten, within, f"a node still decrypts {bucket}"))

                sweeper = services.retention.sweeper
                sweeper.progress = between
                try:
                    await sweeper.run()
                finally:
                    sweeper.progress = None
                assert took, "the sweep never shredded the bucket"
                return took[0]

            feb = [f"feb {i}" for i in range(3)] + march
            # January 2024's bucket has expired by mid-February 2026 (730 days after the month).
            took = await shred_and_check(datetime(2026, 2, 15, tzinfo=UTC), "2024-01", feb, within=5.0)
            assert took < 5.0  # the bus told them; their cache would have kept the key ten minutes

            redis.stop()
            for node in nodes:
                await _until(lambda n=node: asyncio.to_thread(lambda: n.ready() is None), 10,  # type: ignore[misc]
                             f"{node.name} did not notice its bus was down")
            assert await bodies() == [feb, feb]  # read (and cached) again, with the bus down
            await shred_and_check(datetime(2026, 3, 15, tzinfo=UTC), "2024-02", march,
                                  within=BUS_DOWN_TTL_S + 5.0)

            # The CLI: March 2024's bucket has expired by today (the CLI runs on the real clock).
            redis.start()
            for node in nodes:
                await _until(lambda n=node: asyncio.to_thread(lambda: n.ready() is not None), 20,  # type: ignore[misc]
                             f"{node.name} did not reconnect its bus")
            assert await bodies() == [march, march]
            cli = _retention_run({**node_env(database_url=database_url, redis_url=redis.url, kek=TEST_KEK),
                                  "TANDEM_DATA_DIR": str(tmp_path / "cli"), "TANDEM_RETENTION_CHUNK_ROWS": "1",
                                  "TANDEM_RETENTION_PAUSE_RATIO": "50"})
            try:
                await _until(lambda: _destroyed(services, "2024-03"), 60, "the CLI never shredded March")
                await _until(lambda: _unread(bodies), 5, "a node still decrypts March after the CLI shredded it")
                rows, _ = await _rows_and_live_keys(services, "2024-03")
                assert rows > 0  # the nodes stopped reading rows that were still there
                out, err = await asyncio.to_thread(cli.communicate, timeout=300)
            finally:
                if cli.poll() is None:
                    cli.kill()
                    cli.communicate()
            assert cli.returncode == 0, err
            assert json.loads(out.strip().splitlines()[-1])["counts"]["messages"] == MARCH
        for node in nodes:
            assert node.alive(), node.log_tail()
    finally:
        for node in nodes:
            node.stop()
        if runner is not None:
            await runner.cleanup()
        redis.stop()
        await asyncio.to_thread(db.drop_pg_database, name)
