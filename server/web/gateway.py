"""The WebSocket gateway at ``/ws``: one task per connection reading frames, one
writer draining a bounded outbox.

Lifecycle (a table, as in STYLE.md):

    OPENING --hello--> OPEN --close/error--> CLOSED
    OPENING --close--> CLOSED

A connection authenticates with the same session as the HTTP API (cookie plus a
same-origin check, or a bearer token). Frames other than ``hello`` before ``hello``
are refused. Each connection's outbox holds at most ``outbox_limit`` frames; when a
consumer is that far behind it is closed with code 4008 and a reason, and resyncs
from the store on reconnect, so it never stalls anyone else. Features register frame
handlers with ``Gateway.on``; bus messages on ``user.<id>`` are forwarded as-is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from enum import Enum
from typing import Any

from aiohttp import WSMsgType, web

from server.errors import TandemError, Unauthenticated
from server.groups.protocol import SessionFrame
from server.identity.service import Authenticated
from server.web.flood import FrameBudget
from server.web.frames import Error, FrameCodec, FrameError, Hello, Inbound, Outbound, Ping, Pong, Welcome
from server.web.routing import Permission, authenticate, authorise, check_origin
from server.web.state import SERVICES

log = logging.getLogger("tandem.ws")


class ConnState(Enum):
    OPENING = "opening"
    OPEN = "open"
    CLOSED = "closed"


TRANSITIONS: dict[tuple[ConnState, str], ConnState] = {
    (ConnState.OPENING, "hello"): ConnState.OPEN,
    (ConnState.OPENING, "close"): ConnState.CLOSED,
    (ConnState.OPEN, "close"): ConnState.CLOSED,
}


class IllegalTransition(Exception):
    pass


def step(state: ConnState, event: str) -> ConnState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(f"{event!r} is not allowed in state {state.value}") from None


SOCKET = Permission("open a live connection", checkin_session=True, group_session=True)
CLOSE_SLOW_CONSUMER = 4008
CLOSE_RESUME = 4009  # the node may have missed bus messages (e.g. Redis came back): reconnect and resume
CLOSE_FLOODING = 4029
CLOSE_UNAUTHENTICATED = 4001


class Connection:
    """One /ws connection. A frame is written straight into the socket's buffer; only when the
    socket pushes back (flow control) do the next frames wait in the outbox, a bounded deque
    drained by a task that exists only then. An idle connection holds no task, no queue and
    no futures (memory per idle connection is a target: docs/operations.md)."""

    __slots__ = ("_drainer", "auth", "budget", "closed_reason", "codec", "outbox", "outbox_limit", "state", "ws")

    def __init__(self, ws: web.WebSocketResponse, auth: Authenticated, codec: FrameCodec, outbox_limit: int,
                 budget: FrameBudget | None = None) -> None:
        self.ws = ws
        self.budget = budget or FrameBudget()
        self.auth = auth
        self.codec = codec
        self.state = ConnState.OPENING
        self.outbox: deque[bytes] | None = None  # made on the first frame, dropped when drained
        self.outbox_limit = outbox_limit
        self.closed_reason: str | None = None
        self._drainer: asyncio.Task[None] | None = None

    def send(self, frame: Outbound | bytes) -> bool:
        """Queue a frame; False (and the connection is being closed) when the consumer is too slow."""
        if self.state is ConnState.CLOSED:
            return False
        data = frame if isinstance(frame, bytes) else self.codec.encode(frame)
        if self._drainer is None:
            # Nothing queued: write now, into the socket's buffer, with no task for the frame;
            # only a write that must wait for the socket (flow control) leaves its rest, and
            # the frames that follow, to a drainer task.
            try:
                rest = start(self.ws.send_frame(data, WSMsgType.TEXT))
            except Exception as err:  # the peer went away; the read loop sees the close
                log.debug("ws write failed: %s", type(err).__name__)
                return True
            if rest is not None:
                self._drainer = asyncio.get_running_loop().create_task(self._drain(rest))
            return True
        outbox = self.outbox
        if outbox is None:
            outbox = self.outbox = deque()  # an empty deque is ~600 bytes: idle connections hold none
        elif len(outbox) >= self.outbox_limit:
            self.closed_reason = "slow consumer: outbox full, reconnect and resync"
            self.state = ConnState.CLOSED
            self.outbox = None
            asyncio.get_running_loop().create_task(
                self.ws.close(code=CLOSE_SLOW_CONSUMER, message=self.closed_reason.encode()))
            return False
        outbox.append(data)
        return True

    def close_soon(self, code: int, reason: str) -> None:
        """Close from outside the connection's own tasks; frames still queued are dropped."""
        if self.state is ConnState.CLOSED:
            return
        self.closed_reason = reason
        self.state = ConnState.CLOSED
        self.outbox = None
        task = asyncio.get_running_loop().create_task(self.ws.close(code=code, message=reason.encode()))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    @property
    def limited(self) -> bool:
        """Opened with a check-in's or a group session's link code: reaches that one only."""
        return self.auth.session.checkin_id is not None or self.auth.session.group_session_id is not None

    def forward(self, _channel: str, data: bytes) -> None:
        """Bus handler: frames published to this user go out as they are."""
        self.send(data)

    async def _drain(self, first: Awaitable[None]) -> None:
        """Finish the write that had to wait, then write queued frames (already UTF-8 JSON: sent
        as text frames without re-encoding) until the outbox is empty."""
        ws = self.ws
        try:
            await first
            while self.outbox and not ws.closed:
                await ws.send_frame(self.outbox.popleft(), WSMsgType.TEXT)
        except Exception as err:  # the peer went away mid-write; the read loop sees the close
            log.debug("ws write failed: %s", type(err).__name__)
        finally:
            self._drainer = None
            self.outbox = None  # empty (or not worth sending any more)

    async def flush(self, grace_s: float) -> None:
        """Wait (at most ``grace_s`` seconds) for frames queued before closing to be written."""
        if self._drainer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._drainer), grace_s)


class _Suspended:
    """The rest of a coroutine that ``start`` ran until it first waited: awaiting this hands
    what it waits for to the awaiting task and resumes it, as if it had been awaited whole."""

    __slots__ = ("_coro", "_waiting")

    def __init__(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        self._coro, self._waiting = coro, waiting

    def __await__(self) -> Generator[Any, Any, None]:
        coro, waiting = self._coro, self._waiting
        while True:
            try:
                sent = yield waiting
            except BaseException as err:  # cancelled while waiting: the coroutine sees it
                try:
                    waiting = coro.throw(err)
                except StopIteration:
                    return
            else:
                try:
                    waiting = coro.send(sent)
                except StopIteration:
                    return


def start(coro: Coroutine[Any, Any, None]) -> Awaitable[None] | None:
    """Run ``coro`` now, until it finishes (None) or first waits (its rest, to await): an
    eager start, as Python 3.12's eager tasks do, without a task for work that never waits."""
    try:
        waiting = coro.send(None)
    except StopIteration:
        return None
    return _Suspended(coro, waiting)


def _ref_of(codec: FrameCodec, data: Any) -> str | None:
    """The id of a refused frame, when it is a valid frame that has one: the client then
    knows which send to retry (it has not been processed)."""
    try:
        ref = getattr(codec.decode(data), "id", None)
    except FrameError:
        return None
    return ref if isinstance(ref, str) else None


FrameHandler = Callable[[Connection, Any], Awaitable[None]]
HelloHook = Callable[[Connection, Hello], Awaitable[None]]
CloseHook = Callable[[Connection], Awaitable[None]]


class Gateway:
    def __init__(self, *, outbox_limit: int = 256, heartbeat_s: float = 25.0, max_frame_bytes: int = 16 * 1024,
                 frame_rate: float = 10.0, frame_burst: int = 30) -> None:
        self.outbox_limit = outbox_limit
        self.frame_rate = frame_rate
        self.frame_burst = frame_burst
        self.heartbeat_s = heartbeat_s
        self.max_frame_bytes = max_frame_bytes
        self._handlers: dict[type[Inbound], FrameHandler] = {}
        self._codec: FrameCodec | None = None
        self.connections: set[Connection] = set()
        self._by_user: dict[str, set[Connection]] = {}  # the same connections, indexed by user
        self.hello_hooks: list[HelloHook] = []  # run after welcome, e.g. replaying missed messages
        self.close_hooks: list[CloseHook] = []  # run when a connection ends, e.g. a dropped call participant
        # A session limited to one check-in (a link's one-time code) may send only these frames, gets no
        # bus traffic (no messages) and no hello hooks (no resume).
        self.limited_frames: set[type[Inbound]] = {Ping}
        self.on(Ping, self._ping)

    def on(self, frame_type: type[Inbound], handler: FrameHandler) -> None:
        if self._codec is not None:
            raise RuntimeError("register frame handlers before the first connection")
        self._handlers[frame_type] = handler

    def handler(self, frame_type: type[Inbound]) -> FrameHandler:
        """The handler registered for ``frame_type`` (a feature wrapping another's, e.g. room_router)."""
        return self._handlers[frame_type]

    @property
    def codec(self) -> FrameCodec:
        if self._codec is None:
            extra = tuple(t for t in self._handlers if t not in (Hello, Ping))
            self._codec = FrameCodec(extra, max_frame_bytes=self.max_frame_bytes)
        return self._codec

    def online(self, user_id: str) -> bool:
        """Whether the user has a live connection on this node; cost independent of how many others do."""
        return any(c.state is not ConnState.CLOSED for c in self._by_user.get(user_id, ()))

    def _track(self, conn: Connection) -> None:
        self.connections.add(conn)
        self._by_user.setdefault(conn.auth.actor.user_id, set()).add(conn)

    def _untrack(self, conn: Connection) -> None:
        self.connections.discard(conn)
        mine = self._by_user.get(conn.auth.actor.user_id)
        if mine is not None:
            mine.discard(conn)
            if not mine:
                del self._by_user[conn.auth.actor.user_id]

    def close_all(self, code: int, reason: str) -> None:
        """Close every connection of this node, e.g. with CLOSE_RESUME after a gap in the bus."""
        for conn in list(self.connections):
            conn.close_soon(code, reason)

    @staticmethod
    async def _ping(conn: Connection, frame: Ping) -> None:
        conn.send(Pong(id=frame.id))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        services = request.app[SERVICES]
        try:
            check_origin(request)
            auth = await authenticate(request, services.identity)
            if auth is None:
                raise Unauthenticated("Not signed in")
            # The same fence as every HTTP route: second factor finished, and enrolled where required.
            authorise(SOCKET, auth, require_staff_mfa=services.settings.require_staff_mfa)
        except TandemError as err:
            raise web.HTTPUnauthorized(reason=err.message) if err.status == 401 else \
                web.HTTPForbidden(reason=err.message) from None
        if auth.actor.cross_office:
            await services.identity.audit_cross_office(auth.actor, "GET", "/ws", request.path)
        ws = web.WebSocketResponse(heartbeat=self.heartbeat_s, max_msg_size=self.codec.hard_limit, compress=False)
        try:
            await ws.prepare(request)
        except ConnectionResetError:  # the peer left before the handshake (a page closed or reloaded)
            log.info("websocket closed before the handshake", extra={"user_id": auth.actor.user_id})
            return ws  # aiohttp's own prepare of it meets the closed transport and ends quietly
        conn = Connection(ws, auth, self.codec, self.outbox_limit,
                          FrameBudget(rate=self.frame_rate, burst=self.frame_burst))
        self._track(conn)
        sub = None if conn.limited else await services.bus.subscribe(f"user.{auth.actor.user_id}", conn.forward)
        try:
            await self._read_loop(conn)
        finally:
            if sub is not None:
                sub.close()
            conn.state = ConnState.CLOSED
            self._untrack(conn)
            await conn.flush(grace_s=1.0)
            await ws.close()
            for close_hook in self.close_hooks:
                try:
                    await close_hook(conn)
                except Exception:  # one feature's failure must not keep the others from cleaning up
                    log.exception("close hook failed")
        return ws

    async def _read_loop(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        async for msg in conn.ws:
            if msg.type is WSMsgType.ERROR:
                return
            if not conn.budget.take(loop.time()):
                if conn.budget.flooding:
                    await conn.ws.close(code=CLOSE_FLOODING, message=b"too many frames: slow down and reconnect")
                    return
                conn.send(Error(code="rate_limited", message="Too many frames; wait a moment and retry",
                                ref=_ref_of(conn.codec, msg.data)))
                continue
            if msg.type is not WSMsgType.TEXT:
                conn.send(Error(code="invalid_frame", message="Send JSON text frames"))
                continue
            try:
                frame = conn.codec.decode(msg.data)
            except FrameError as err:
                conn.send(Error(code=err.code, message=err.message))
                continue
            if isinstance(frame, Hello):
                try:
                    conn.state = step(conn.state, "hello")
                except IllegalTransition as err:
                    conn.send(Error(code="protocol_error", message=str(err)))
                    continue
                conn.send(Welcome(user_id=conn.auth.actor.user_id, role=conn.auth.actor.role.value,
                                  heartbeat_s=self.heartbeat_s, max_frame_bytes=self.max_frame_bytes))
                for hook in self.hello_hooks if not conn.limited else ():
                    await self.guarded(conn, hook(conn, frame), None)
                continue
            if conn.state is not ConnState.OPEN:
                conn.send(Error(code="protocol_error", message="Send hello first"))
                continue
            if conn.limited and not self._may_send(conn, frame):
                conn.send(Error(code="forbidden", rule_id="scope", ref=getattr(frame, "id", None),
                                message="This session was opened from a link and reaches that meeting only"))
                continue
            ref = getattr(frame, "id", None)
            await self.guarded(conn, self._handlers[type(frame)](conn, frame), ref if isinstance(ref, str) else None)

    def _may_send(self, conn: Connection, frame: Inbound) -> bool:
        """What a link-limited connection may send: a check-in's, the limited frames; a group
        session's, pings and the frames of that group session."""
        group = conn.auth.session.group_session_id
        if group is None:
            return type(frame) in self.limited_frames
        return isinstance(frame, Ping) or (isinstance(frame, SessionFrame) and frame.session == group)

    @staticmethod
    async def guarded(conn: Any, work: Awaitable[None], ref: str | None,
                       passing: tuple[type[Exception], ...] = ()) -> None:
        """Run a handler; its failure becomes an error frame, never a dropped connection
        (exceptions of the ``passing`` types are the caller's to handle)."""
        try:
            await work
        except passing:
            raise
        except TandemError as err:
            conn.send(Error(code=err.code, message=err.message, rule_id=err.rule_id, ref=ref, reason=err.reason,
                            params=err.params if err.reason is not None else None))
        except Exception:
            log.exception("frame handler failed")
            conn.send(Error(code="internal_error", message="Something went wrong on our side", ref=ref))
