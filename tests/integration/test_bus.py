"""The bus contract, run against the in-process bus and real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from server.bus.base import Bus
from server.bus.memory import MemoryBus
from server.bus.redis import RedisBus
from server.errors import Unavailable
from tests.helpers.services import REDIS_URL, require_redis


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        b: Bus = MemoryBus()
    else:
        require_redis()
        b = RedisBus(REDIS_URL, prefix=f"tandem-test-{id(request)}:")
    await b.start()
    await wait_healthy(b)
    yield b
    await b.close()


async def wait_healthy(b: Bus, within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not b.healthy:
        assert asyncio.get_running_loop().time() < deadline, "bus never became healthy"
        await asyncio.sleep(0.02)


async def until(cond: object, within: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not cond():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_publish_reaches_subscribers_of_that_channel_only(bus: Bus) -> None:
    got: list[tuple[str, bytes]] = []
    other: list[bytes] = []
    await bus.subscribe("user.a", lambda c, d: got.append((c, d)))
    await bus.subscribe("user.b", lambda c, d: other.append(d))
    await asyncio.sleep(0.05)
    await bus.publish("user.a", b"one")
    await bus.publish("user.a", b"two")
    await until(lambda: len(got) == 2)
    assert got == [("user.a", b"one"), ("user.a", b"two")] and other == []


async def test_closed_subscription_receives_nothing(bus: Bus) -> None:
    got: list[bytes] = []
    sub = await bus.subscribe("c", lambda c, d: got.append(d))
    keep: list[bytes] = []
    await bus.subscribe("c", lambda c, d: keep.append(d))
    await asyncio.sleep(0.05)
    sub.close()
    await bus.publish("c", b"x")
    await until(lambda: keep == [b"x"])
    assert got == []


async def test_failing_handler_does_not_break_others(bus: Bus) -> None:
    got: list[bytes] = []

    def broken(c: str, d: bytes) -> None:
        raise RuntimeError("boom")

    await bus.subscribe("c", broken)
    await bus.subscribe("c", lambda c, d: got.append(d))
    await asyncio.sleep(0.05)
    await bus.publish("c", b"x")
    await until(lambda: got == [b"x"])


@pytest.mark.redis
async def test_redis_bus_recovers_after_connection_loss() -> None:
    require_redis()
    import redis.asyncio as aioredis

    bus = RedisBus(REDIS_URL, prefix="tandem-test-recover:", max_backoff_s=0.2)
    reconnects: list[int] = []
    bus.reconnect_callbacks.append(lambda: reconnects.append(1))
    await bus.start()
    try:
        await wait_healthy(bus)
        got: list[bytes] = []
        await bus.subscribe("c", lambda c, d: got.append(d))
        await asyncio.sleep(0.05)
        admin = aioredis.from_url(REDIS_URL)
        await admin.client_kill_filter(_type="pubsub")  # the server drops our subscriber connection
        await admin.aclose()
        await until(lambda: len(reconnects) >= 2, within=5)
        await wait_healthy(bus)
        await asyncio.sleep(0.1)
        await bus.publish("c", b"after")
        await until(lambda: got == [b"after"])
    finally:
        await bus.close()


@pytest.mark.redis
async def test_redis_publish_fails_loudly_when_unreachable() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0")
    await bus.start()
    try:
        with pytest.raises(Unavailable):
            await bus.publish("c", b"x")
        assert not bus.healthy
    finally:
        await bus.close()
