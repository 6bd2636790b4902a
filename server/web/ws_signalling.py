"""Signalling over the /ws gateway: the thin shell around the pure rooms (server/signalling/lobby.py).

It authorises a ``join`` through the check-in service (window, face_to_face_first,
safe space, force relay), feeds frames, dropped connections and a once-a-second tick
to the room, and carries out what the room returns: frames to connections of this
process, the "who is waiting" notice to the case's officer over the bus, evidence and
lifecycle steps to the store. A change of who is in a room is stored before anybody is
told of it; SDP and candidates change nobody and go out at once, so the database never
sits between two peers negotiating.

A room lives in the memory of its home node, recorded with a lease in the database
(server/signalling/homes.py); participants connected to other nodes reach it through
server/web/room_router.py, which hands their frames to these same handlers with a
stand-in connection. A home that loses its lease, or drains, tells its participants to
``reconnect``; the node that claims the room next restores their places (docs/cluster.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from server.alerts.model import Resolution
from server.alerts.service import AlertService
from server.checkins.lifecycle import CheckinEvent
from server.checkins.service import CheckinService, JoinGrant
from server.clock import Clock
from server.errors import NotInRoom, Unavailable
from server.identity.service import Authenticated
from server.signalling import protocol as p
from server.signalling.homes import RoomHomes
from server.signalling.lobby import Deliver, Effect, LobbyChanged, Note, PState, Room
from server.web.frames import Outbound
from server.web.gateway import Gateway

log = logging.getLogger("tandem.signalling")
TICK_S = 1.0


class Conn(Protocol):
    """A participant's connection: a /ws connection of this node, or one of another node's
    (room_router.RemoteConn). Hashable, as rooms key participants by it."""

    @property
    def auth(self) -> Authenticated: ...

    def send(self, frame: Outbound | bytes) -> bool: ...

    def __hash__(self) -> int: ...


class Homed(Protocol):
    """Another kind of room homed on this node (group sessions: server/web/group_homes.py): its
    leases renew with the check-ins' in one statement, and it drains with them."""

    draining: bool

    def homed(self) -> dict[str, int]: ...

    async def lost(self, room_ids: set[str]) -> None: ...

    async def drain(self, progress: Callable[[], None]) -> None: ...


class Moved(Exception):
    """Another node holds the room's lease: the frame belongs there."""

    def __init__(self, home: str | None) -> None:
        super().__init__(home)
        self.home = home


@dataclass
class Hosted:
    room: Room
    case_id: str
    officer_id: str
    closes_at: datetime
    epoch: int  # of this node's lease on the room (server/signalling/homes.py)
    tail: asyncio.Future[None] | None = None  # the last step's effects: the next one waits for them


class Signalling:
    def __init__(self, gateway: Gateway, checkins: CheckinService, clock: Clock, homes: RoomHomes, *, grace_s: float,
                 max_participants: int, alerts: AlertService | None = None,
                 registry: CollectorRegistry | None = None) -> None:
        self.gateway = gateway
        self.homes = homes
        self.draining = False
        self._pending: set[asyncio.Task[None]] = set()
        # One claim per room at a time on this node; a lock lives while a join holds or awaits it.
        self._making: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.alerts = alerts  # "a client is waiting", stored until they are let in or leave (issue 13)
        self.checkins = checkins
        self.clock = clock
        self.grace_s = grace_s
        self.max_participants = max_participants
        self.rooms: dict[str, Hosted] = {}
        self.of_conn: dict[Conn, set[str]] = {}
        self.also: list[Homed] = []  # group sessions
        Gauge("tandem_rooms_homed", "Rooms (check-ins and group sessions) whose home is this node",
              registry=registry).set_function(lambda: len(self.rooms) + sum(len(o.homed()) for o in self.also))
        self.drain_left = Gauge("tandem_drain_rooms_left", "Rooms a draining node has still to hand over",
                                registry=registry)
        self.drain_state = Gauge("tandem_node_draining", "1 while this node drains (no new rooms)", registry=registry)
        self.relayed = 0  # frames delivered, for bench/checkins.py
        # After a kept stats sample, e.g. call-quality advice (server/web/ws_media.py).
        self.stats_hooks: list[Callable[[Conn, p.Stats], Awaitable[None]]] = []

    def register(self) -> None:
        g = self.gateway
        g.on(p.Join, self.on_join)
        g.on(p.Admit, lambda c, f: self._act(c, f.room, lambda h: h.room.admit(c, f.participant)))
        g.on(p.Leave, lambda c, f: self._act(c, f.room, lambda h: h.room.leave(c, self.clock.monotonic())))
        g.on(p.End, lambda c, f: self._act(c, f.room, lambda h: h.room.end(c)))
        g.on(p.Offer, lambda c, f: self._act(c, f.room, lambda h: h.room.offer(c, f.to, f.sdp)))
        g.on(p.Answer, lambda c, f: self._act(c, f.room, lambda h: h.room.answer(c, f.to, f.sdp)))
        g.on(p.Candidate, lambda c, f: self._act(c, f.room, lambda h: h.room.candidate(
            c, f.to, f.candidate, f.sdp_mid, f.sdp_mline_index)))
        g.on(p.Media, lambda c, f: self._act(c, f.room, lambda h: h.room.media(c, audio=f.audio, video=f.video)))
        g.on(p.Stats, self.on_stats)
        g.on(p.CantTalk, self.on_cant_talk)
        g.limited_frames.update(p.INBOUND)
        g.close_hooks.append(self.on_close)
        self.checkins.unsafe_hooks.append(self.on_unsafe)
        self.checkins.staff_unsafe_hooks.append(self.on_staff_unsafe)

    # -- frames -------------------------------------------------------------------------

    def _hosted(self, conn: Conn, room_id: str) -> Hosted:
        hosted = self.rooms.get(room_id)
        if hosted is None or room_id not in self.of_conn.get(conn, ()):
            raise NotInRoom("You are not in this room; send join first")
        return hosted

    async def _act(self, conn: Conn, room_id: str, action: Any) -> None:
        hosted = self._hosted(conn, room_id)
        await self._carry(hosted, action(hosted))

    async def on_join(self, conn: Conn, frame: p.Join) -> None:
        if self.draining:  # its rooms are being handed over: the join belongs on the node that claims it
            raise Unavailable("This server is restarting; connect again in a moment", reason="node.draining")
        actor = conn.auth.actor
        grant = await self.checkins.authorise_join(actor, frame.room, conn.auth.session.checkin_id)
        effects: list[Effect] = []
        hosted = self.rooms.get(frame.room)
        if hosted is None or hosted.room.state.value != "open":
            # One claim per room at a time on this node: two joins arriving together share one room.
            making = self._making.setdefault(frame.room, asyncio.Lock())
            async with making:
                hosted, effects = await self._make_room(frame.room, grant)
        effects += hosted.room.join(conn, user_id=actor.user_id, display_name=actor.display_name,
                                   role=actor.role.value, host=grant.host, now=self.clock.monotonic(),
                                   ice_servers=grant.ice_servers, ref=frame.id)
        self.of_conn.setdefault(conn, set()).add(frame.room)
        await self._carry(hosted, effects)

    async def _make_room(self, room_id: str, grant: JoinGrant) -> tuple[Hosted, list[Effect]]:
        """The open room this node holds, or a new one once this node has claimed it (restoring
        everybody's place when it takes the room over from another node)."""
        hosted = self.rooms.get(room_id)
        if hosted is not None and hosted.room.state.value == "open":
            return hosted, []
        claim = await self.homes.claim(room_id)
        if not claim.won:
            raise Moved(claim.home)
        room = Room(room_id, max_participants=self.max_participants, grace_s=self.grace_s,
                    force_relay=self.checkins.safe_space.force_relay_for_staff)
        hosted = self.rooms[room_id] = Hosted(room, grant.case_id, grant.officer_id, grant.closes_at, claim.epoch)
        if not claim.snapshot:
            return hosted, []
        log.info("room taken over", extra={"room": room_id, "from": claim.taken_over_from})
        return hosted, room.restore(json.loads(claim.snapshot), self.clock.monotonic(), "node_takeover")

    async def on_stats(self, conn: Conn, frame: p.Stats) -> None:
        hosted = self._hosted(conn, frame.room)
        who = hosted.room.stats_due(conn, self.clock.monotonic())
        if who is None:
            return  # a sample too soon after the last: not kept
        await self.checkins.record_stats(frame.room, hosted.case_id, {
            "user_id": who.user_id, "participant": who.id, "role": who.role, "rtt_ms": frame.rtt_ms,
            "loss_pct": frame.loss_pct, "bitrate_kbps": frame.bitrate_kbps, "jitter_ms": frame.jitter_ms,
            "frames_decoded": frame.frames_decoded, "audio_only": frame.audio_only})
        for hook in self.stats_hooks:
            await hook(conn, frame)

    async def on_cant_talk(self, conn: Conn, frame: p.CantTalk) -> None:
        hosted = self._hosted(conn, frame.room)
        if conn.auth.actor.role.value != "client":  # staff simply leave
            await self._carry(hosted, hosted.room.leave(conn, self.clock.monotonic()))
            return
        # Recorded like the REST button: evidence, lifecycle, the officer's alert; on_unsafe takes
        # the client out of the room.
        await self.checkins.answer_safe_space(conn.auth.actor, frame.room, {}, cant_talk=True,
                                              limited_to=conn.auth.session.checkin_id)

    async def on_unsafe(self, checkin_id: str, user_id: str) -> None:
        hosted = self.rooms.get(checkin_id)
        if hosted is None:
            return
        for part in [q for q in hosted.room.participants.values() if q.user_id == user_id]:
            if part.state in (PState.WAITING, PState.ADMITTED):
                await self._carry(hosted, hosted.room.cant_talk(part.conn, self.clock.monotonic()))

    async def on_staff_unsafe(self, checkin_id: str, user_id: str) -> None:
        """The officer answered their own safe-space check "no": nobody will let the people in the
        waiting room in, so they are told so (``ended``, reason ``officer_unavailable``) instead of
        waiting on. A call another host already runs goes on."""
        hosted = self.rooms.get(checkin_id)
        if hosted is None or hosted.room.state.value != "open" or any(q.host for q in hosted.room.admitted()):
            return
        await self._carry(hosted, hosted.room.end(None, "officer_unavailable"))

    async def on_close(self, conn: Conn) -> None:
        for room_id in self.of_conn.pop(conn, set()):
            hosted = self.rooms.get(room_id)
            if hosted is not None:
                # aiohttp cancels a closed connection's handler, and with it this hook: the drop is
                # recorded and told to the others all the same.
                task = asyncio.get_running_loop().create_task(
                    self._carry(hosted, hosted.room.drop(conn, self.clock.monotonic())))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
                await asyncio.shield(task)

    # -- carrying out effects --------------------------------------------------------------

    def _carry(self, hosted: Hosted, effects: list[Effect]) -> Coroutine[Any, Any, None]:
        """Carry out a room's effects, after those of every earlier step of the same room: the turn
        is taken now, when the room changed, so the evidence, the alerts and the frames keep the
        order of the steps however long each one's writes take."""
        before, mine = hosted.tail, asyncio.get_running_loop().create_future()
        hosted.tail = mine
        # Who waits, as of this step (the room may have moved on by the time its turn comes).
        room = hosted.room
        # A client whose connection dropped from the waiting room keeps their place, and the alert.
        waiting = room.state.value == "open" and any(
            q.role == "client" and PState.WAITING in (q.state, q.resume if q.state is PState.DROPPED else None)
            for q in room.participants.values())
        return self._carry_in_turn(hosted, effects, before, mine, (self._lobby(hosted), waiting))

    async def _carry_in_turn(self, hosted: Hosted, effects: list[Effect], before: asyncio.Future[None] | None,
                             mine: asyncio.Future[None], lobby_then: tuple[p.Lobby, bool]) -> None:
        try:
            if before is not None and not before.done():
                await asyncio.shield(before)
            await self._carry_now(hosted, effects, lobby_then)
        finally:
            if not mine.done():
                mine.set_result(None)

    async def _carry_now(self, hosted: Hosted, effects: list[Effect], lobby_then: tuple[p.Lobby, bool]) -> None:
        room = hosted.room
        notes: list[dict[str, Any]] = []
        events: list[CheckinEvent] = []
        lobby = False
        for effect in effects:
            if isinstance(effect, Note):
                if effect.kind != "cant_talk":  # the check-in service records that one itself
                    notes.append({"kind": effect.kind, "user_id": effect.user_id, "participant": effect.participant,
                                  "role": effect.role, "detail": effect.detail})
                events += self._lifecycle(room, effect)
            elif isinstance(effect, LobbyChanged):
                lobby = True
        if room.state.value != "open":
            lobby = True  # the room ended: nobody waits any more
        ours = self.rooms.get(room.id) is hosted
        forget = False
        if room.empty:
            # Everybody left: the meeting is over. Everybody's connection was lost: it is not, and
            # people may join again within the window (a new room; the host admits again).
            if not any(n["kind"] == "gone" for n in notes):
                events.append(CheckinEvent.END)
            events.append(CheckinEvent.LOBBY_EMPTY)
            if ours:
                self.rooms.pop(room.id, None)
                forget = True
        # A change of who is in the room is stored before anybody is told, with who is in it now
        # (for a node that takes the room over: an admit is never acknowledged and then forgotten).
        # SDP and candidates change nobody and go out at once: the database never sits between two
        # peers negotiating.
        seats = json.dumps(room.seats()) if ours and not room.empty and any(isinstance(e, Note) for e in effects) \
            else None
        if seats:
            await self.homes.keep(room.id, hosted.epoch, seats)
        if notes or events:
            await self.checkins.record_call(room.id, hosted.case_id, notes, events)
        if forget:
            await self.homes.forget(room.id, hosted.epoch)
        for effect in effects:
            if isinstance(effect, Deliver):
                conn: Conn = effect.conn  # type: ignore[assignment]
                if conn.send(effect.frame):
                    self.relayed += 1
        if lobby:  # after the lifecycle step, so a page that reloads on the alert sees the new state
            await self.checkins.publish(hosted.officer_id, lobby_then[0])
            await self._waiting_alert(hosted, effects, lobby_then[1])

    async def _waiting_alert(self, hosted: Hosted, effects: list[Effect], waiting: bool) -> None:
        """Keep the officer's stored "a client is waiting" alert true to the room."""
        if self.alerts is None:
            return
        room = hosted.room
        if waiting:
            await self.alerts.client_waiting(officer_id=hosted.officer_id, checkin_id=room.id,
                                             case_id=hosted.case_id)
            return
        admitted = any(isinstance(e, Note) and e.kind == "admitted" and e.role == "client" for e in effects)
        await self.alerts.waiting_over(room.id, Resolution.ADMITTED if admitted else Resolution.LEFT)

    @staticmethod
    def _lifecycle(room: Room, note: Note) -> list[CheckinEvent]:
        if note.role != "client":
            return [CheckinEvent.END] if note.kind == "ended" else []
        if note.kind in ("joined", "rejoined"):
            return [CheckinEvent.CLIENT_WAITING]
        if note.kind == "admitted":
            return [CheckinEvent.ADMIT]
        if note.kind in ("left", "gone") and not any(q.role == "client" for q in room.present()):
            return [CheckinEvent.LOBBY_EMPTY]
        if note.kind == "ended":
            return [CheckinEvent.END]
        return []

    def _lobby(self, hosted: Hosted) -> p.Lobby:
        mono, now = self.clock.monotonic(), self.clock.now()
        return p.Lobby(checkin_id=hosted.room.id, case_id=hosted.case_id, waiting=tuple(
            p.Waiting(participant=q.id, user_id=q.user_id, display_name=q.display_name, role=q.role,
                      since=now - timedelta(seconds=mono - q.since)) for q in hosted.room.waiting()))

    # -- the tick: grace periods and windows ---------------------------------------------

    async def tick(self) -> None:
        mono, now = self.clock.monotonic(), self.clock.now()
        for hosted in list(self.rooms.values()):
            effects = hosted.room.tick(mono)
            # A call running over keeps going; a lobby nobody will answer any more is closed.
            if now > hosted.closes_at and hosted.room.state.value == "open" and not hosted.room.admitted():
                effects += hosted.room.end(None, "window_closed")
            if effects:
                await self._carry(hosted, effects)
            if (hosted.room.state.value != "open" or hosted.room.empty) and self.rooms.get(hosted.room.id) is hosted:
                self.rooms.pop(hosted.room.id, None)
                await self.homes.forget(hosted.room.id, hosted.epoch)
        if not self.draining and self.homes.renewal_due():
            await self.renew()

    async def renew(self) -> None:
        """Renew this node's leases; a room whose lease another node took is no longer ours:
        its participants are told to reconnect (to the new home) and it leaves this memory."""
        rooms = {rid: h.epoch for rid, h in self.rooms.items()}
        for other in self.also:
            rooms.update(other.homed())
        try:
            lost = await self.homes.renew(rooms)
        except Exception as err:  # the database is down: the rooms go on, counted as failed renewals
            log.warning("room lease renewal failed", extra={"error": type(err).__name__})
            return
        for other in self.also:
            await other.lost(lost)
        for rid in lost:
            hosted = self.rooms.pop(rid, None)
            if hosted is not None:
                log.warning("room lease lost", extra={"room": rid})
                self._send_reconnect(hosted, "takeover")

    def _send_reconnect(self, hosted: Hosted, reason: str) -> None:
        for q in hosted.room.present():
            if q.state in (PState.WAITING, PState.ADMITTED):
                conn: Conn = q.conn  # type: ignore[assignment]
                conn.send(p.Reconnect(room=hosted.room.id, reason=reason))  # type: ignore[arg-type]
                self.of_conn.get(conn, set()).discard(hosted.room.id)

    async def drain(self) -> None:
        """Take no new rooms and hand every room of this node to whichever node claims it next:
        the seats are kept with the released lease, and everybody is told to reconnect."""
        self.draining = True
        for other in self.also:
            other.draining = True
        self.drain_state.set(1)
        self.drain_left.set(len(self.rooms) + sum(len(o.homed()) for o in self.also))
        for rid, hosted in list(self.rooms.items()):
            try:
                if hosted.room.state.value == "open" and not hosted.room.empty:
                    await self.homes.release(rid, hosted.epoch, json.dumps(hosted.room.seats()))
                else:
                    await self.homes.forget(rid, hosted.epoch)
            except Exception as err:  # the lease will lapse by itself and the room be taken over
                log.warning("room not released", extra={"room": rid, "error": type(err).__name__})
            self.rooms.pop(rid, None)
            self._send_reconnect(hosted, "drain")
            self.drain_left.dec()
        for other in self.also:
            await other.drain(self.drain_left.dec)

    async def run(self, stop: asyncio.Event) -> None:
        """The tick until ``stop``: a tick is never cut short (its writes finish before the store closes)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)
            if stop.is_set():
                return
            try:
                await self.tick()
            except Exception:
                log.exception("signalling tick failed")

    async def settle(self, timeout_s: float = 5.0) -> None:
        """Let the effects of dropped connections still being carried out finish (at shutdown)."""
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=timeout_s)


SIGNALLING = web.AppKey("signalling", Signalling)


async def background(app: web.Application) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(app[SIGNALLING].run(stop), name="signalling-tick")
    yield
    stop.set()
    await task
    await app[SIGNALLING].settle()
