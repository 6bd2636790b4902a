"""The bus contract, run against the in-process bus and real Redis. ``publish_many`` says how
many subscribers each message reached: local subscriptions in memory, nodes on Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from server.bus.base import Bus, Subscription
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


async def listening(bus: Bus, channel: str, got: list[bytes]) -> Subscription:
    """Subscribe and wait until the bus delivers on ``channel`` (Redis subscribes on another connection)."""
    sub = await bus.subscribe(channel, lambda c, d: got.append(d))
    for _ in range(300):
        await bus.publish(channel, b"probe")
        await asyncio.sleep(0.01)
        if got:
            got.clear()
            return sub
    raise AssertionError(f"never subscribed to {channel}")


def unprobed(got: list[bytes]) -> list[bytes]:
    return [d for d in got if d != b"probe"]  # another subscriber's probes reach this one too


async def test_publish_many_counts_the_subscribers_each_message_reached(bus: Bus) -> None:
    one: list[bytes] = []
    await listening(bus, "user.one", one)
    counts = await bus.publish_many([("user.one", b"1"), ("user.nobody", b"2"), ("user.one", b"3")])
    assert counts == [1, 0, 1]  # nothing counts for a channel no one subscribed (nor Redis's placeholder)
    await until(lambda: one == [b"1", b"3"])
    assert await bus.publish_many([]) == []


async def test_publish_many_counts_nothing_once_the_subscriber_left(bus: Bus) -> None:
    sub = await listening(bus, "user.gone", [])
    assert await bus.publish_many([("user.gone", b"1")]) == [1]
    sub.close()
    # At once in memory; on Redis once the node's UNSUBSCRIBE has gone through.
    for _ in range(300):
        if await bus.publish_many([("user.gone", b"2")]) == [0]:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("still counted after the subscription was closed")


async def test_memory_bus_counts_each_local_subscription() -> None:
    bus = MemoryBus()
    got: list[bytes] = []
    for _ in range(2):
        await bus.subscribe("user.two_tabs", lambda c, d: got.append(d))
    assert await bus.publish_many([("user.two_tabs", b"x"), ("user.none", b"y")]) == [2, 0]
    await until(lambda: got == [b"x", b"x"])


@pytest.mark.redis
async def test_redis_counts_every_node_that_subscribed_once_each() -> None:
    """Two RedisBus instances on one Redis are two nodes: a publish from node A reaches the
    subscribers of node B, and PUBLISH counts each node once, however many local subscribers."""
    require_redis()
    prefix = f"tandem-test-nodes-{id(object())}:"
    node_a, node_b = RedisBus(REDIS_URL, prefix=prefix), RedisBus(REDIS_URL, prefix=prefix)
    for node in (node_a, node_b):
        await node.start()
    try:
        for node in (node_a, node_b):
            await wait_healthy(node)
        on_a: list[bytes] = []
        on_b: list[bytes] = []
        both_b: list[bytes] = []
        await listening(node_a, "user.both", on_a)
        await listening(node_b, "user.both", on_b)
        await listening(node_b, "user.b_only", both_b)
        await node_b.subscribe("user.both", lambda c, d: None)  # a second connection of the user on node B
        counts = await node_a.publish_many([("user.both", b"1"), ("user.b_only", b"2"), ("user.nobody", b"3")])
        assert counts == [2, 1, 0]
        await until(lambda: [unprobed(got) for got in (on_a, on_b, both_b)] == [[b"1"], [b"1"], [b"2"]])
        await node_b.close()  # node B goes away: its subscriptions go with its connection
        for _ in range(300):
            counts = await node_a.publish_many([("user.both", b"4"), ("user.b_only", b"5")])
            if counts == [1, 0]:
                break
            await asyncio.sleep(0.01)
        assert counts == [1, 0]
    finally:
        await node_a.close()
        await node_b.close()


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
        with pytest.raises(Unavailable):
            await bus.publish_many([("c", b"x")])
        assert not bus.healthy
    finally:
        await bus.close()
