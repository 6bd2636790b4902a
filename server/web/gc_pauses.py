"""Keeping cyclic garbage collection from pausing a server that holds many connections.

Design note. CPython's full ("generation 2") collection walks every container object
the collector tracks. An authenticated WebSocket holds hundreds of them (request,
response, reader, writer, session, frames), so with thousands of open connections a full
collection pauses the event loop, and every send and delivery with it, for hundreds of
milliseconds (measured with bench/messaging.py and a ``gc.callbacks`` probe: 80-290 ms
each, growing while 6,000 connections opened; p99 send->receive of 553 ms with 12,000
connections open). Objects that live long (startup state, open connections) never need
that walk while they live.

So ``tandem serve`` moves what survives a full collection into the collector's permanent
generation (``gc.freeze``, right after each full collection, when the young generations
are empty: only live objects move). The next full collection walks only what became
long-lived since. Reference counting still frees everything as usual; only garbage in
reference *cycles* among frozen objects waits, until every ``thaw_every_s`` everything
is unfrozen and the next full collection reclaims it (one longer pause per period).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web


def _freeze_after_full(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


def keeper(*, thaw_every_s: float = 600.0) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry: freeze after full collections while the app runs, thaw
    every ``thaw_every_s``."""
    if thaw_every_s <= 0:
        raise ValueError("thaw_every_s must be positive")

    async def thaw() -> None:
        while True:
            await asyncio.sleep(thaw_every_s)
            gc.unfreeze()

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        gc.collect()
        gc.freeze()  # what startup made (modules, settings, policies, the app) stays
        gc.callbacks.append(_freeze_after_full)
        task = asyncio.create_task(thaw(), name="gc-thaw")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            gc.callbacks.remove(_freeze_after_full)
            gc.unfreeze()

    return ctx
