"""Signalling over the /ws gateway: the thin shell around the pure rooms (server/signalling/lobby.py).

It authorises a ``join`` through the check-in service (window, face_to_face_first,
safe space, force relay), feeds frames, dropped connections and a once-a-second tick
to the room, and carries out what the room returns: frames to connections of this
process, the "who is waiting" notice to the case's officer over the bus, evidence and
lifecycle steps to the store. Frames are delivered before the evidence is written, so
the database never sits between two peers negotiating.

Rooms live in the process that hosts them (one node per room; see docs/operations.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from server.alerts.model import Resolution
from server.alerts.service import AlertService
from server.checkins.lifecycle import CheckinEvent
from server.checkins.service import CheckinService
from server.clock import Clock
from server.errors import NotInRoom
from server.signalling import protocol as p
from server.signalling.lobby import Deliver, Effect, LobbyChanged, Note, PState, Room
from server.web.gateway import Connection, Gateway

log = logging.getLogger("tandem.signalling")
TICK_S = 1.0


@dataclass
class Hosted:
    room: Room
    case_id: str
    officer_id: str
    closes_at: datetime
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Signalling:
    def __init__(self, gateway: Gateway, checkins: CheckinService, clock: Clock, *, grace_s: float,
                 max_participants: int, alerts: AlertService | None = None) -> None:
        self.gateway = gateway
        self.alerts = alerts  # "a client is waiting", stored until they are let in or leave (issue 13)
        self.checkins = checkins
        self.clock = clock
        self.grace_s = grace_s
        self.max_participants = max_participants
        self.rooms: dict[str, Hosted] = {}
        self.of_conn: dict[Connection, set[str]] = {}
        self.relayed = 0  # frames delivered, for bench/checkins.py
        # After a kept stats sample, e.g. call-quality advice (server/web/ws_media.py).
        self.stats_hooks: list[Callable[[Connection, p.Stats], Awaitable[None]]] = []

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

    def _hosted(self, conn: Connection, room_id: str) -> Hosted:
        hosted = self.rooms.get(room_id)
        if hosted is None or room_id not in self.of_conn.get(conn, ()):
            raise NotInRoom("You are not in this room; send join first")
        return hosted

    async def _act(self, conn: Connection, room_id: str, action: Any) -> None:
        hosted = self._hosted(conn, room_id)
        await self._carry(hosted, action(hosted))

    async def on_join(self, conn: Connection, frame: p.Join) -> None:
        actor = conn.auth.actor
        grant = await self.checkins.authorise_join(actor, frame.room, conn.auth.session.checkin_id)
        hosted = self.rooms.get(frame.room)
        if hosted is None or hosted.room.state.value != "open":
            room = Room(frame.room, max_participants=self.max_participants, grace_s=self.grace_s,
                        force_relay=self.checkins.safe_space.force_relay_for_staff)
            hosted = self.rooms[frame.room] = Hosted(room, grant.case_id, grant.officer_id, grant.closes_at)
        effects = hosted.room.join(conn, user_id=actor.user_id, display_name=actor.display_name,
                                   role=actor.role.value, host=grant.host, now=self.clock.monotonic(),
                                   ice_servers=grant.ice_servers, ref=frame.id)
        self.of_conn.setdefault(conn, set()).add(frame.room)
        await self._carry(hosted, effects)

    async def on_stats(self, conn: Connection, frame: p.Stats) -> None:
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

    async def on_cant_talk(self, conn: Connection, frame: p.CantTalk) -> None:
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

    async def on_close(self, conn: Connection) -> None:
        for room_id in self.of_conn.pop(conn, set()):
            hosted = self.rooms.get(room_id)
            if hosted is not None:
                await self._carry(hosted, hosted.room.drop(conn, self.clock.monotonic()))

    # -- carrying out effects --------------------------------------------------------------

    async def _carry(self, hosted: Hosted, effects: list[Effect]) -> None:
        room = hosted.room
        notes: list[dict[str, Any]] = []
        events: list[CheckinEvent] = []
        lobby = False
        for effect in effects:
            if isinstance(effect, Deliver):
                conn = effect.conn
                assert isinstance(conn, Connection)
                if conn.send(effect.frame):
                    self.relayed += 1
            elif isinstance(effect, Note):
                if effect.kind != "cant_talk":  # the check-in service records that one itself
                    notes.append({"kind": effect.kind, "user_id": effect.user_id, "participant": effect.participant,
                                  "role": effect.role, "detail": effect.detail})
                events += self._lifecycle(room, effect)
            elif isinstance(effect, LobbyChanged):
                lobby = True
        if room.state.value != "open":
            lobby = True  # the room ended: nobody waits any more
        if room.empty:
            # Everybody left: the meeting is over. Everybody's connection was lost: it is not, and
            # people may join again within the window (a new room; the host admits again).
            if not any(n["kind"] == "gone" for n in notes):
                events.append(CheckinEvent.END)
            events.append(CheckinEvent.LOBBY_EMPTY)
            self.rooms.pop(room.id, None)
        if lobby:
            await self.checkins.publish(hosted.officer_id, self._lobby(hosted))
        if notes or events:
            async with hosted.lock:  # one room's evidence in the order it happened
                await self.checkins.record_call(room.id, hosted.case_id, notes, events)
        if lobby:  # after the lifecycle step, so a page that reloads on the alert sees the new state
            await self._waiting_alert(hosted, effects)

    async def _waiting_alert(self, hosted: Hosted, effects: list[Effect]) -> None:
        """Keep the officer's stored "a client is waiting" alert true to the room."""
        if self.alerts is None:
            return
        room = hosted.room
        if room.state.value == "open" and any(q.role == "client" for q in room.waiting()):
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
            if hosted.room.state.value != "open" or hosted.room.empty:
                self.rooms.pop(hosted.room.id, None)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.tick()
            except Exception:
                log.exception("signalling tick failed")


SIGNALLING = web.AppKey("signalling", Signalling)


async def background(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[SIGNALLING].run(), name="signalling-tick")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
