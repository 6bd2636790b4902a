"""The group SFU: forwards each participant's VP8 and Opus to the others, never transcoding.

Design note. A group session's media lives on one node (its home node, ``Sfu.node_id``, which
the session records so signalling through any node can reach it). Each participant has one
peer connection to the SFU, negotiated once from the participant's offer:

- at most one audio and one video m-line the participant *sends* on: its published tracks
  (a ``Source`` each, fed by an ``Inlet``);
- m-lines the participant *receives* on are its **slots** (an ``Outlet`` each): the SFU
  decides which publisher feeds each slot and tells the signalling layer (``SlotsChanged``,
  keyed by m-line id), so nothing is renegotiated when people join, speak or move rooms.
  A ``sendrecv`` m-line is both. Audio slots beyond ``seats - 1`` and video slots beyond
  ``last_n`` are answered ``inactive``.

Who feeds which slot: audio slots carry everyone else in the participant's room (the
``seats - 1`` reserved audio slots hold the whole room); video slots carry an explicit
selection (``select_video``: spotlight, the facilitator's choice) or, by default, last-N:
the room's speaker history (``server.media.speaker``) first, then the others in the order
they joined. Media never crosses rooms: a slot is only ever fed by a publisher in its
owner's current room, and ``set_room`` re-assigns every slot it touches at once.

A video slot given a new publisher forwards nothing until a key frame, and the publisher is
asked for one (PLI), as it is when a subscriber reports picture loss; requests to one
publisher are spaced by ``keyframe_interval_s`` (``forwarding.KeyframeLimiter``; one
deferred request covers the asks in between). ``set_muted`` stops forwarding a participant's
audio in the SFU itself (the server enforces it, not the muted person's browser);
``set_camera`` does the same for video.

Capacity. A node forwards at most ``capacity`` streams (one publisher's track to one slot).
``create_session`` reserves a session's worst case, ``seats * ((seats - 1) + min(last_n,
seats - 1))``, and refuses with ``SfuCapacity`` when the reservations would exceed the
capacity: a session is refused at the start rather than the running ones degraded. Joins
beyond ``seats`` are refused with ``RoomFull``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from server.errors import BadRequest, LimitExceeded, NotFound, RoomFull, SfuCapacity, Unavailable
from server.media.aiortc_adapter import Inlet, MediaPeer, MLine, NegotiationError, Outlet, RtpView, check_versions
from server.media.forwarding import FrameAssembler, KeyframeLimiter, SlotClock
from server.media.ice import IceServer
from server.media.sfu_events import ParticipantLeft, SfuEvent, SlotsChanged, SpeakerChanged
from server.media.speaker import SpeakerDetector

log = logging.getLogger("tandem.media.sfu")

__all__ = ["MAIN_ROOM", "ParticipantLeft", "Sfu", "SfuEvent", "SlotsChanged", "SpeakerChanged", "reservation"]

MAIN_ROOM = "main"
STEP = {"audio": 960, "video": 3000}  # one frame in RTP ticks: 20 ms of Opus at 48 kHz, 1/30 s at 90 kHz


# -- the model --------------------------------------------------------------------------------------

@dataclass(eq=False)
class Source:
    """One published track of one participant."""

    participant: Participant
    kind: str
    limiter: KeyframeLimiter
    inlet: Inlet | None = None
    assembler: FrameAssembler | None = None
    slots: set[Slot] = field(default_factory=set)


@dataclass(eq=False)
class Slot:
    owner: Participant
    kind: str
    clock: SlotClock
    outlet: Outlet = field(init=False)
    source: Source | None = None
    waiting_key: bool = False
    first_frame_at: float | None = None  # loop time this slot first forwarded a frame


@dataclass(eq=False)
class Participant:
    id: str
    session: MediaSession
    room: str
    peer: MediaPeer
    joined_at: float
    sources: dict[str, Source] = field(default_factory=dict)
    slots: dict[str, list[Slot]] = field(default_factory=lambda: {"audio": [], "video": []})
    muted: bool = False
    camera_off: bool = False
    selection: tuple[str, ...] | None = None  # explicit video selection; None: last-N
    connected: bool = False
    order: int = 0

    def slot_map(self) -> dict[str, str | None]:
        return {s.outlet.mid: (s.source.participant.id if s.source else None)
                for kind in ("audio", "video") for s in self.slots[kind]}


@dataclass(eq=False)
class MediaSession:
    id: str
    seats: int
    last_n: int
    reserved: int  # forwarded streams reserved on this node
    participants: dict[str, Participant] = field(default_factory=dict)
    speakers: dict[str, SpeakerDetector] = field(default_factory=dict)
    joins: int = 0
    closed: bool = False

    def in_room(self, room: str) -> list[Participant]:
        return sorted((p for p in self.participants.values() if p.room == room), key=lambda p: p.order)


#: The m-lines any offer may carry, whatever the session's size: the web client offers one
#: geometry for every live session (15 audio and 6 video m-lines, client_web/group/core.js), and a
#: small session (a case-network meeting) answers the lines beyond its seats ``inactive``.
OFFER_LINES_FLOOR = 16 + 6 + 2


def reservation(seats: int, last_n: int) -> int:
    """Streams a session of ``seats`` people with ``last_n`` videos each may forward at most."""
    return seats * ((seats - 1) + min(last_n, seats - 1))


class Sfu:
    """One media node's forwarding unit. All methods run on the event loop."""

    def __init__(self, *, capacity: int, node_id: str = "local", ice_servers: Sequence[IceServer] = (),
                 keyframe_interval_s: float = 0.5, max_offer_bytes: int = 32 * 1024,
                 max_candidates_per_line: int = 32,
                 on_event: Callable[[SfuEvent], None] | None = None,
                 speaker_factory: Callable[[], SpeakerDetector] = SpeakerDetector) -> None:
        if capacity < 1 or keyframe_interval_s <= 0 or max_offer_bytes < 1 or max_candidates_per_line < 1:
            raise ValueError("capacity, max_offer_bytes and max_candidates_per_line must be at least 1, "
                             "keyframe_interval_s positive")
        check_versions()
        self.capacity = capacity
        self.node_id = node_id
        self.ice_servers = tuple(ice_servers)
        self.keyframe_interval_s = keyframe_interval_s
        self.max_offer_bytes = max_offer_bytes
        #: A browser offers a handful of candidates per m-line (host, reflexive, relay per interface);
        #: hundreds are a flood that would make ICE check every pair.
        self.max_candidates_per_line = max_candidates_per_line
        self.on_event = on_event
        self.speaker_factory = speaker_factory
        self.sessions: dict[str, MediaSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- sessions -------------------------------------------------------------------------------

    @property
    def reserved(self) -> int:
        return sum(s.reserved for s in self.sessions.values())

    def create_session(self, session_id: str, *, seats: int, last_n: int = 6) -> MediaSession:
        """Host a session here, reserving its worst case; ``SfuCapacity`` if the node cannot."""
        if seats < 2 or last_n < 0:
            raise ValueError("a session has at least 2 seats and last_n >= 0")
        if session_id in self.sessions:
            raise BadRequest("This session already has its media on this node")
        need = reservation(seats, last_n)
        if self.reserved + need > self.capacity:
            raise SfuCapacity(f"This media node cannot host a session of {seats} now "
                              f"({need} streams needed, {self.capacity - self.reserved} free); try again later")
        session = self.sessions[session_id] = MediaSession(id=session_id, seats=seats, last_n=last_n, reserved=need)
        return session

    async def close_session(self, session_id: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return
        session.closed = True
        await asyncio.gather(*(self._drop(p, "session_closed") for p in list(session.participants.values())))

    async def close(self) -> None:
        await asyncio.gather(*(self.close_session(sid) for sid in list(self.sessions)))
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- participants ---------------------------------------------------------------------------

    async def join(self, session_id: str, participant_id: str, offer_sdp: str, *, room: str = MAIN_ROOM) -> str:
        """Answer a participant's offer; a participant already here is replaced (a reconnect)."""
        session = self._session(session_id)
        if len(offer_sdp) > self.max_offer_bytes:
            raise LimitExceeded(f"The offer is larger than {self.max_offer_bytes} bytes")
        if offer_sdp.count("\nm=") > max(session.seats + session.last_n + 2, OFFER_LINES_FLOOR):
            raise LimitExceeded("The offer has more media lines than this session can use")
        if max(part.count("a=candidate:") for part in offer_sdp.split("\nm=")) > self.max_candidates_per_line:
            raise LimitExceeded(f"The offer has more than {self.max_candidates_per_line} ICE candidates on a "
                                "media line")
        old = session.participants.get(participant_id)
        if old is not None:
            await self._drop(old, "rejoined")
        if len(session.participants) >= session.seats:
            raise RoomFull(f"All {session.seats} places of this session are taken")
        loop = asyncio.get_running_loop()
        peer = MediaPeer(self.ice_servers)
        session.joins += 1
        participant = Participant(id=participant_id, session=session, room=room, peer=peer,
                                  joined_at=loop.time(), order=session.joins)
        session.participants[participant_id] = participant  # the seat is taken while we negotiate
        try:
            lines = await peer.set_offer(offer_sdp)
            self._attach(participant, lines)
            answer = await peer.answer()
        except NegotiationError as err:
            await self._discard(participant)
            raise BadRequest(f"The offer cannot be used for a group session: {err}") from None
        except BaseException:
            await self._discard(participant)
            raise
        if session.closed or session.participants.get(participant_id) is not participant:
            await peer.close()
            raise Unavailable("The session ended while joining")
        peer.on_state(lambda state: self._state_changed(participant, state))
        self._reassign(session, room)
        return answer

    def _attach(self, participant: Participant, lines: Sequence[MLine]) -> None:
        session = participant.session
        limits = {"audio": session.seats - 1, "video": session.last_n}
        for line in lines:
            mid, kind = line.mid, line.kind
            if line.publishes and kind not in participant.sources:
                source = Source(participant=participant, kind=kind,
                                limiter=KeyframeLimiter(self.keyframe_interval_s),
                                assembler=FrameAssembler() if kind == "video" else None)
                handler = self._audio_handler(source) if kind == "audio" else self._video_handler(source)
                source.inlet = participant.peer.inlet(mid, handler)
                participant.sources[kind] = source
            if line.subscribes and len(participant.slots[kind]) < limits[kind]:
                slot = Slot(owner=participant, kind=kind, clock=SlotClock(STEP[kind]))
                slot.outlet = participant.peer.outlet(mid, partial(self._slot_lost_picture, slot))
                participant.slots[kind].append(slot)

    async def remove(self, session_id: str, participant_id: str) -> None:
        """Disconnect a participant (the facilitator removed them, or they left)."""
        participant = self._participant(session_id, participant_id)
        await self._drop(participant, "removed")

    def set_room(self, session_id: str, participant_id: str, room: str) -> None:
        """Move a participant to a room (a breakout, or back to the main room)."""
        participant = self._participant(session_id, participant_id)
        if participant.room == room:
            return
        old = participant.room
        self._speakers(participant.session, old).remove(participant.id)
        participant.room = room
        self._reassign(participant.session, old, room)

    def set_muted(self, session_id: str, participant_id: str, muted: bool) -> None:
        """Stop (or resume) forwarding a participant's audio, whatever their browser does."""
        participant = self._participant(session_id, participant_id)
        participant.muted = muted
        if muted:
            self._speakers(participant.session, participant.room).silence(participant.id)

    def set_camera(self, session_id: str, participant_id: str, on: bool) -> None:
        """Stop (or resume) forwarding a participant's video."""
        participant = self._participant(session_id, participant_id)
        if participant.camera_off and on:
            source = participant.sources.get("video")
            if source is not None:
                for slot in source.slots:
                    slot.waiting_key = True
                self._ask_keyframe(source)
        participant.camera_off = not on

    def select_video(self, session_id: str, participant_id: str, publishers: Sequence[str] | None) -> None:
        """Choose whose video a participant's slots carry, in order (None: last-N by speaker history)."""
        participant = self._participant(session_id, participant_id)
        participant.selection = None if publishers is None else tuple(dict.fromkeys(publishers))
        self._assign(participant, "video")

    def subscribe(self, session_id: str, participant_id: str, publisher_id: str) -> None:
        """Add a publisher's video to a participant's selection (first place)."""
        participant = self._participant(session_id, participant_id)
        current = participant.selection if participant.selection is not None else self._current(participant)
        self.select_video(session_id, participant_id, (publisher_id, *current))

    def unsubscribe(self, session_id: str, participant_id: str, publisher_id: str) -> None:
        participant = self._participant(session_id, participant_id)
        current = participant.selection if participant.selection is not None else self._current(participant)
        self.select_video(session_id, participant_id, tuple(p for p in current if p != publisher_id))

    # -- what the signalling layer may read ---------------------------------------------------------

    def slot_map(self, session_id: str, participant_id: str) -> dict[str, str | None]:
        return self._participant(session_id, participant_id).slot_map()

    def speaker_history(self, session_id: str, room: str = MAIN_ROOM) -> tuple[str, ...]:
        return tuple(self._speakers(self._session(session_id), room).history)

    def forwarded_streams(self) -> int:
        return sum(1 for s in self.sessions.values() for p in s.participants.values()
                   for kind in ("audio", "video") for slot in p.slots[kind] if slot.source is not None)

    # -- forwarding (the hot path) ------------------------------------------------------------------

    def _audio_handler(self, source: Source) -> Callable[[RtpView, int | None], None]:
        participant = source.participant
        loop = asyncio.get_running_loop()

        def on_packet(packet: RtpView, level: int | None) -> None:
            if participant.muted:
                return
            if level is not None:
                detector = self._speakers(participant.session, participant.room)
                if detector.level(participant.id, level, loop.time()):
                    self._speaker_changed(participant.session, participant.room)
            payloads = (packet.payload,)
            for slot in source.slots:
                slot.outlet.push(payloads, slot.clock.map(source, packet.timestamp), level)

        return on_packet

    def _video_handler(self, source: Source) -> Callable[[RtpView, int | None], None]:
        participant = source.participant
        assembler = source.assembler
        assert assembler is not None
        loop = asyncio.get_running_loop()

        def on_packet(packet: RtpView, level: int | None) -> None:
            frames, need_key = assembler.add(packet.sequence_number, packet.timestamp, bool(packet.marker),
                                             packet.payload)
            if need_key:
                self._ask_keyframe(source)
            if participant.camera_off:
                return
            for frame in frames:
                for slot in source.slots:
                    if slot.waiting_key:
                        if not frame.keyframe:
                            continue
                        slot.waiting_key = False
                        if slot.first_frame_at is None:
                            slot.first_frame_at = loop.time()
                    if not slot.outlet.push(frame.payloads, slot.clock.map(source, frame.timestamp), None):
                        slot.waiting_key = True  # the subscriber fell behind: frames were dropped
                        self._ask_keyframe(source)

        return on_packet

    def _ask_keyframe(self, source: Source) -> None:
        if source.inlet is None:
            return
        loop = asyncio.get_running_loop()
        wait = source.limiter.ask(loop.time())
        if wait == 0.0:
            source.inlet.request_keyframe()
        elif not source.limiter.pending:
            source.limiter.pending = True
            loop.call_later(wait, self._deferred_keyframe, source)

    def _deferred_keyframe(self, source: Source) -> None:
        participant = source.participant
        if participant.session.participants.get(participant.id) is not participant:
            return
        source.limiter.pending = False
        self._ask_keyframe(source)

    def _slot_lost_picture(self, slot: Slot) -> None:
        if slot.source is not None and slot.kind == "video":
            self._ask_keyframe(slot.source)

    # -- who feeds which slot -------------------------------------------------------------------

    def _reassign(self, session: MediaSession, *rooms: str) -> None:
        for room in dict.fromkeys(rooms):
            for participant in session.in_room(room):
                self._assign(participant, "audio")
                self._assign(participant, "video")

    def _candidates(self, participant: Participant, kind: str) -> list[Participant]:
        session = participant.session
        others = [p for p in session.in_room(participant.room) if p is not participant and kind in p.sources]
        if kind == "video" and participant.selection is not None:
            by_id = {p.id: p for p in others}
            return [by_id[i] for i in participant.selection if i in by_id]
        history = self._speakers(session, participant.room).history
        rank = {pid: i for i, pid in enumerate(history)}
        return sorted(others, key=lambda p: (rank.get(p.id, len(rank)), p.order))

    def _assign(self, participant: Participant, kind: str) -> None:
        slots = participant.slots[kind]
        if not slots:
            return
        wanted = [p.sources[kind] for p in self._candidates(participant, kind)[:len(slots)]]
        before = participant.slot_map()
        free = []
        for slot in slots:
            if slot.source is not None and slot.source not in wanted:
                slot.source.slots.discard(slot)
                slot.source = None
            if slot.source is None:
                free.append(slot)
        held = {slot.source for slot in slots if slot.source is not None}
        for source in wanted:
            if source in held:
                continue
            slot = free.pop(0)
            slot.source = source
            source.slots.add(slot)
            if kind == "video":
                slot.waiting_key = True
                self._ask_keyframe(source)
        after = participant.slot_map()
        if after != before:
            self._emit(SlotsChanged(participant.session.id, participant.id, after))

    def _current(self, participant: Participant) -> tuple[str, ...]:
        return tuple(s.source.participant.id for s in participant.slots["video"] if s.source is not None)

    def _speakers(self, session: MediaSession, room: str) -> SpeakerDetector:
        detector = session.speakers.get(room)
        if detector is None:
            detector = session.speakers[room] = self.speaker_factory()
        return detector

    def _speaker_changed(self, session: MediaSession, room: str) -> None:
        self._emit(SpeakerChanged(session.id, room, tuple(self._speakers(session, room).history)))
        for participant in session.in_room(room):
            if participant.selection is None:
                self._assign(participant, "video")
            if len(participant.slots["audio"]) < len(session.in_room(room)) - 1:
                self._assign(participant, "audio")

    # -- leaving --------------------------------------------------------------------------------

    def _state_changed(self, participant: Participant, state: str) -> None:
        if state == "connected":
            participant.connected = True
        elif state in ("failed", "closed") and participant.session.participants.get(participant.id) is participant:
            task = asyncio.get_running_loop().create_task(
                self._drop(participant, "connection_failed" if state == "failed" else "closed"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drop(self, participant: Participant, reason: str) -> None:
        session = participant.session
        if session.participants.get(participant.id) is not participant:
            return
        await self._discard(participant)
        self._emit(ParticipantLeft(session.id, participant.id, reason))
        if not session.closed:
            self._reassign(session, participant.room)

    async def _discard(self, participant: Participant) -> None:
        session = participant.session
        if session.participants.get(participant.id) is participant:
            del session.participants[participant.id]
        self._speakers(session, participant.room).remove(participant.id)
        watchers = []
        for source in participant.sources.values():
            for slot in list(source.slots):
                slot.source = None
                watchers.append(slot.owner)
            source.slots.clear()
        for owner in dict.fromkeys(watchers):
            if session.participants.get(owner.id) is owner:
                self._emit(SlotsChanged(session.id, owner.id, owner.slot_map()))
        for kind in ("audio", "video"):
            for slot in participant.slots[kind]:
                if slot.source is not None:
                    slot.source.slots.discard(slot)
                    slot.source = None
                slot.outlet.close()
        await participant.peer.close()

    # -- lookups --------------------------------------------------------------------------------

    def _session(self, session_id: str) -> MediaSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise NotFound("This session has no media on this node")
        return session

    def _participant(self, session_id: str, participant_id: str) -> Participant:
        participant = self._session(session_id).participants.get(participant_id)
        if participant is None:
            raise NotFound("This participant is not in the session's media")
        return participant

    def _emit(self, event: SfuEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:  # a listener's bug must not stop forwarding
            log.exception("SFU event listener failed on %s", type(event).__name__)


