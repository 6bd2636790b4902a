"""In-process bus: one node, no network."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from server.bus.base import Handler

log = logging.getLogger(__name__)


class _Sub:
    def __init__(self, bus: MemoryBus, channel: str, handler: Handler) -> None:
        self._bus, self.channel, self.handler = bus, channel, handler

    def close(self) -> None:
        subs = self._bus._subs.get(self.channel)
        if subs is not None:
            subs.discard(self)
            if not subs:
                del self._bus._subs[self.channel]


class MemoryBus:
    def __init__(self) -> None:
        self._subs: dict[str, set[_Sub]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._subs.clear()

    @property
    def healthy(self) -> bool:
        return True

    async def publish(self, channel: str, payload: bytes) -> None:
        await self.publish_many([(channel, payload)])

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> list[int]:
        # Delivered on a later loop turn, as a remote node would see it: one callback for the
        # whole batch, in order (a batch of sends is hundreds of frames).
        deliveries: list[tuple[Handler, str, bytes]] = []
        reached: list[int] = []
        for channel, payload in messages:
            subs = self._subs.get(channel, ())
            reached.append(len(subs))
            deliveries += [(sub.handler, channel, payload) for sub in subs]
        if deliveries:
            asyncio.get_running_loop().call_soon(_deliver_all, deliveries)
        return reached

    async def subscribe(self, channel: str, handler: Handler) -> _Sub:
        sub = _Sub(self, channel, handler)
        self._subs.setdefault(channel, set()).add(sub)
        return sub


def _deliver(handler: Handler, channel: str, payload: bytes) -> None:
    try:
        handler(channel, payload)
    except Exception:
        log.exception("bus handler failed", extra={"channel": channel})


def _deliver_all(deliveries: list[tuple[Handler, str, bytes]]) -> None:
    for handler, channel, payload in deliveries:
        _deliver(handler, channel, payload)
