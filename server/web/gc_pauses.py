"""Keeping cyclic garbage collection from pausing a server that holds many connections.

Design note. CPython's full ("generation 2") collection walks every container object
the collector tracks. An authenticated WebSocket holds hundreds of them (request,
response, reader, writer, session, frames), so with thousands of open connections a full
collection pauses the event loop, and every send and delivery with it, for hundreds of
milliseconds (measured with bench/messaging.py: 55-200 ms with 1,200 connections on a
busy 2-core box, and p99 send->receive of ~550 ms with 12,000). Objects that live long
(startup state, open connections) never need that walk while they live.

So ``tandem serve`` moves what exists into the collector's permanent generation
(``gc.freeze``) at start and every ``freeze_every_s``: a full collection then walks only
what was made since. Reference counting still frees everything as usual; only garbage
in reference *cycles* among frozen objects waits, until every ``thaw_every_s``
everything is unfrozen and the next full collection reclaims it (one longer pause per
period instead of one every few seconds under load).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable

from aiohttp import web


def keeper(
    *, freeze_every_s: float = 30.0, thaw_every_s: float = 600.0
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry that freezes and thaws on that schedule while the app runs."""
    if freeze_every_s <= 0 or thaw_every_s < freeze_every_s:
        raise ValueError("freeze_every_s > 0 and thaw_every_s >= freeze_every_s")

    async def run() -> None:
        loop = asyncio.get_running_loop()
        thawed = loop.time()
        while True:
            await asyncio.sleep(freeze_every_s)
            if loop.time() - thawed >= thaw_every_s:
                gc.unfreeze()
                thawed = loop.time()
            else:
                gc.freeze()

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        gc.freeze()
        task = asyncio.create_task(run(), name="gc-freeze")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            gc.unfreeze()

    return ctx
