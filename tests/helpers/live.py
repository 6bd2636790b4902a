"""A real Tandem server on a free port, its event loop in a thread of its own, for
clients that block (schemathesis drives ``requests`` from the test's thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from server.app import create_app
from server.settings import Settings
from server.web.state import SERVICES, Services

T = TypeVar("T")


class LiveServer:
    """``with LiveServer(settings) as live:`` serves on ``live.url`` until the block ends."""

    def __init__(self, settings: Settings, *, timeout_s: float = 30.0, **app_kwargs: Any) -> None:
        self.settings = settings
        self.app_kwargs = app_kwargs
        self.timeout_s = timeout_s
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="live-server", daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.services: Services | None = None

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def run(self, coro: Callable[[], Coroutine[Any, Any, T]] | Awaitable[T]) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        awaitable = coro() if callable(coro) else coro
        return asyncio.run_coroutine_threadsafe(_wrap(awaitable), self.loop).result(self.timeout_s)

    async def _start(self) -> None:
        app = create_app(self.settings, **self.app_kwargs)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self.services = app[SERVICES]

    def __enter__(self) -> LiveServer:
        self._thread.start()
        try:
            self.run(self._start)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            self.run(self._runner.cleanup)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(self.timeout_s)


async def _wrap(awaitable: Awaitable[T]) -> T:
    return await awaitable
