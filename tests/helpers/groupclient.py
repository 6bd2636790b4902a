"""A headless group-session participant on a real node, behaving as the web client does
(client_web/group/core.js over client_web/shared/socket.js): one /ws connection and one aiortc
``Bot`` (tests/helpers/sfubots.py) per peer connection.

- The socket: ``hello`` on open, and on ``welcome`` a ``group.join`` with a fresh offer
  (core.js ``onOpen -> rejoin()``). When the socket drops and the client did not close it, it
  opens a new one after socket.js's back-off (the n-th try waits 1/2..1 of min(30 s, 0.5 s x
  2^n)) to ``base_url``, which the caller may point at another node meanwhile (nginx failing
  over to the live node).
- ``reconnect`` for its session: a new peer connection (a new ``Bot``) and ``group.join`` again.
- a ``group.join`` answered ``unavailable`` with ``room.unreachable``, ``room.moving`` or
  ``node.draining``: again with a new offer 2 s later (``RETRY_JOIN_MS``), unless another join
  was sent meanwhile, for up to 30 s from the first such answer.
- ``group.answer``: the bot takes the SFU's answer; ``group.slots``: the bot's slot map.

Every frame is kept with the loop time it was read (``frames``), and every ``group.joined`` too
(``joins``). Used by bench/cluster_group.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import aiohttp

from tests.helpers.safe_space import pass_group_safe_space
from tests.helpers.sfubots import Bot, ToneTrack
from tests.helpers.socketjs import reconnect_delay

RETRY_JOIN = frozenset({"room.unreachable", "room.moving", "node.draining"})  # core.js
RETRY_JOIN_S = 2.0  # core.js RETRY_JOIN_MS
RETRY_FOR_S = 30.0  # core.js RETRY_FOR_MS
_ids = itertools.count(1)


class GroupClient:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, headers: dict[str, str], session_id: str,
                 name: str, *, slots: int, hz: int, fps: int = 15) -> None:
        self.http, self.base_url, self.headers, self.sid, self.name = http, base_url, headers, session_id, name
        self.slots, self.hz, self.fps = slots, hz, fps
        self.frames: list[tuple[float, dict[str, Any]]] = []
        self.joins: list[tuple[float, dict[str, Any]]] = []  # (loop time, group.joined)
        self.refusals: list[dict[str, Any]] = []  # a join answered with an error not retried
        self.participant = ""
        self.bot: Bot | None = None
        self.bot_since = 0.0  # loop time the current bot (peer connection) was made
        self.join_id: str | None = None
        self.retrying_since: float | None = None
        self.changed = asyncio.Event()
        self._ws: Any = None
        self._closing = False
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the socket ---------------------------------------------------------------------------

    async def start(self) -> GroupClient:
        """Pass the session's safe-space check (as the web page does first), open the socket: it joins."""
        await pass_group_safe_space(self.http, self.headers, self.sid, base=self.base_url)
        await self._open()
        return self

    async def _open(self) -> None:
        url = self.base_url.replace("http", "ws", 1) + "/ws"
        self._ws = await self.http.ws_connect(url, headers=self.headers, heartbeat=None, max_msg_size=256 * 1024)
        await self._ws.send_json({"type": "hello", "version": 1})
        self._reader = asyncio.get_running_loop().create_task(self._read(self._ws))

    async def _read(self, ws: Any) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                frame = msg.json()
                self.frames.append((loop.time(), frame))
                await self._on_frame(frame)
                self.changed.set()
        self.frames.append((loop.time(), {"type": "_closed"}))
        self.changed.set()
        if not self._closing and ws is self._ws:
            self._later(self._reopen())

    async def _reopen(self) -> None:
        attempt = 0
        while not self._closing:
            await asyncio.sleep(reconnect_delay(attempt))
            attempt += 1
            try:
                await self._open()
            except (aiohttp.ClientError, OSError):
                continue
            return

    def _later(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, **frame: Any) -> None:
        await self._ws.send_json(frame)

    # -- frames, as core.js handles them --------------------------------------------------------

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if frame.get("session") not in (None, self.sid):
            return
        if kind == "welcome" or (kind == "reconnect" and frame.get("room") == self.sid):
            await self.join()
        elif kind == "group.joined":
            self.retrying_since = None
            self.joins.append((asyncio.get_running_loop().time(), frame))
            self.participant = frame["participant"]
            if self.bot is not None:
                self.bot.name = self.participant
        elif kind == "group.answer" and self.bot is not None:
            if self.bot.pc.signalingState == "have-local-offer":
                await self.bot.accept(frame["sdp"])
        elif kind == "group.slots" and self.bot is not None:
            self.bot.set_slots(dict(frame["slots"]))
        elif kind == "error" and frame.get("ref") is not None and frame.get("ref") == self.join_id:
            now = asyncio.get_running_loop().time()
            if frame.get("code") == "unavailable" and frame.get("reason") in RETRY_JOIN:
                self.retrying_since = self.retrying_since if self.retrying_since is not None else now
                if now - self.retrying_since < RETRY_FOR_S:
                    self._later(self._join_after(self.join_id))
                    return
            self.refusals.append(frame)

    async def _join_after(self, refused: str) -> None:
        await asyncio.sleep(RETRY_JOIN_S)
        if not self._closing and self.join_id == refused:  # a join sent meanwhile makes this one moot
            await self.join()

    async def join(self) -> None:
        """A new peer connection (core.js ``offer()`` closes the old one) and ``group.join`` with its offer."""
        if self.bot is not None:
            await self.bot.close()
        self.bot = Bot(self.participant or self.name, audio_slots=self.slots, video_slots=self.slots, tone=True,
                       noise=False, fps=self.fps)
        track = self.bot.audio_sender.track
        assert isinstance(track, ToneTrack)
        track.hz = self.hz  # its own pitch: its audio payloads are its own
        self.bot_since = asyncio.get_running_loop().time()
        self.join_id = f"{self.name}-join-{next(_ids)}"
        await self.send(type="group.join", session=self.sid, sdp=await self.bot.offer(), id=self.join_id)

    # -- what the caller reads ----------------------------------------------------------------

    def seen(self, kind: str, after: float = 0.0) -> list[tuple[float, dict[str, Any]]]:
        return [(t, f) for t, f in self.frames if f.get("type") == kind and t > after]

    def media_from(self, others: list[GroupClient], after: float) -> float | None:
        """When audio and video RTP from every one of ``others`` (their current peer connections)
        had arrived at this client's current peer connection, made after ``after``; None: not yet."""
        if self.bot is None or self.bot_since <= after:
            return None
        firsts = []
        for other in others:
            if other.bot is None:
                return None
            for kind in ("audio", "video"):
                times = self.bot.times_from(other.bot, kind)
                if not times:
                    return None
                firsts.append(min(times))
        return max(firsts)

    async def close(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self.bot is not None:
            await self.bot.close()
