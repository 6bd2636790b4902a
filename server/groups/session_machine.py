"""A live group programme session and its breakout rooms (pure), as transition tables.

A person's place in the session (``PLACE``)::

    (new)/left/denied --join_lobby--> waiting --admit--> present
    (new)/left        --join_direct-> present              (staff, the room device, auto-admitted participants)
    waiting --deny--> denied
    waiting/present --leave--> left
    waiting/present --drop---> dropped --rejoin--> (the state it was in)
                               dropped --expire--> left        (the grace period ran out)
    waiting/present/dropped --remove--> removed                (never joins this session again)
    waiting/present/dropped --end-----> left                   (the session ended)

the session's (``SESSION``)::

    open --lock--> locked --unlock--> open
    open/locked --end--> ended

and its rooms (``ROOMS``)::

    main --open_breakouts--> breakouts --return_all--> main   (also when the timer runs out)

Rules:

- Roles: facilitator and co-facilitator run the session (they alone send control frames,
  ``not_facilitator`` otherwise); an observer is a programme mentor, shown to everyone as
  one, who controls nothing; participants are the cohort's enrolled clients; the room
  device is one place that represents an office or prison room.
- A join is refused with the rule that refuses it (``JoinRefused``): removed from this
  session, the session is locked (staff and the room device still join), not enrolled,
  confidentiality agreement not accepted, the cohort's size (``max_participants``,
  rule ``group_rules``, default 15) reached.
- Participants wait in the lobby unless the cohort admits enrolled participants
  automatically (``auto_admit``). Staff and the room device enter directly.
- Mute is enforced where media flows: a ``Media`` effect tells the SFU what to forward.
  A participant muted by a facilitator may unmute only once the facilitator allows it;
  nobody is ever unmuted by someone else. A stopped camera may be started again.
- Raised hands are a queue in order; the owner lowers their own, a facilitator lowers
  anyone's or clears them all.
- Breakouts are named and pre-assigned; media never crosses between rooms (``Routes``);
  facilitators may visit any room; a room's timer runs from the injected clock and,
  at its deadline, everyone returns to the main room.
- Last-N: each person sees the spotlit speaker (or else the active speaker) large and at
  most ``last_n`` others of their own room, the most recent speakers first.

The session does no I/O and reads time only from the injected ``Clock``; callers carry
out the effects it returns. Limits are constructor arguments and fail with named errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from server.clock import Clock
from server.errors import BadRequest, IllegalTransition, NotFacilitator, NotFound, NotInRoom, UnmuteNotAllowed
from server.groups.session_values import (
    MAIN,
    RUNS,
    Breakouts,
    Disconnect,
    Effect,
    JoinFacts,
    LobbyChanged,
    Media,
    Note,
    Person,
    Place,
    Role,
    Routes,
    Tell,
    check_breakouts,
    check_join,
    rank_view,
)


class SessionState(StrEnum):
    OPEN = "open"
    LOCKED = "locked"
    ENDED = "ended"


class Rooms(StrEnum):
    MAIN = "main"
    BREAKOUTS = "breakouts"


PLACE: dict[tuple[Place | None, str], Place] = {
    (None, "join_lobby"): Place.WAITING,
    (None, "join_direct"): Place.PRESENT,
    (Place.LEFT, "join_lobby"): Place.WAITING,
    (Place.LEFT, "join_direct"): Place.PRESENT,
    (Place.DENIED, "join_lobby"): Place.WAITING,
    (Place.WAITING, "admit"): Place.PRESENT,
    (Place.WAITING, "deny"): Place.DENIED,
    (Place.WAITING, "leave"): Place.LEFT,
    (Place.PRESENT, "leave"): Place.LEFT,
    (Place.WAITING, "drop"): Place.DROPPED,
    (Place.PRESENT, "drop"): Place.DROPPED,
    (Place.DROPPED, "rejoin_waiting"): Place.WAITING,
    (Place.DROPPED, "rejoin_present"): Place.PRESENT,
    (Place.DROPPED, "expire"): Place.LEFT,
    (Place.WAITING, "remove"): Place.REMOVED,
    (Place.PRESENT, "remove"): Place.REMOVED,
    (Place.DROPPED, "remove"): Place.REMOVED,
    (Place.WAITING, "end"): Place.LEFT,
    (Place.PRESENT, "end"): Place.LEFT,
    (Place.DROPPED, "end"): Place.LEFT,
}
SESSION: dict[tuple[SessionState, str], SessionState] = {
    (SessionState.OPEN, "lock"): SessionState.LOCKED,
    (SessionState.LOCKED, "unlock"): SessionState.OPEN,
    (SessionState.OPEN, "end"): SessionState.ENDED,
    (SessionState.LOCKED, "end"): SessionState.ENDED,
}
ROOMS: dict[tuple[Rooms, str], Rooms] = {
    (Rooms.MAIN, "open_breakouts"): Rooms.BREAKOUTS,
    (Rooms.BREAKOUTS, "return_all"): Rooms.MAIN,
}


def place_step(state: Place | None, event: str) -> Place:
    try:
        return PLACE[(state, event)]
    except KeyError:
        raise IllegalTransition(f"Someone who is {state.value if state else 'new'} cannot {event}") from None


def session_step(state: SessionState, event: str) -> SessionState:
    try:
        return SESSION[(state, event)]
    except KeyError:
        raise IllegalTransition(f"A session that is {state.value} cannot {event}") from None


def rooms_step(state: Rooms, event: str) -> Rooms:
    try:
        return ROOMS[(state, event)]
    except KeyError:
        raise IllegalTransition(f"Breakouts cannot {event} while the session is in {state.value}") from None


class Session:
    def __init__(self, session_id: str, clock: Clock, *, max_participants: int = 15, last_n: int = 6,
                 auto_admit: bool = False, grace_s: float = 30.0, max_breakouts: int = 8,
                 max_breakout_s: float = 4 * 3600) -> None:
        if max_participants < 1 or last_n < 0 or grace_s < 0 or max_breakouts < 1 or max_breakout_s <= 0:
            raise ValueError("a session needs room for one participant and non-negative limits")
        self.id = session_id
        self.clock = clock
        self.max_participants = max_participants
        self.last_n = last_n
        self.auto_admit = auto_admit
        self.grace_s = grace_s
        self.max_breakouts = max_breakouts
        self.max_breakout_s = max_breakout_s
        self.state = SessionState.OPEN
        self.rooms = Rooms.MAIN
        self.people: dict[str, Person] = {}
        self.hands: list[str] = []
        self.spotlight: str | None = None
        self.breakouts: Breakouts | None = None
        self.spoke: dict[str, float] = {}  # participant -> when they last spoke
        self._seq = 0

    # -- queries --------------------------------------------------------------------

    def present(self) -> list[Person]:
        return [p for p in self.people.values() if p.place is Place.PRESENT]

    def waiting(self) -> list[Person]:
        return [p for p in self.people.values() if p.place is Place.WAITING]

    def person(self, participant: str) -> Person:
        p = self.people.get(participant)
        if p is None or p.place not in (Place.WAITING, Place.PRESENT):
            raise NotInRoom("You are not in this session; join first")
        return p

    def _in_session(self, participant: str) -> Person:
        p = self.person(participant)
        if p.place is not Place.PRESENT:
            raise NotInRoom("You are in the lobby; wait to be admitted")
        return p

    def _runner(self, participant: str) -> Person:
        p = self._in_session(participant)
        if p.role not in RUNS:
            raise NotFacilitator("Only the session's facilitators may do this")
        return p

    def _target(self, participant: str) -> Person:
        p = self.people.get(participant)
        if p is None or p.place is not Place.PRESENT:
            raise NotFound("Nobody with that participant id is in the session")
        return p

    def _open(self) -> None:
        if self.state is SessionState.ENDED:
            raise IllegalTransition("This session has ended")

    def _counted(self) -> int:
        """Participants holding a place (the room device and staff do not count)."""
        return sum(p.role is Role.PARTICIPANT and p.place in (Place.WAITING, Place.PRESENT, Place.DROPPED)
                   for p in self.people.values())

    # -- effects helpers ----------------------------------------------------------------

    def _note(self, kind: str, p: Person) -> Note:
        return Note(kind, p.id, p.user_id, p.role.value, self.clock.monotonic(), p.place.value)

    def _snapshot(self) -> list[Effect]:
        seats = [p.seat() for p in self.people.values() if p.place in (Place.WAITING, Place.PRESENT)]
        frame: dict[str, object] = {
            "type": "session", "session": self.id, "state": self.state.value, "rooms": self.rooms.value,
            "participants": [s for s in seats if s["state"] == Place.PRESENT.value],
            "hands": list(self.hands), "spotlight": self.spotlight,
            "breakouts": list(self.breakouts.names) if self.breakouts else []}
        out: list[Effect] = []
        for p in self.present():
            mine = dict(frame)
            if p.role in RUNS:
                mine["lobby"] = [s for s in seats if s["state"] == Place.WAITING.value]
            out.append(Tell(p.id, mine))
        return out

    def routes(self) -> Routes:
        groups: dict[str, list[str]] = {}
        for p in self.present():
            groups.setdefault(p.room, []).append(p.id)
        return Routes(tuple((room, tuple(ids)) for room, ids in sorted(groups.items())))

    def _changed(self) -> list[Effect]:
        return [self.routes(), *self._snapshot()]

    def _gone(self, p: Person) -> None:
        if p.id in self.hands:
            self.hands.remove(p.id)
        if self.spotlight == p.id:
            self.spotlight = None

    # -- joining --------------------------------------------------------------------

    def join(self, *, user_id: str, display_name: str, role: Role, facts: JoinFacts | None = None) -> list[Effect]:
        """Someone joins (or rejoins after a drop). The first ``Tell`` names their participant id."""
        self._open()
        facts = facts or JoinFacts()
        mine = [p for p in self.people.values() if p.user_id == user_id]
        p = mine[-1] if mine else None
        if p is not None and p.place in (Place.WAITING, Place.PRESENT):
            raise IllegalTransition("You are already in this session")
        if p is not None and p.place is Place.DROPPED:
            p.place = place_step(p.place, "rejoin_present" if p.resume is Place.PRESENT else "rejoin_waiting")
            p.dropped_at = None
            kind = "rejoined"
        else:
            removed = any(q.user_id == user_id and q.place is Place.REMOVED for q in self.people.values())
            check_join(role, facts, removed=removed, locked=self.state is SessionState.LOCKED,
                       counted=self._counted(), max_participants=self.max_participants)
            direct = role is not Role.PARTICIPANT or (self.auto_admit and facts.enrolled and facts.facilitator_there)
            event = "join_direct" if direct else "join_lobby"
            if p is None:
                self._seq += 1
                p = Person(id=f"p{self._seq}", user_id=user_id, display_name=display_name, role=role,
                           place=place_step(None, event))
                self.people[p.id] = p
            else:
                p.place, p.room, p.hard_muted, p.audio, p.video = place_step(p.place, event), MAIN, False, True, True
            kind = "joined"
        out: list[Effect] = [Tell(p.id, {"type": "joined", "session": self.id, "participant": p.id,
                                         "state": p.place.value, "role": p.role.value}), self._note(kind, p)]
        if p.place is Place.WAITING:
            return [*out, LobbyChanged(), *self._snapshot()]
        return [*out, Media(p.id, p.audio and not p.hard_muted, p.video), *self._changed()]

    def admit(self, by: str, participant: str) -> list[Effect]:
        self._open()
        self._runner(by)
        p = self.people.get(participant)
        if p is None or p.place is not Place.WAITING:
            raise NotFound("Nobody with that participant id is waiting")
        p.place = place_step(p.place, "admit")
        return [self._note("admitted", p), LobbyChanged(), Tell(p.id, {"type": "admitted", "session": self.id}),
                Media(p.id, p.audio, p.video), *self._changed()]

    def deny(self, by: str, participant: str) -> list[Effect]:
        self._open()
        self._runner(by)
        p = self.people.get(participant)
        if p is None or p.place is not Place.WAITING:
            raise NotFound("Nobody with that participant id is waiting")
        p.place = place_step(p.place, "deny")
        return [self._note("denied", p), LobbyChanged(), Tell(p.id, {"type": "denied", "session": self.id}),
                Disconnect(p.id, "denied"), *self._snapshot()]

    def _depart(self, p: Person, event: str, kind: str) -> list[Effect]:
        was = p.place
        p.place = place_step(p.place, event)
        if p.place is Place.DROPPED:
            p.resume, p.dropped_at = was, self.clock.monotonic()
        self._gone(p)
        out: list[Effect] = [self._note(kind, p)]
        if was is Place.WAITING:
            out.append(LobbyChanged())
        return out + self._changed()

    def leave(self, participant: str) -> list[Effect]:
        p = self.person(participant)
        return [Tell(p.id, {"type": "left", "session": self.id}), *self._depart(p, "leave", "left")]

    def drop(self, participant: str) -> list[Effect]:
        """The connection went away without a leave; a no-op when it held no place here."""
        p = self.people.get(participant)
        if p is None or p.place not in (Place.WAITING, Place.PRESENT):
            return []
        return self._depart(p, "drop", "dropped")

    def remove(self, by: str, participant: str) -> list[Effect]:
        self._open()
        self._runner(by)
        p = self.people.get(participant)
        if p is None or p.place not in (Place.WAITING, Place.PRESENT, Place.DROPPED) or p.id == by:
            raise NotFound("Nobody with that participant id is in the session")
        if p.role in RUNS:
            raise NotFacilitator("A facilitator cannot be removed from the session")
        return [Tell(p.id, {"type": "removed", "session": self.id}), Disconnect(p.id, "removed"),
                *self._depart(p, "remove", "removed")]

    def tick(self) -> list[Effect]:
        """Release places whose grace period ran out; return everyone when the breakout timer ends."""
        now, out = self.clock.monotonic(), []
        for p in list(self.people.values()):
            if p.place is Place.DROPPED and p.dropped_at is not None and now - p.dropped_at >= self.grace_s:
                out += self._depart(p, "expire", "gone")
        if self.breakouts is not None and now >= self.breakouts.deadline:
            out += self._return_all()
        return out

    def end(self, by: str | None) -> list[Effect]:
        """A facilitator ends the session for everyone (``by`` None: the server, e.g. its window closed)."""
        self._open()
        if by is not None:
            self._runner(by)
        self.state = session_step(self.state, "end")
        out: list[Effect] = []
        for p in self.people.values():
            if p.place in (Place.WAITING, Place.PRESENT, Place.DROPPED):
                if p.place is not Place.DROPPED:
                    out.append(Tell(p.id, {"type": "ended", "session": self.id}))
                p.place = place_step(p.place, "end")
                out.append(self._note("ended", p))
        self.hands.clear()
        self.spotlight, self.breakouts, self.rooms = None, None, Rooms.MAIN
        return out

    # -- session controls -------------------------------------------------------------

    def lock(self, by: str) -> list[Effect]:
        self._runner(by)
        self.state = session_step(self.state, "lock")
        return self._snapshot()

    def unlock(self, by: str) -> list[Effect]:
        self._runner(by)
        self.state = session_step(self.state, "unlock")
        return self._snapshot()

    def mute(self, by: str, participant: str) -> list[Effect]:
        self._runner(by)
        p = self._target(participant)
        p.audio, p.hard_muted = False, p.role not in RUNS
        return [Media(p.id, False, p.video), Tell(p.id, {"type": "muted", "session": self.id, "by": by}),
                *self._snapshot()]

    def mute_all(self, by: str) -> list[Effect]:
        self._runner(by)
        out: list[Effect] = []
        for p in self.present():
            if p.role not in RUNS:
                p.audio, p.hard_muted = False, True
                out += [Media(p.id, False, p.video), Tell(p.id, {"type": "muted", "session": self.id, "by": by})]
        return out + self._snapshot()

    def allow_unmute(self, by: str, participant: str | None = None) -> list[Effect]:
        """Let one (or, with None, everyone) unmute themselves again; nobody is unmuted by another."""
        self._runner(by)
        targets = [self._target(participant)] if participant is not None else self.present()
        out: list[Effect] = []
        for p in targets:
            if p.hard_muted:
                p.hard_muted = False
                out.append(Tell(p.id, {"type": "unmute_allowed", "session": self.id}))
        return out

    def stop_camera(self, by: str, participant: str) -> list[Effect]:
        self._runner(by)
        p = self._target(participant)
        p.video = False
        return [Media(p.id, p.audio, False), Tell(p.id, {"type": "camera_stopped", "session": self.id}),
                *self._snapshot()]

    def set_media(self, participant: str, *, audio: bool, video: bool) -> list[Effect]:
        """A person switches their own microphone and camera."""
        p = self._in_session(participant)
        if audio and not p.audio and p.hard_muted:
            raise UnmuteNotAllowed("The facilitator muted you; you may unmute when they allow it")
        p.audio, p.video = audio, video
        return [Media(p.id, audio, video), *self._snapshot()]

    def set_spotlight(self, by: str, participant: str | None) -> list[Effect]:
        self._runner(by)
        self.spotlight = None if participant is None else self._target(participant).id
        return self._snapshot()

    # -- hands --------------------------------------------------------------------------

    def raise_hand(self, participant: str) -> list[Effect]:
        p = self._in_session(participant)
        if p.id not in self.hands:
            self.hands.append(p.id)
        return self._snapshot()

    def lower_hand(self, participant: str, by: str | None = None) -> list[Effect]:
        """Lower one's own hand (``by`` None) or, as a facilitator, someone else's."""
        if by is None:
            p = self._in_session(participant)
        else:
            self._runner(by)
            p = self._target(participant)
        if p.id in self.hands:
            self.hands.remove(p.id)
        return self._snapshot()

    def clear_hands(self, by: str) -> list[Effect]:
        self._runner(by)
        self.hands.clear()
        return self._snapshot()

    # -- breakouts --------------------------------------------------------------------

    def open_breakouts(self, by: str, assignment: Mapping[str, tuple[str, ...]], duration_s: float) -> list[Effect]:
        """Named rooms with their participants (pre-assigned); the unassigned stay in the main room."""
        self._open()
        self._runner(by)
        names = check_breakouts(assignment, duration_s, max_rooms=self.max_breakouts, max_s=self.max_breakout_s)
        seen: set[str] = set()
        for ids in assignment.values():
            for pid in ids:
                if self._target(pid).role in RUNS or pid in seen:
                    raise BadRequest("Each participant goes to one breakout room; facilitators visit instead")
                seen.add(pid)
        self.rooms = rooms_step(self.rooms, "open_breakouts")
        self.breakouts = Breakouts(names, self.clock.monotonic() + duration_s)
        for name, ids in assignment.items():
            for pid in ids:
                self.people[pid].room = name
        return self._changed()

    def _breakout(self, name: str) -> str:
        if self.breakouts is None or (name != MAIN and name not in self.breakouts.names):
            raise NotFound("No such breakout room")
        return name

    def move(self, by: str, participant: str, room: str) -> list[Effect]:
        self._runner(by)
        p = self._target(participant)
        p.room = self._breakout(room)
        return self._changed()

    def visit(self, by: str, room: str) -> list[Effect]:
        """A facilitator goes into a breakout room (or back to the main room)."""
        p = self._runner(by)
        p.room = self._breakout(room)
        return self._changed()

    def return_all(self, by: str) -> list[Effect]:
        self._runner(by)
        return self._return_all()

    def _return_all(self) -> list[Effect]:
        self.rooms = rooms_step(self.rooms, "return_all")
        self.breakouts = None
        for p in self.people.values():
            p.room = MAIN
        return self._changed()

    # -- last-N ---------------------------------------------------------------------------

    def speaking(self, participant: str) -> None:
        """The SFU heard this person (RFC 6464 audio level above the threshold)."""
        p = self.people.get(participant)
        if p is not None and p.place is Place.PRESENT and p.audio:
            self.spoke[p.id] = self.clock.monotonic()

    def view(self, viewer: str) -> tuple[str | None, tuple[str, ...]]:
        """What ``viewer`` sees: the large view and at most ``last_n`` others, all in its own room."""
        me = self._in_session(viewer)
        others = [p.id for p in self.present() if p.room == me.room and p.id != me.id]
        return rank_view(others, self.spoke, self.spotlight, self.last_n)
