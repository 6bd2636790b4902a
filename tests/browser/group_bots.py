"""aiortc participants of a live group session for browser tests: each is a
``tests.helpers.sfubots.Bot`` speaking the /ws group frames (docs/protocol.md) with a bearer
token, on an asyncio loop of its own in a background thread (Playwright's sync API keeps
the test's thread). The test calls them synchronously; every wait has a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import aiohttp

from tests.helpers.safe_space import pass_group_safe_space
from tests.helpers.sfubots import Bot

T = TypeVar("T")


class Loop:
    """An asyncio loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="group-bots", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class WsBot:
    """One participant: a /ws connection (its frames kept in order) and an aiortc bot."""

    def __init__(self, loop: Loop, base_url: str, token: str, name: str, *, tone: bool = False) -> None:
        self.loop, self.base_url, self.token, self.name, self.tone = loop, base_url, token, name, tone
        self.seen: list[dict[str, Any]] = []
        self.participant = ""
        self.http: aiohttp.ClientSession | None = None
        self.ws: Any = None
        self.bot: Bot | None = None
        self._reader: asyncio.Task[None] | None = None

    async def _connect(self) -> None:
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(f"{self.base_url}/ws", headers={"Authorization": f"Bearer {self.token}"})
        await self.ws.send_json({"type": "hello"})
        welcome = await self.ws.receive_json(timeout=10)
        assert welcome["type"] == "welcome", welcome
        self.bot = Bot(self.name, audio_slots=3, video_slots=3, tone=self.tone)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(Exception):
            async for msg in self.ws:
                frame = msg.json()
                self.seen.append(frame)
                if frame["type"] == "group.joined" and self.bot is not None:
                    self.participant = self.bot.name = frame["participant"]
                elif frame["type"] == "group.slots" and self.bot is not None:
                    self.bot.set_slots(dict(frame["slots"]))
                elif frame["type"] == "group.answer" and self.bot is not None:
                    await self.bot.accept(frame["sdp"])

    async def _join(self, session: str) -> None:
        if self.ws is None:
            await self._connect()
        assert self.bot is not None and self.http is not None
        # The server refuses the join until the safe-space check is passed for the session.
        await pass_group_safe_space(self.http, {"Authorization": f"Bearer {self.token}"}, session, base=self.base_url)
        await self.ws.send_json({"type": "group.join", "session": session, "sdp": await self.bot.offer(),
                                 "id": f"join-{self.name}"})

    def join(self, session: str) -> None:
        self.loop.run(self._join(session))

    def frame(self, type_: str, within_s: float = 30.0, **match: Any) -> dict[str, Any]:
        """The first frame of that type (and those field values) seen so far, waiting for it."""
        deadline = time.monotonic() + within_s
        while True:
            for f in list(self.seen):
                if f["type"] == type_ and all(f.get(k) == v for k, v in match.items()):
                    return f
            assert time.monotonic() < deadline, f"{self.name}: no {type_} {match} in {within_s} s; saw {self.seen[-5:]}"
            time.sleep(0.1)

    def until(self, check: Callable[[], bool], what: str, within_s: float = 30.0) -> None:
        deadline = time.monotonic() + within_s
        while not check():
            assert time.monotonic() < deadline, f"{self.name}: {what} not within {within_s} s"
            time.sleep(0.2)

    def decoded(self) -> int:
        bot = self.bot
        if bot is None:
            return 0
        return sum(r.decoded for mid, r in bot.received.items() if bot.kind_of.get(mid) == "video")

    def my_seat(self) -> dict[str, Any] | None:
        states = [f for f in self.seen if f["type"] == "group.state"]
        if not states:
            return None
        return next((s for s in states[-1]["participants"] if s["participant"] == self.participant), None)

    async def _close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self.ws is not None:
            await self.ws.close()
        if self.bot is not None:
            await self.bot.close()
        if self.http is not None:
            await self.http.close()
        self.ws = self.bot = self.http = self._reader = None

    def close(self) -> None:
        self.loop.run(self._close())
