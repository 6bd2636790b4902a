"""A live group session as a snapshot, and back (pure): what a node that takes a session over
needs to carry on after its home node died or drained (docs/cluster.md, "Group sessions:
what a snapshot holds").

The home node stores ``dump`` after each change (``room_homes.snapshot``); the node that
takes the session over calls ``restore``. A snapshot holds the session's settings and state,
its rooms and breakouts (the time *left* on the timer, since monotonic clocks differ between
nodes), everyone in order with their place, media and room, raised hands, the spotlight and
the participant-id counter, plus how the shell names people (``naming``) and who asked for
voice only. Nothing anyone said, no SDP, no speaker history.

Restoring treats the takeover as everyone's connection dropping at once: whoever held a place
(waiting, present, dropped) is dropped with a fresh grace period and comes back through the
session's ordinary ``join`` into the place they had (nobody admitted waits in the lobby again).
Each gets an ``interrupted`` note: a technical interruption in the attendance evidence, never
a departure of their own. Denied, left and removed people keep their place, so a removed
person is still refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from server.clock import Clock
from server.groups.session_machine import Rooms, Session, SessionState
from server.groups.session_values import MAIN, Breakouts, Effect, Note, Person, Place, Role

VERSION = 1
#: Places someone holds: a takeover drops them and keeps the place for them to come back to.
HELD = (Place.WAITING, Place.PRESENT, Place.DROPPED)


class _Settings(msgspec.Struct, forbid_unknown_fields=True):
    max_participants: int
    last_n: int
    auto_admit: bool
    grace_s: float
    max_breakouts: int
    max_breakout_s: float


class _Breakouts(msgspec.Struct, forbid_unknown_fields=True):
    names: list[str]
    left_s: float  # seconds left on the timer when the snapshot was taken


class _Person(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    user_id: str
    display_name: str
    role: Role
    place: Place
    audio: bool
    video: bool
    hard_muted: bool
    room: str
    resume: Place | None


class _Snapshot(msgspec.Struct, forbid_unknown_fields=True):
    v: int
    settings: _Settings
    state: SessionState
    rooms: Rooms
    breakouts: _Breakouts | None
    people: list[_Person]
    hands: list[str]
    spotlight: str | None
    seq: int
    naming: str
    voice_only: list[str]


@dataclass(frozen=True)
class Restored:
    session: Session
    naming: str
    voice_only: frozenset[str]
    effects: list[Effect]


def dump(session: Session, *, naming: str, voice_only: Iterable[str]) -> str:
    """The session as compact JSON with a fixed key order (the same session, the same text)."""
    s = session
    breakouts = None
    if s.breakouts is not None:
        breakouts = _Breakouts(list(s.breakouts.names), max(0.0, s.breakouts.deadline - s.clock.monotonic()))
    snap = _Snapshot(
        v=VERSION,
        settings=_Settings(s.max_participants, s.last_n, s.auto_admit, s.grace_s, s.max_breakouts, s.max_breakout_s),
        state=s.state, rooms=s.rooms, breakouts=breakouts,
        people=[_Person(p.id, p.user_id, p.display_name, p.role, p.place, p.audio, p.video, p.hard_muted, p.room,
                        p.resume) for p in s.people.values()],
        hands=list(s.hands), spotlight=s.spotlight, seq=s._seq, naming=naming, voice_only=sorted(set(voice_only)))
    return msgspec.json.encode(snap).decode()


def _check(snap: _Snapshot) -> None:
    """What the types alone do not say; a snapshot that breaks it is refused whole."""
    ids = [p.id for p in snap.people]
    if len(set(ids)) != len(ids):
        raise ValueError("group snapshot: a participant id appears twice")
    names = set(snap.breakouts.names) if snap.breakouts is not None else set()
    if (snap.rooms is Rooms.BREAKOUTS) != (snap.breakouts is not None):
        raise ValueError("group snapshot: breakouts do not match the rooms' state")
    if snap.breakouts is not None and (snap.breakouts.left_s < 0 or MAIN in names or not names):
        raise ValueError("group snapshot: malformed breakouts")
    held = {p.id for p in snap.people if p.place in (Place.PRESENT, Place.DROPPED)}
    for p in snap.people:
        if p.room != MAIN and p.room not in names:
            raise ValueError(f"group snapshot: {p.id} is in an unknown room")
        if p.resume not in (None, Place.WAITING, Place.PRESENT) or (p.place is Place.DROPPED and p.resume is None):
            raise ValueError(f"group snapshot: {p.id} has a resume place that does not fit")
        if p.id.startswith("p") and p.id[1:].isdigit() and int(p.id[1:]) > snap.seq:
            raise ValueError("group snapshot: the participant counter is behind its participants")
    if len(set(snap.hands)) != len(snap.hands) or not set(snap.hands) <= held:
        raise ValueError("group snapshot: a raised hand belongs to nobody in the session")
    if snap.spotlight is not None and snap.spotlight not in held:
        raise ValueError("group snapshot: the spotlight is on nobody in the session")


def restore(data: str, session_id: str, clock: Clock, *, reason: str = "node_takeover") -> Restored:
    """The session a snapshot describes, as taken over now: everyone who held a place is dropped
    (``grace_s`` from now to come back), with one ``interrupted`` note each. ``ValueError`` for a
    snapshot that is malformed or of another version (the caller then starts the session afresh).
    ``reason`` says why the session changed nodes; the notes are the same for a death and a drain."""
    try:
        version = msgspec.json.decode(data, type=dict[str, object]).get("v")
    except msgspec.DecodeError as e:
        raise ValueError(f"group snapshot: not a JSON object ({e})") from None
    if version != VERSION:
        raise ValueError(f"group snapshot: version {version!r}, this server reads version {VERSION}")
    try:
        snap = msgspec.json.decode(data, type=_Snapshot)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise ValueError(f"group snapshot: {e}") from None
    _check(snap)
    c = snap.settings
    try:
        session = Session(session_id, clock, max_participants=c.max_participants, last_n=c.last_n,
                          auto_admit=c.auto_admit, grace_s=c.grace_s, max_breakouts=c.max_breakouts,
                          max_breakout_s=c.max_breakout_s)
    except ValueError as e:
        raise ValueError(f"group snapshot: {e}") from None
    now = clock.monotonic()
    session.state, session.rooms, session._seq = snap.state, snap.rooms, snap.seq
    if snap.breakouts is not None:
        session.breakouts = Breakouts(tuple(snap.breakouts.names), now + snap.breakouts.left_s)
    effects: list[Effect] = []
    for q in snap.people:
        p = Person(id=q.id, user_id=q.user_id, display_name=q.display_name, role=q.role, place=q.place,
                   audio=q.audio, video=q.video, hard_muted=q.hard_muted, room=q.room, resume=q.resume)
        if p.place in HELD:
            p.resume = p.resume if p.place is Place.DROPPED else p.place
            p.place, p.dropped_at = Place.DROPPED, now
            effects.append(Note("interrupted", p.id, p.user_id, p.role.value, now, p.place.value, reason))
        session.people[p.id] = p
    session.hands, session.spotlight = list(snap.hands), snap.spotlight
    return Restored(session, snap.naming, frozenset(snap.voice_only), effects)
