"""Live group sessions over the /ws gateway: the thin shell around the pure session
(server/groups/session_machine.py) and the node's forwarding SFU (server/media/sfu.py).

A ``group.join`` is authorised by the session's host (``groups/live_host.py``): for a group
programme session ``GroupSessionService.join_context`` (another office's session, or one the
actor has no part in, is answered ``not_found``; the session's own refusals carry their rule);
for a case-network meeting by video (``netmeet-<id>``) ``networks/live.py`` (rule
``network_meeting_video``). The shell feeds frames, dropped connections and a once-a-second
tick to the session and carries out what it returns: frames to this node's connections,
``Media`` and ``Routes`` to the SFU (the server, not the browser, stops a muted person's
audio), ``Disconnect`` as the SFU removing the peer, and ``Note`` as attendance evidence.
Frames go out before evidence is written, so the database never sits between a control and
its effect on the media.

A person's offer comes with their join; someone sent to the lobby has it kept until they
are admitted, then the SFU answers it. A session's media lives on its home node: the node
that claimed the session's lease in ``room_homes`` on its first join (server/web/group_homes.py;
``group_sessions.home_node`` mirrors it for the records). Participants connected to other
nodes reach it through server/web/room_router.py (docs/cluster.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import web

from server.checkins.outcomes import Sample
from server.clock import Clock
from server.errors import BadRequest, NotFound, NotInRoom, TandemError
from server.groups import protocol as p
from server.groups.attendance import AttendanceService
from server.groups.join_policy import Present
from server.groups.live_host import GroupHost, LiveHost
from server.groups.register import evidence_of
from server.groups.session_machine import Session
from server.groups.session_values import RUNS, Disconnect, Effect, Media, Note, Person, Place, Role, Routes, Tell
from server.groups.sessions import GroupSessionService
from server.media.sfu import ParticipantLeft, Sfu, SfuEvent, SlotsChanged, SpeakerChanged
from server.messaging.model import FIRST_NAME, group_name
from server.signalling.homes import RoomHomes
from server.web.frames import Error
from server.web.gateway import Connection, Gateway
from server.web.group_homes import GroupHoming

log = logging.getLogger("tandem.groups.live")
TICK_S = 1.0
QUALITY_EVERY_S = 15.0  # connection-quality evidence kept per participant at most this often


@dataclass
class Hosted:
    """One live session on this node: the pure session, who is connected where, pending offers."""

    session: Session
    conns: dict[str, Connection] = field(default_factory=dict)  # participant id -> connection
    offers: dict[str, str] = field(default_factory=dict)  # participant id -> offer kept in the lobby
    naming: str = FIRST_NAME  # how participants see one another (the cohort's member_names)
    voice_only: set[str] = field(default_factory=set)  # participant ids the SFU sends no video to
    sampled: dict[str, float] = field(default_factory=dict)  # participant id -> when quality was last kept
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    epoch: int = 0  # of this node's lease on the session (server/signalling/homes.py)
    snap: str | None = None  # the session as last dumped, and as last stored (group_homes.GroupHoming.keep)
    kept: str | None = None
    keeper: asyncio.Task[None] | None = None

    @property
    def over(self) -> bool:
        return all(q.place not in (Place.WAITING, Place.PRESENT, Place.DROPPED) for q in self.session.people.values())


def places(session: Session) -> Present:
    """The places held before a join, for the policy's word on it: participants in the lobby, in
    the session or dropped and about to rejoin; those who run the session present now."""
    held = (Place.WAITING, Place.PRESENT, Place.DROPPED)
    return Present(
        participants=sum(q.role is Role.PARTICIPANT and q.place in held for q in session.people.values()),
        staff=sum(q.role in RUNS and q.place is Place.PRESENT for q in session.people.values()))


class GroupLive:
    def __init__(self, gateway: Gateway, sessions: GroupSessionService, attendance: AttendanceService, sfu: Sfu,
                 clock: Clock, homes: RoomHomes, *, seats: int = 16, grace_s: float = 30.0) -> None:
        self.gateway = gateway
        self.sessions = sessions
        self.attendance = attendance
        self.sfu = sfu
        self.clock = clock
        self.seats = seats  # people in the SFU: participants and those who run the session (size, last-N: policy)
        self.grace_s = grace_s
        self.live: dict[str, Hosted] = {}
        # Who owns a live session id: other features (a case-network meeting) host theirs on the same
        # machine, room and SFU; a group programme session is the default.
        self.hosts: list[LiveHost] = []
        self.default_host: LiveHost = GroupHost(sessions, attendance)
        self.of_conn: dict[Connection, dict[str, str]] = {}  # connection -> {session id: participant id}
        self.homing = GroupHoming(self, homes)
        sfu.on_event = self.on_sfu_event

    def host(self, session_id: str) -> LiveHost:
        return next((h for h in self.hosts if h.owns(session_id)), self.default_host)

    def register(self) -> None:
        g = self.gateway
        g.on(p.GroupJoin, self.on_join)
        g.on(p.GroupLeave, self.on_leave)
        g.on(p.GroupAdmit, self._control(lambda s, me, f: s.admit(me, f.participant)))
        g.on(p.GroupDeny, self._control(lambda s, me, f: s.deny(me, f.participant)))
        g.on(p.GroupMute, self._control(self._mute))
        g.on(p.GroupAllowUnmute, self._control(lambda s, me, f: s.allow_unmute(me, f.participant)))
        g.on(p.GroupRemove, self._control(lambda s, me, f: s.remove(me, f.participant)))
        g.on(p.GroupLock, self._control(lambda s, me, f: s.lock(me) if f.locked else s.unlock(me)))
        g.on(p.GroupUnmute, self._control(
            lambda s, me, f: s.set_media(me, audio=True, video=s.person(me).video)))
        g.on(p.GroupMedia, self.on_media)
        g.on(p.GroupStats, self.on_stats)
        g.on(p.GroupHand, self._control(lambda s, me, f: s.raise_hand(me) if f.raised else s.lower_hand(me)))
        g.on(p.GroupCameraStop, self._control(lambda s, me, f: s.stop_camera(me, f.participant)))
        g.on(p.GroupSpotlight, self._control(lambda s, me, f: s.set_spotlight(me, f.participant)))
        g.on(p.GroupHandLower, self._control(lambda s, me, f: s.lower_hand(f.participant, by=me)))
        g.on(p.GroupHandsClear, self._control(lambda s, me, f: s.clear_hands(me)))
        g.on(p.GroupBreakouts, self._control(self._breakouts))
        g.on(p.GroupMove, self._control(lambda s, me, f: s.move(me, f.participant, f.room)))
        g.on(p.GroupReturnAll, self._control(lambda s, me, f: s.return_all(me)))
        g.on(p.GroupVisit, self._control(lambda s, me, f: s.visit(me, f.room)))
        g.on(p.GroupEnd, self.on_end)
        g.close_hooks.append(self.on_close)

    # -- frames -------------------------------------------------------------------------

    def _mine(self, conn: Connection, session_id: str) -> tuple[Hosted, str]:
        """The session and the sender's participant id in it; ``not_in_room`` for any session the
        connection did not join (whoever's it is), so other sessions are untouched."""
        hosted = self.live.get(session_id)
        me = self.of_conn.get(conn, {}).get(session_id)
        if hosted is None or me is None:
            raise NotInRoom("You are not in this session; send group.join first")
        return hosted, me

    def _control(self, act: Callable[[Session, str, Any], list[Effect]]
                 ) -> Callable[[Connection, Any], Awaitable[None]]:
        async def handle(conn: Connection, frame: Any) -> None:
            hosted, me = self._mine(conn, frame.session)
            async with hosted.lock:  # the machine's checks (not_facilitator, ...) raise before any effect
                effects = act(hosted.session, me, frame)
            await self._carry(hosted, effects)
        return handle

    @staticmethod
    def _mute(session: Session, me: str, frame: p.GroupMute) -> list[Effect]:
        if frame.all == (frame.participant is not None):
            raise BadRequest("Name one participant, or send all: true")
        return session.mute_all(me) if frame.all else session.mute(me, str(frame.participant))

    @staticmethod
    def _breakouts(session: Session, me: str, frame: p.GroupBreakouts) -> list[Effect]:
        assignment = {room.name: room.participants for room in frame.rooms}
        if len(assignment) != len(frame.rooms):
            raise BadRequest("Each breakout room needs a name of its own")
        return session.open_breakouts(me, assignment, frame.minutes * 60)

    async def on_media(self, conn: Connection, frame: p.GroupMedia) -> None:
        """One's own camera and microphone (the session decides: a facilitator's mute stands), and
        voice only: the SFU forwards no video to this person until they ask for it again."""
        hosted, me = self._mine(conn, frame.session)
        if frame.audio is None and frame.video is None and frame.voice_only is None:
            raise BadRequest("Say what to switch: audio, video or voice_only")
        async with hosted.lock:
            person = hosted.session.person(me)
            effects: list[Effect] = []
            if frame.audio is not None or frame.video is not None:
                effects = hosted.session.set_media(
                    me, audio=person.audio if frame.audio is None else frame.audio,
                    video=person.video if frame.video is None else frame.video)
            if frame.voice_only is not None:
                (hosted.voice_only.add if frame.voice_only else hosted.voice_only.discard)(me)
        await self._carry(hosted, effects)  # its selection of video follows (_select)

    async def on_stats(self, conn: Connection, frame: p.GroupStats) -> None:
        """A present participant's connection quality, kept as register evidence at most every
        ``QUALITY_EVERY_S`` (a dropped participant with a poor link is a technical failure)."""
        hosted, me = self._mine(conn, frame.session)
        person = hosted.session.person(me)
        now = self.clock.monotonic()
        if person.place is not Place.PRESENT or now - hosted.sampled.get(me, -QUALITY_EVERY_S) < QUALITY_EVERY_S:
            return
        hosted.sampled[me] = now
        sample = Sample(rtt_ms=frame.rtt_ms, loss_pct=frame.loss_pct, bitrate_kbps=frame.bitrate_kbps)
        try:
            await self.host(hosted.session.id).record(hosted.session.id, person.user_id, "quality", sample=sample)
        except Exception:  # the session goes on; the register misses one sample
            log.exception("connection quality not recorded")

    async def on_end(self, conn: Connection, frame: p.GroupEnd) -> None:
        """A facilitator ends the session: everyone is told, their media ends, the session closes."""
        hosted, me = self._mine(conn, frame.session)
        async with hosted.lock:
            effects = hosted.session.end(me)
        await self._carry(hosted, effects)
        for pid in list(hosted.conns):
            self._forget(hosted, pid)
            await self._sfu_remove(hosted, pid)
        await self._close_if_over(hosted)

    async def on_join(self, conn: Connection, frame: p.GroupJoin) -> None:
        actor = conn.auth.actor
        hosted = self.live.get(frame.session)
        present = Present() if hosted is None else places(hosted.session)
        host = self.host(frame.session)
        role, facts, auto_admit = await host.join_context(actor, frame.session, present)
        hosted = self.live.get(frame.session)
        if hosted is None:
            # Everything that awaits comes before the session is hosted: a hosted session nobody has
            # joined yet is "over", and the tick would close it (and its media) under a join still
            # on its way, leaving that person alone in a session nobody else could reach.
            claim = await self.homing.claim(frame.session)  # Moved: another node is its home
            naming = await host.member_naming(frame.session)
            seats = min(self.seats, await host.seats(frame.session) or self.seats)  # the SFU's reservation
            await host.record_home_node(frame.session, self.sfu.node_id)
            hosted = self.live.get(frame.session)  # another first join may have come meanwhile
        taken: list[Effect] = []  # a session taken over from another node: everyone's interruption
        if hosted is None:
            limits = host.live_limits()  # the policy in force when the session starts
            restored = self.homing.restored(claim, frame.session)
            last_n = limits.last_n if restored is None else restored.session.last_n
            self.sfu.create_session(frame.session, seats=seats, last_n=last_n)  # sfu_capacity if full
            if restored is None:
                hosted = Hosted(Session(
                    frame.session, self.clock, max_participants=min(limits.max_participants, seats - 1),
                    last_n=limits.last_n, auto_admit=auto_admit, grace_s=self.grace_s), naming=naming,
                    epoch=claim.epoch)
            else:
                hosted = Hosted(restored.session, naming=restored.naming, voice_only=set(restored.voice_only),
                                epoch=claim.epoch)
                taken = restored.effects
            self.live[frame.session] = hosted
        async with hosted.lock:  # free on a new session: taken at once, the join goes in before any tick
            try:
                effects = hosted.session.join(user_id=actor.user_id, display_name=actor.display_name, role=role,
                                              facts=facts)
            except Exception:
                if taken:  # the takeover happened all the same: its evidence is kept
                    await self._carry(hosted, taken)
                await self._close_if_over(hosted)
                raise
            me = next(e.to for e in effects if isinstance(e, Tell))
            old = hosted.conns.get(me)
            if old is not None and old is not conn:
                self.of_conn.get(old, {}).pop(frame.session, None)
            hosted.conns[me] = conn
            hosted.offers[me] = frame.sdp
            self.of_conn.setdefault(conn, {})[frame.session] = me
        await self._carry(hosted, taken + effects, ref=frame.id)

    async def on_leave(self, conn: Connection, frame: p.GroupLeave) -> None:
        hosted, me = self._mine(conn, frame.session)
        async with hosted.lock:
            effects = hosted.session.leave(me)
        await self._carry(hosted, effects)
        self._forget(hosted, me)
        await self._sfu_remove(hosted, me)
        await self._close_if_over(hosted)

    async def on_close(self, conn: Connection) -> None:
        for session_id, me in self.of_conn.pop(conn, {}).items():
            hosted = self.live.get(session_id)
            if hosted is None or hosted.conns.get(me) is not conn:
                continue
            hosted.conns.pop(me, None)
            hosted.offers.pop(me, None)
            async with hosted.lock:
                effects = hosted.session.drop(me)
            await self._carry(hosted, effects)
            await self._sfu_remove(hosted, me)

    # -- carrying out effects --------------------------------------------------------------

    async def _carry(self, hosted: Hosted, effects: list[Effect], *, ref: str | None = None) -> None:
        session = hosted.session
        self.homing.keep(hosted)  # the session as it is after this step, for a node that takes it over
        notes: list[Note] = []
        for effect in effects:
            if isinstance(effect, Tell):
                self._tell(hosted, effect, ref)
            elif isinstance(effect, Media):
                await self._media(hosted, effect)
            elif isinstance(effect, Routes):
                for room, ids in effect.groups:
                    for pid in ids:
                        with contextlib.suppress(NotFound):  # not (yet) in the media
                            self.sfu.set_room(session.id, pid, room)
            elif isinstance(effect, Disconnect):
                self._forget(hosted, effect.participant)
                await self._sfu_remove(hosted, effect.participant)
            elif isinstance(effect, Note):
                notes.append(effect)
        self._select(hosted)
        if notes:
            async with hosted.lock:  # one session's evidence in the order it happened
                for note in notes:
                    for kind, detail in evidence_of(note.kind, note.place):
                        try:
                            await self.host(session.id).record(session.id, note.user_id, kind, detail=detail)
                        except Exception:  # the session goes on; the register misses one mark
                            log.exception("attendance evidence %s not recorded", kind)

    def _tell(self, hosted: Hosted, tell: Tell, ref: str | None) -> None:
        conn = hosted.conns.get(tell.to)
        if conn is None:
            return
        frame, sid = tell.frame, hosted.session.id
        kind = str(frame["type"])
        if kind == "joined":
            conn.send(p.GroupJoined(session=sid, participant=tell.to, state=str(frame["state"]),  # type: ignore[arg-type]
                                    role=str(frame["role"]), ref=ref))
        elif kind == "session":
            conn.send(self._state(hosted, lobby="lobby" in frame, viewer=hosted.session.people[tell.to].role))
        else:
            by = frame.get("by")
            conn.send(p.GroupNotice(session=sid, kind=kind, by=None if by is None else str(by)))

    def _state(self, hosted: Hosted, *, lobby: bool, viewer: Role) -> p.GroupState:
        """The session as ``viewer`` sees it: a participant (or the room's shared screen) sees the
        other participants by the group's name for them, never their full name (issue 13);
        staff see full names."""
        s = hosted.session
        grouped = viewer in (Role.PARTICIPANT, Role.ROOM_DEVICE)

        def seat(q: Person) -> p.Seat:
            values = q.seat()
            if grouped and q.role is Role.PARTICIPANT:
                values["display_name"] = group_name(q.display_name, hosted.naming)
            return p.Seat(muted=q.hard_muted, **values)  # type: ignore[arg-type]

        return p.GroupState(session=s.id, state=s.state.value, rooms=s.rooms.value,
                            participants=tuple(seat(q) for q in s.present()), hands=tuple(s.hands),
                            spotlight=s.spotlight, breakouts=tuple(s.breakouts.names) if s.breakouts else (),
                            breakouts_end_at=None if s.breakouts is None else self.clock.now() + timedelta(
                                seconds=max(0.0, s.breakouts.deadline - self.clock.monotonic())),
                            lobby=tuple(seat(q) for q in s.waiting()) if lobby else None)

    def _select(self, hosted: Hosted) -> None:
        """The spotlight in everyone's large view: each person in the spotlit person's room gets an
        explicit selection (the spotlit first, then their last-N); without a spotlight, or in another
        room, the SFU's own last-N by speaker history; someone on voice only, an empty selection."""
        session, media_session = hosted.session, self.sfu.sessions.get(hosted.session.id)
        if media_session is None:
            return
        lit = session.people.get(session.spotlight) if session.spotlight else None
        for q in session.present():
            if q.id not in media_session.participants:
                continue
            if q.id in hosted.voice_only:
                chosen: list[str] | None = []
            elif lit is not None and lit.id != q.id and lit.room == q.room:
                large, others = session.view(q.id)
                chosen = [x for x in (large, *others) if x is not None]
            else:
                chosen = None
            current = media_session.participants[q.id].selection
            if (None if current is None else list(current)) != chosen:
                self.sfu.select_video(session.id, q.id, chosen)

    async def _media(self, hosted: Hosted, media: Media) -> None:
        sid, pid = hosted.session.id, media.participant
        media_session = self.sfu.sessions.get(sid)
        if media_session is not None and pid in media_session.participants:
            self.sfu.set_muted(sid, pid, not media.audio)
            self.sfu.set_camera(sid, pid, media.video)
            return
        offer = hosted.offers.pop(pid, None)
        conn = hosted.conns.get(pid)
        if offer is None or conn is None:
            return
        # Present now (straight in, admitted or back after a drop): the SFU answers the kept offer,
        # with what they may send already applied.
        try:
            answer = await self.sfu.join(sid, pid, offer, room=hosted.session.people[pid].room)
        except TandemError as err:  # e.g. an offer without VP8: in the session, without media
            conn.send(Error(code=err.code, message=err.message, rule_id=err.rule_id))
            return
        self.sfu.set_muted(sid, pid, not media.audio)
        self.sfu.set_camera(sid, pid, media.video)
        conn.send(p.GroupAnswer(session=sid, participant=pid, sdp=answer))
        conn.send(p.GroupSlots(session=sid, slots=self.sfu.slot_map(sid, pid)))

    async def _sfu_remove(self, hosted: Hosted, pid: str) -> None:
        with contextlib.suppress(NotFound):
            await self.sfu.remove(hosted.session.id, pid)

    def _forget(self, hosted: Hosted, pid: str) -> None:
        conn = hosted.conns.pop(pid, None)
        hosted.offers.pop(pid, None)
        hosted.voice_only.discard(pid)
        if conn is not None:
            self.of_conn.get(conn, {}).pop(hosted.session.id, None)

    async def _close_if_over(self, hosted: Hosted) -> None:
        if hosted.over and self.live.get(hosted.session.id) is hosted:
            del self.live[hosted.session.id]
            await self.sfu.close_session(hosted.session.id)
            await self.homing.forget(hosted)

    # -- what the SFU tells us -------------------------------------------------------------

    def on_sfu_event(self, event: SfuEvent) -> None:
        hosted = self.live.get(event.session_id)
        if hosted is None:
            return
        if isinstance(event, SlotsChanged):
            conn = hosted.conns.get(event.participant_id)
            if conn is not None:
                conn.send(p.GroupSlots(session=event.session_id, slots=dict(event.slots)))
        elif isinstance(event, SpeakerChanged) and event.history:
            hosted.session.speaking(event.history[0])
        elif isinstance(event, ParticipantLeft):
            log.debug("SFU: %s left %s (%s)", event.participant_id, event.session_id, event.reason)

    # -- the tick: grace periods, breakout timers ------------------------------------------

    async def tick(self) -> None:
        for hosted in list(self.live.values()):
            async with hosted.lock:
                effects = hosted.session.tick()
            if effects:
                await self._carry(hosted, effects)
            await self._close_if_over(hosted)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.tick()
            except Exception:
                log.exception("group session tick failed")


GROUP_LIVE = web.AppKey("group_live", GroupLive)


async def background(app: web.Application) -> AsyncIterator[None]:
    live = app[GROUP_LIVE]
    task = asyncio.create_task(live.run(), name="group-session-tick")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await live.sfu.close()
