"""Rooms on any node (issue 15): a participant's frames reach the room's home node over the bus.

A /ws connection lives on the node nginx chose (its edge); a room lives on its home node
(server/signalling/homes.py). A room is a check-in (its frames name it in ``room``) or a live
group session (``group.*`` frames name it in ``session``). For a ``join`` or ``group.join`` the
edge looks the home up: none, or this node, and the room is handled here (``Signalling.on_join``
or ``GroupLive.on_join`` claims it); another node, and the frame travels to it. Later frames of
that connection for that room follow the join. On the home,
a ``RemoteConn`` stands in for the edge's connection, so the same handlers, the same rooms
and the same coded errors serve both; what the room sends it goes back to the edge.

Channels: each node listens on ``node.<node id>``. Messages (JSON):

- ``in``     edge -> home: a frame, with the sender's identity (nodes trust one another's bus)
- ``close``  edge -> home: the connection ended (a dropped participant)
- ``out``    home -> edge: a frame for one connection, already encoded
- ``moved``  home -> edge: the home lost the room meanwhile; the edge forwards the frame again

Order: edge to home, one connection's frames are published one after another (the gateway
reads a connection's frames in order, and each publish finishes before the next frame is
read) and the home runs them one after another per connection; home to edge, one queue per
edge drained by one task. The bus may lose messages when Redis fails: a frame the edge
could not hand over gets the coded error ``unavailable`` (retry), a frame for a home nobody
listens for (it died) too, until its lease lapses and another node takes the room over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Any

import msgspec
from aiohttp import web

from server.bus.base import Bus
from server.errors import Unavailable
from server.groups import protocol as gp
from server.identity.model import Actor, Role
from server.identity.service import Authenticated
from server.signalling import protocol as p
from server.web.frames import Error, Inbound, Outbound
from server.web.gateway import Connection, ConnState, Gateway
from server.web.ws_signalling import Moved, Signalling

log = logging.getLogger("tandem.rooms")
MAX_HOPS = 3  # a join handed from home to home (claims racing) gives up after this many
# A check-in's frames name their room in ``room``; a group session's (and a network meeting's) in ``session``.
ROOM_FRAMES: tuple[type[Inbound], ...] = p.INBOUND + gp.INBOUND
JOINS: tuple[type[Inbound], ...] = (p.Join, gp.GroupJoin)


def room_of(frame: Any) -> str:
    """The room a room frame is about: a check-in's id, or a group session's."""
    return str(frame.session if isinstance(frame, gp.SessionFrame) else frame.room)


class _Session(msgspec.Struct, frozen=True):
    """What the room handlers read of a remote connection's session."""

    checkin_id: str | None = None
    group_session_id: str | None = None


class RemoteConn:
    """A participant connected to another node, as the room's home sees them."""

    __slots__ = ("auth", "cid", "edge", "router", "state")

    def __init__(self, router: RoomRouter, edge: str, cid: str, actor: Actor, checkin_id: str | None,
                 group_session_id: str | None = None) -> None:
        self.router, self.edge, self.cid = router, edge, cid
        self.auth = Authenticated(actor, _Session(checkin_id=checkin_id,  # type: ignore[arg-type]
                                                  group_session_id=group_session_id))
        self.state = ConnState.OPEN

    def send(self, frame: Outbound | bytes) -> bool:
        if self.state is ConnState.CLOSED:
            return False
        data = frame if isinstance(frame, bytes) else self.router.gateway.codec.encode(frame)
        room = frame.room if isinstance(frame, p.Reconnect) else None
        self.router.to_node(self.edge, {"k": "out", "c": self.cid, "f": data.decode(), "r": room})
        return True


class _Outbox:
    """Messages to one node, published in order by one task."""

    def __init__(self, bus: Bus, channel: str) -> None:
        self.bus, self.channel = bus, channel
        self.queue: deque[bytes] = deque()
        self.task: asyncio.Task[None] | None = None

    def put(self, payload: bytes) -> None:
        self.queue.append(payload)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch = [(self.channel, self.queue.popleft()) for _ in range(min(len(self.queue), 64))]
                try:
                    await self.bus.publish_many(batch)
                except Unavailable:  # the bus is down: these are lost; the participants reconnect and resume
                    log.warning("room frames not delivered", extra={"channel": self.channel, "count": len(batch)})
        finally:
            self.task = None

    async def flush(self, timeout_s: float) -> None:
        if self.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.task), timeout_s)


class RoomRouter:
    def __init__(self, gateway: Gateway, signalling: Signalling, bus: Bus, node_id: str) -> None:
        self.gateway = gateway
        self.signalling = signalling
        self.bus = bus
        self.node_id = node_id
        self.homes = signalling.homes
        # What a participant of another node leaving (their connection ended) runs here: every
        # kind of room's own close hook (check-ins', group sessions').
        self.remote_close_hooks: list[Callable[[Any], Awaitable[None]]] = [signalling.on_close]
        self.local_handlers: dict[type[Inbound], Callable[[Any, Any], Awaitable[None]]] = {}
        self.conns: dict[str, Connection] = {}  # this node's connections that reach rooms elsewhere, by id
        self.cid_of: dict[Connection, str] = {}
        self.routed: dict[Connection, dict[str, str]] = {}  # connection -> room -> home node
        self.remotes: dict[tuple[str, str], RemoteConn] = {}  # (edge, connection id) -> stand-in
        self._inbox: dict[tuple[str, str], deque[dict[str, Any]]] = {}
        self._outboxes: dict[str, _Outbox] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._sub: Any = None
        self._working: set[asyncio.Task[None]] = set()  # other nodes' frames being handled here
        self.forwarded = 0  # frames handed to another node (bench/cluster.py)

    def register(self) -> None:
        """Wrap the rooms' handlers (check-ins' and group sessions', registered first) so frames
        for rooms elsewhere travel there."""
        for kind in ROOM_FRAMES:
            handler = self.gateway.handler(kind)
            self.local_handlers[kind] = handler
            self.gateway.on(kind, self.on_join if kind in JOINS else self._route(handler))
        self.gateway.close_hooks.append(self.on_close)

    async def start(self) -> None:
        self._sub = await self.bus.subscribe(f"node.{self.node_id}", self._on_bus)

    async def stop(self) -> None:
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        if self._working:  # frames already taken are handled before the store closes
            await asyncio.wait(list(self._working), timeout=5.0)

    async def flush(self, timeout_s: float) -> None:
        for box in list(self._outboxes.values()):
            await box.flush(timeout_s)

    # -- the edge --------------------------------------------------------------------------

    def _route(self, local: Callable[[Any, Any], Awaitable[None]]) -> Callable[[Connection, Any], Awaitable[None]]:
        async def route(conn: Connection, frame: Any) -> None:
            home = self.routed.get(conn, {}).get(room_of(frame))
            if home is None:
                await local(conn, frame)
            else:
                await self._forward(conn, home, frame)
        return route

    async def on_join(self, conn: Connection, frame: p.Join | gp.GroupJoin) -> None:
        room = room_of(frame)
        row = await self.homes.home(room)
        home = row.home_node if row is not None and row.live else None
        if home is None or home == self.node_id:
            try:
                await self.local_handlers[type(frame)](conn, frame)
            except Moved as moved:  # another node claimed it between the look-up and the claim
                home = moved.home
            else:
                self.routed.get(conn, {}).pop(room, None)
                return
        if home is None or home == self.node_id:
            raise Unavailable("The call is moving between servers; try again", reason="room.moving")
        await self._forward(conn, home, frame)

    async def _forward(self, conn: Connection, home: str, frame: Inbound, hops: int = 0) -> None:
        if not self.bus.healthy:
            raise Unavailable("The server holding this call cannot be reached right now; try again",
                              reason="room.unreachable")
        cid = self.cid_of.get(conn)
        if cid is None:
            cid = self.cid_of[conn] = uuid.uuid4().hex
            self.conns[cid] = conn
        actor = conn.auth.actor
        msg = {"k": "in", "e": self.node_id, "c": cid, "a": {**asdict(actor), "role": actor.role.value},
               "l": conn.auth.session.checkin_id,
               "g": conn.auth.session.group_session_id, "h": hops, "f": msgspec.json.encode(frame).decode()}
        lock = self._locks.setdefault(home, asyncio.Lock())
        try:
            async with lock:  # one connection's frames leave in the order they were read
                reached = (await self.bus.publish_many([(f"node.{home}", msgspec.json.encode(msg))]))[0]
        except Unavailable:
            reached = 0  # the bus went down under this frame
        if not reached:  # the bus is down, or nobody listens for that node: it died; its lease lapses soon
            raise Unavailable("The server holding this call is not answering; try again in a few seconds",
                              reason="room.unreachable")
        self.routed.setdefault(conn, {})[room_of(frame)] = home
        self.forwarded += 1

    async def on_close(self, conn: Connection) -> None:
        rooms = self.routed.pop(conn, {})
        cid = self.cid_of.pop(conn, None)
        if cid is None:
            return
        self.conns.pop(cid, None)
        for home in set(rooms.values()):
            with contextlib.suppress(Unavailable):
                async with self._locks.setdefault(home, asyncio.Lock()):
                    await self.bus.publish(f"node.{home}", msgspec.json.encode({"k": "close", "e": self.node_id,
                                                                                 "c": cid}))

    async def watch(self) -> None:
        """A home that died leaves its rooms' participants on other nodes talking to nobody: once its
        lease has lapsed, they are told to reconnect (their join claims the room on a live node).
        An edge that died leaves its participants in this node's rooms: they are dropped (the grace
        period starts, as for any lost connection) once nobody listens on its channel any more."""
        await self._check_edges()
        seen: dict[str, bool] = {}
        for conn, rooms in list(self.routed.items()):
            for room, home in list(rooms.items()):
                if room not in seen:
                    row = await self.homes.home(room)
                    seen[room] = row is not None and row.home_node == home and row.live
                if not seen[room]:
                    rooms.pop(room, None)
                    conn.send(p.Reconnect(room=room, reason="takeover"))

    # -- the home ----------------------------------------------------------------------------

    async def _check_edges(self) -> None:
        edges = sorted({edge for edge, _ in self.remotes})
        if not edges:
            return
        try:
            reached = await self.bus.publish_many([(f"node.{e}", b'{"k":"ping"}') for e in edges])
        except Unavailable:
            return  # the bus is down, not the edges: nothing to conclude
        for edge, n in zip(edges, reached, strict=True):
            if n:
                continue
            log.warning("node gone: dropping its participants", extra={"node": edge})
            for key in [k for k in self.remotes if k[0] == edge]:
                remote = self.remotes.pop(key)
                remote.state = ConnState.CLOSED
                await self._closed(remote)

    async def _closed(self, remote: RemoteConn) -> None:
        for hook in self.remote_close_hooks:
            try:
                await hook(remote)
            except Exception:
                log.exception("a remote participant's close hook failed")

    def to_node(self, node: str, msg: dict[str, Any]) -> None:
        box = self._outboxes.get(node)
        if box is None:
            box = self._outboxes[node] = _Outbox(self.bus, f"node.{node}")
        box.put(msgspec.json.encode(msg))

    def _on_bus(self, _channel: str, data: bytes) -> None:
        try:
            msg = msgspec.json.decode(data)
            kind = msg["k"]
        except (msgspec.DecodeError, KeyError, TypeError):
            log.warning("bad room message on the bus")
            return
        if kind == "ping":
            return
        if kind == "out":
            conn = self.conns.get(msg["c"])
            if conn is not None:
                if msg.get("r"):  # a reconnect: the connection's next join finds the room's new home
                    self.routed.get(conn, {}).pop(msg["r"], None)
                conn.send(msg["f"].encode())
            return
        if kind == "moved":
            conn = self.conns.get(msg["c"])
            if conn is not None:
                task = asyncio.get_running_loop().create_task(self._moved(conn, msg))
                task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)
            return
        key = (msg["e"], msg["c"])
        queue = self._inbox.get(key)
        if queue is None:
            queue = self._inbox[key] = deque()
            task = asyncio.get_running_loop().create_task(self._work(key, queue))
            self._working.add(task)
            task.add_done_callback(self._working.discard)
        queue.append(msg)

    async def _moved(self, conn: Connection, msg: dict[str, Any]) -> None:
        frame = self.gateway.codec.decode(msg["f"].encode())
        ref = getattr(frame, "id", None)
        try:
            if msg["h"] >= MAX_HOPS or not msg.get("home"):
                raise Unavailable("The call is moving between servers; try again", reason="room.moving")
            await self._forward(conn, msg["home"], frame, msg["h"] + 1)
        except Unavailable as err:
            conn.send(Error(code=err.code, message=err.message, ref=ref if isinstance(ref, str) else None,
                            reason=err.reason))

    async def _work(self, key: tuple[str, str], queue: deque[dict[str, Any]]) -> None:
        try:
            while queue:
                msg = queue.popleft()
                try:
                    await self._handle(key, msg)
                except Exception:
                    log.exception("room message failed")
        finally:
            self._inbox.pop(key, None)

    async def _handle(self, key: tuple[str, str], msg: dict[str, Any]) -> None:
        if msg["k"] == "close":
            remote = self.remotes.pop(key, None)
            if remote is not None:
                remote.state = ConnState.CLOSED
                await self._closed(remote)
            return
        remote = self.remotes.get(key)
        if remote is None:
            a = msg["a"]
            actor = msgspec.convert({**a, "role": Role(a["role"])}, Actor, from_attributes=False, strict=False)
            remote = self.remotes[key] = RemoteConn(self, msg["e"], msg["c"], actor, msg.get("l"), msg.get("g"))
        frame = self.gateway.codec.decode(msg["f"].encode())
        ref = getattr(frame, "id", None)
        ref = ref if isinstance(ref, str) else None
        handler = self.local_handlers[type(frame)]
        if isinstance(frame, JOINS):
            try:
                await Gateway.guarded(remote, handler(remote, frame), ref, (Moved,))
            except Moved as moved:
                self.to_node(msg["e"], {"k": "moved", "c": msg["c"], "home": moved.home, "h": msg["h"],
                                        "f": msg["f"]})
            return
        await Gateway.guarded(remote, handler(remote, frame), ref)


ROUTER = web.AppKey("room_router", RoomRouter)


async def background(app: web.Application) -> AsyncIterator[None]:
    router = app[ROUTER]
    await router.start()

    stop = asyncio.Event()

    async def watch() -> None:  # never cut short mid-query: it ends between two rounds
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), router.homes.lease_s / 3)
            if stop.is_set():
                return
            try:
                await router.watch()
            except Exception as err:
                log.warning("room watch failed", extra={"error": type(err).__name__})

    task = asyncio.create_task(watch(), name="room-watch")
    yield
    stop.set()
    await task
    await router.stop()
