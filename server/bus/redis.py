"""Redis pub/sub bus for several nodes.

A reader task listens on one pub/sub connection and dispatches to local handlers.
When Redis goes away the reader reconnects with backoff and resubscribes; messages
published meanwhile are lost to the bus, which is why nothing relies on the bus for
storage: ``reconnect_callbacks`` run once the subscriptions are back, and the
messaging gateway then asks every connection to resume from the store.

Every loss of the subscriber connection must reach the reader: redis-py's own
retries would reconnect and resubscribe silently, hiding the gap, so the pub/sub
client has none. Publishing has its own client (one immediate retry on a fresh
connection, a bounded timeout) so a stale or hung connection never holds up a send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from server.bus.base import Handler
from server.bus.memory import _deliver
from server.errors import Unavailable

log = logging.getLogger(__name__)


class _Sub:
    def __init__(self, bus: RedisBus, channel: str, handler: Handler) -> None:
        self._bus, self.channel, self.handler = bus, channel, handler

    def close(self) -> None:
        self._bus._remove(self)


class RedisBus:
    def __init__(self, url: str, *, prefix: str = "tandem:", max_backoff_s: float = 5.0) -> None:
        self._url = url
        self._prefix = prefix
        self._max_backoff = max_backoff_s
        self._redis: aioredis.Redis | None = None  # publishing
        self._redis_sub: aioredis.Redis | None = None  # the reader's pub/sub connection
        self._subs: dict[str, set[_Sub]] = {}
        self._task: asyncio.Task[None] | None = None
        self._pubsub: aioredis.client.PubSub | None = None
        # The reader's subscriptions are in place: only then may others send (UN)SUBSCRIBE on
        # its connection (a PubSub still connecting would open a second, never-read connection).
        self._ready = False
        self._healthy = False
        self.reconnect_callbacks: list[Callable[[], None]] = []

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def start(self) -> None:
        self._redis = aioredis.from_url(self._url, socket_connect_timeout=2, socket_timeout=2,
                                        retry=Retry(NoBackoff(), 1))
        self._redis_sub = aioredis.from_url(self._url, socket_connect_timeout=2, socket_timeout=None,
                                            retry=Retry(NoBackoff(), 0))
        self._task = asyncio.create_task(self._reader(), name="redis-bus-reader")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for client in (self._redis, self._redis_sub):
            if client is not None:
                await client.aclose()

    async def publish(self, channel: str, payload: bytes) -> None:
        assert self._redis is not None, "bus not started"
        try:
            await self._redis.publish(self._prefix + channel, payload)
        except (RedisError, OSError) as err:
            # Health is the reader's to say: it sees the outage too, and only its reconnect
            # (which makes every connection resume) may set it back.
            raise Unavailable("The message bus is unavailable") from err

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> list[int]:
        assert self._redis is not None, "bus not started"
        if not messages:
            return []
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for channel, payload in messages:
                    pipe.publish(self._prefix + channel, payload)
                # PUBLISH answers how many subscriber connections got the message: one per node
                # with a local subscriber of the channel (the reader subscribes each channel once).
                results = await pipe.execute()
        except (RedisError, OSError) as err:
            raise Unavailable("The message bus is unavailable") from err
        return [int(n) for n in results]

    async def subscribe(self, channel: str, handler: Handler) -> _Sub:
        sub = _Sub(self, channel, handler)
        first = channel not in self._subs
        self._subs.setdefault(channel, set()).add(sub)
        if first and self._ready and self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.subscribe(self._prefix + channel)
        return sub

    def _remove(self, sub: _Sub) -> None:
        subs = self._subs.get(sub.channel)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._subs[sub.channel]
            if self._ready and self._pubsub is not None:
                task = asyncio.get_running_loop().create_task(self._unsubscribe(sub.channel))
                task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _unsubscribe(self, channel: str) -> None:
        if self._ready and self._pubsub is not None and channel not in self._subs:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(self._prefix + channel)

    async def _reader(self) -> None:
        backoff = 0.1
        assert self._redis_sub is not None
        while True:
            try:
                self._pubsub = self._redis_sub.pubsub(ignore_subscribe_messages=True)
                # A placeholder channel keeps the connection in subscribe mode when no one listens yet.
                subscribed = set(self._subs)
                await self._pubsub.subscribe(self._prefix + "_", *(self._prefix + c for c in subscribed))
                while missed := set(self._subs) - subscribed:  # subscribed to locally meanwhile
                    subscribed |= missed
                    await self._pubsub.subscribe(*(self._prefix + c for c in missed))
                self._ready = True
                if not self._healthy:
                    self._healthy = True
                    for cb in self.reconnect_callbacks:
                        cb()
                backoff = 0.1
                async for message in self._pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    channel = message["channel"].decode().removeprefix(self._prefix)
                    for sub in list(self._subs.get(channel, ())):
                        _deliver(sub.handler, channel, message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, ConnectionError) as err:
                if self._healthy:
                    log.warning("redis bus lost; reconnecting", extra={"error": type(err).__name__})
                self._healthy = False
            finally:
                self._ready = False
                if self._pubsub is not None:
                    with contextlib.suppress(Exception):
                        await self._pubsub.aclose()
                    self._pubsub = None
            await asyncio.sleep(backoff)
            backoff = min(self._max_backoff, backoff * 2)
