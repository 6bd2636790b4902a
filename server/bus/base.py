"""The bus wakes other parts of the system (and other nodes) after a commit.

It stores nothing: every message is persisted before it is published, so a lost
publish loses nothing; a subscriber that may have missed one resyncs from the store.
Two implementations: ``MemoryBus`` (one process, the default) and ``RedisBus``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

Handler = Callable[[str, bytes], None]


class Subscription(Protocol):
    def close(self) -> None: ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, channel: str, payload: bytes) -> None:
        """Deliver to every subscriber of ``channel`` on every node, at most once."""
        ...

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> list[int]:
        """``publish`` for each (channel, payload), in order; one round trip where the bus
        has a network (a batch of sends publishes this way). Returns, per message, how many
        subscribers it reached at publish time: local subscriptions for the in-process bus,
        subscribed nodes for Redis (each node subscribes a channel once). 0 means no one
        was listening; more than 0 means the message was handed to a listener, not that a
        client has read it."""
        ...

    async def subscribe(self, channel: str, handler: Handler) -> Subscription:
        """Call ``handler(channel, payload)`` on the event loop for each message; must not block."""
        ...

    @property
    def healthy(self) -> bool: ...
