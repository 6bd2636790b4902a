"""Rooms and their lobby (pure): N-party, a waiting room, admit, leave, rejoin after a drop.

A participant's lifecycle, as a table (``PARTICIPANT``)::

    (new) --join(guest)--> waiting --admit--> admitted
    (new) --join(host)---> admitted
    waiting/admitted --leave--> left
    waiting/admitted --drop---> dropped --rejoin--> (the state it was in)
                                dropped --expire--> left      (the grace period ran out)
    waiting/admitted/dropped --end--> left                    (the room ended)

and the room's (``ROOM``)::

    open --end--> ended

Rules:

- Hosts are the staff of the case; they enter admitted and admit the others. A client
  or an interpreter waits in the lobby until a host admits them.
- SDP and candidates travel only between two admitted participants of the same room
  (``not_admitted`` otherwise), so nobody in the lobby learns anything about the call.
- In a mesh somebody must offer: **the newcomer offers** to every peer already admitted
  (``admitted.peers``); the peers receive ``peer_joined`` and wait for its offer. A
  rejoin is a newcomer again.
- A dropped connection keeps its place for ``grace_s``; ``join`` from the same user
  within it is a rejoin. A ``join`` from a second connection of a user who is still
  in the room takes the place over (a phone that switched networks before the server
  noticed the old connection was gone); the old connection gets ``ended: replaced``.
- A room taken over from another node (issue 15, docs/cluster.md) starts from that
  node's ``seats()``: everybody ``dropped``, to come back within ``grace_s`` to the state
  they were in (``restore``), with an ``interrupted`` note each.
- Limits are constructor arguments (STYLE.md 3); each breach raises a named error and
  changes nothing.
- Force relay (safe_space policy, CEP 2024 §4.4 staff working from home): from a
  shielded participant (every non-client) only ``relay`` candidates are forwarded, and
  their SDP is stripped of other candidates and of connection addresses.

The room never does I/O and never reads a clock: callers pass ``now`` (monotonic
seconds) and carry out the effects it returns.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from enum import StrEnum

from server.errors import IllegalTransition, LimitExceeded, NotAdmitted, NotFound, NotHost, NotInRoom, RoomFull
from server.signalling.protocol import (
    Admitted,
    Ended,
    IceServer,
    Joined,
    Left,
    PeerJoined,
    PeerLeft,
    PeerMedia,
    RelayedAnswer,
    RelayedCandidate,
    RelayedOffer,
    RoomSnapshot,
    Seat,
)
from server.web.frames import Outbound

ConnKey = Hashable


class PState(StrEnum):
    WAITING = "waiting"
    ADMITTED = "admitted"
    DROPPED = "dropped"
    LEFT = "left"


class RoomState(StrEnum):
    OPEN = "open"
    ENDED = "ended"


PARTICIPANT: dict[tuple[PState | None, str], PState] = {
    (None, "join_guest"): PState.WAITING,
    (None, "join_host"): PState.ADMITTED,
    (PState.WAITING, "admit"): PState.ADMITTED,
    (PState.WAITING, "leave"): PState.LEFT,
    (PState.ADMITTED, "leave"): PState.LEFT,
    (PState.WAITING, "drop"): PState.DROPPED,
    (PState.ADMITTED, "drop"): PState.DROPPED,
    (PState.DROPPED, "rejoin_waiting"): PState.WAITING,
    (PState.DROPPED, "rejoin_admitted"): PState.ADMITTED,
    (PState.DROPPED, "expire"): PState.LEFT,
    (PState.WAITING, "end"): PState.LEFT,
    (PState.ADMITTED, "end"): PState.LEFT,
    (PState.DROPPED, "end"): PState.LEFT,
}
ROOM: dict[tuple[RoomState, str], RoomState] = {(RoomState.OPEN, "end"): RoomState.ENDED}


def step(state: PState | None, event: str) -> PState:
    try:
        return PARTICIPANT[(state, event)]
    except KeyError:
        raise IllegalTransition(f"A participant who is {state.value if state else 'new'} cannot {event}") from None


def room_step(state: RoomState, event: str) -> RoomState:
    try:
        return ROOM[(state, event)]
    except KeyError:
        raise IllegalTransition(f"A room that is {state.value} cannot {event}") from None


@dataclass(frozen=True)
class Deliver:
    """Send ``frame`` on connection ``conn``."""

    conn: ConnKey
    frame: Outbound


@dataclass(frozen=True)
class Note:
    """Something the evidence keeps: joined, admitted, left, dropped, rejoined, gone, media, ended."""

    kind: str
    participant: str
    user_id: str
    role: str
    detail: str | None = None


@dataclass(frozen=True)
class LobbyChanged:
    """Who is waiting changed: tell the case's officer wherever they are."""


Effect = Deliver | Note | LobbyChanged


@dataclass
class Participant:
    id: str
    user_id: str
    display_name: str
    role: str
    host: bool
    conn: ConnKey
    state: PState
    since: float
    shielded: bool
    resume: PState | None = None  # the state to return to after a drop
    dropped_at: float | None = None
    candidates: dict[str, int] = field(default_factory=dict)  # per peer, this negotiation
    last_stats: float | None = None

    def seat(self) -> Seat:
        return Seat(participant=self.id, user_id=self.user_id, display_name=self.display_name, role=self.role,
                    state=self.state.value)


def candidate_type(candidate: str) -> str | None:
    """The ``typ`` of an ICE candidate line (RFC 8839 §5.1), or None when there is none."""
    parts = candidate.split()
    for i, word in enumerate(parts[:-1]):
        if word == "typ":
            return parts[i + 1]
    return None


def shield_sdp(sdp: str) -> str:
    """Keep only relay candidates in an SDP, and hide the connection addresses (RFC 8866 c=, a=rtcp)."""
    lines: list[str] = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:") and candidate_type(line) != "relay":
            continue
        if line.startswith("c=IN IP"):
            line = "c=IN IP4 0.0.0.0"
        elif line.startswith("a=rtcp:") and " IN IP" in line:
            line = line.split(" ", 1)[0] + " IN IP4 0.0.0.0"
        lines.append(line)
    return "\r\n".join(lines) + ("\r\n" if sdp.endswith("\n") else "")


class Room:
    def __init__(self, room_id: str, *, max_participants: int = 6, grace_s: float = 30.0,
                 max_candidates: int = 60, stats_interval_s: float = 2.0, force_relay: bool = False) -> None:
        if max_participants < 2 or grace_s < 0 or max_candidates < 1:
            raise ValueError("a room needs room for two, a non-negative grace period and a candidate budget")
        self.id = room_id
        self.max_participants = max_participants
        self.grace_s = grace_s
        self.max_candidates = max_candidates
        self.stats_interval_s = stats_interval_s
        self.force_relay = force_relay
        self.state = RoomState.OPEN
        self.participants: dict[str, Participant] = {}
        self._seq = 0

    # -- queries --------------------------------------------------------------------

    def present(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.state is not PState.LEFT]

    def waiting(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.state is PState.WAITING]

    def admitted(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.state is PState.ADMITTED]

    @property
    def empty(self) -> bool:
        return not self.present()

    def on(self, conn: ConnKey) -> Participant:
        for p in self.participants.values():
            if p.conn == conn and p.state in (PState.WAITING, PState.ADMITTED):
                return p
        raise NotInRoom("You are not in this room; send join first")

    # -- helpers ----------------------------------------------------------------------

    def _open(self) -> None:
        if self.state is not RoomState.OPEN:
            raise IllegalTransition("This call has ended")

    def _snapshots(self) -> list[Effect]:
        seats = tuple(p.seat() for p in self.present())
        out: list[Effect] = [Deliver(p.conn, RoomSnapshot(room=self.id, participants=seats)) for p in self.admitted()]
        out += [Deliver(p.conn, RoomSnapshot(room=self.id, participants=(p.seat(),))) for p in self.waiting()]
        return out

    def _note(self, kind: str, p: Participant, detail: str | None = None) -> Note:
        return Note(kind, p.id, p.user_id, p.role, detail)

    def _enter_call(self, p: Participant) -> list[Effect]:
        """``p`` is now admitted: it offers to the admitted peers, who expect its offer."""
        peers = [q for q in self.admitted() if q.id != p.id]
        p.candidates.clear()
        admitted = Admitted(room=self.id, participant=p.id, peers=tuple(q.id for q in peers))
        out: list[Effect] = [Deliver(p.conn, admitted)]
        for q in peers:
            q.candidates.pop(p.id, None)
            out.append(Deliver(q.conn, PeerJoined(room=self.id, participant=p.id, user_id=p.user_id,
                                                  display_name=p.display_name, role=p.role)))
        return out

    def _depart(self, p: Participant, reason: str, event: str, now: float) -> list[Effect]:
        was = p.state
        p.state = step(p.state, event)
        if p.state is PState.DROPPED:
            p.resume, p.dropped_at = was, now
        out: list[Effect] = [self._note(reason, p)]
        if was is PState.ADMITTED or (was is PState.DROPPED and p.resume is PState.ADMITTED):
            out += [Deliver(q.conn, PeerLeft(room=self.id, participant=p.id, reason=reason))  # type: ignore[arg-type]
                    for q in self.admitted()]
        if was is PState.WAITING or (was is PState.DROPPED and p.resume is PState.WAITING):
            out.append(LobbyChanged())
        return out + self._snapshots()

    # -- events -----------------------------------------------------------------------

    def join(self, conn: ConnKey, *, user_id: str, display_name: str, role: str, host: bool, now: float,
             ice_servers: tuple[IceServer, ...] = (), ref: str | None = None) -> list[Effect]:
        self._open()
        out: list[Effect] = []
        mine = [p for p in self.participants.values() if p.user_id == user_id and p.state is not PState.LEFT]
        p = mine[0] if mine else None
        if p is not None and p.state in (PState.WAITING, PState.ADMITTED):
            if p.conn == conn:
                raise IllegalTransition("You are already in this room")
            out.append(Deliver(p.conn, Ended(room=self.id, reason="replaced")))
            out += self._depart(p, "dropped", "drop", now)
        if p is not None:  # dropped (or just replaced): back into its place
            p.conn = conn
            p.state = step(p.state, "rejoin_admitted" if p.resume is PState.ADMITTED else "rejoin_waiting")
            p.dropped_at = None
            out.append(self._note("rejoined", p))
        else:
            if len(self.present()) >= self.max_participants:
                raise RoomFull(f"This room holds at most {self.max_participants} people")
            self._seq += 1
            p = Participant(id=f"p{self._seq}", user_id=user_id, display_name=display_name, role=role, host=host,
                            conn=conn, state=step(None, "join_host" if host else "join_guest"), since=now,
                            shielded=role != "client")
            self.participants[p.id] = p
            out.append(self._note("joined", p))
        relay = self.force_relay and p.shielded
        out.append(Deliver(conn, Joined(room=self.id, participant=p.id, state=p.state.value,  # type: ignore[arg-type]
                                        ice_servers=ice_servers, ice_transport_policy="relay" if relay else "all",
                                        ref=ref)))
        if p.state is PState.ADMITTED:
            out += self._enter_call(p)
        else:
            out.append(LobbyChanged())
        return out + self._snapshots()

    def admit(self, conn: ConnKey, participant: str) -> list[Effect]:
        self._open()
        host = self.on(conn)
        if not host.host or host.state is not PState.ADMITTED:
            raise NotHost("Only the officer in the call may admit people")
        p = self.participants.get(participant)
        if p is None or p.state is not PState.WAITING:
            raise NotFound("Nobody with that participant id is waiting")
        p.state = step(p.state, "admit")
        return [self._note("admitted", p, host.user_id), LobbyChanged(), *self._enter_call(p), *self._snapshots()]

    def leave(self, conn: ConnKey, now: float) -> list[Effect]:
        p = self.on(conn)
        return [Deliver(conn, Left(room=self.id)), *self._depart(p, "left", "leave", now)]

    def cant_talk(self, conn: ConnKey, now: float) -> list[Effect]:
        """The discreet way out: to the person a neutral ``ended``, to the others an ordinary leave."""
        p = self.on(conn)
        out: list[Effect] = [Deliver(conn, Ended(room=self.id, reason="ended")), self._note("cant_talk", p)]
        return out + self._depart(p, "left", "leave", now)

    def drop(self, conn: ConnKey, now: float) -> list[Effect]:
        """The connection went away without a leave; a no-op when it held no place here."""
        try:
            p = self.on(conn)
        except NotInRoom:
            return []
        return self._depart(p, "dropped", "drop", now)

    def tick(self, now: float) -> list[Effect]:
        """Release places whose grace period ran out."""
        out: list[Effect] = []
        for p in list(self.participants.values()):
            if p.state is PState.DROPPED and p.dropped_at is not None and now - p.dropped_at >= self.grace_s:
                out += self._depart(p, "gone", "expire", now)
        return out

    def end(self, conn: ConnKey | None, reason: str = "ended_by_host") -> list[Effect]:
        """A host ends the call for everyone (``conn`` None: the server, e.g. the window closed)."""
        self._open()
        if conn is not None:
            host = self.on(conn)
            if not host.host:
                raise NotHost("Only the officer may end the call for everyone")
        self.state = room_step(self.state, "end")
        out: list[Effect] = []
        for p in self.present():
            if p.state is not PState.DROPPED:
                out.append(Deliver(p.conn, Ended(room=self.id, reason=reason)))  # type: ignore[arg-type]
            p.state = step(p.state, "end")
            out.append(self._note("ended", p))
        return out

    def media(self, conn: ConnKey, *, audio: bool, video: bool) -> list[Effect]:
        p = self.on(conn)
        detail = f"audio={'on' if audio else 'off'} video={'on' if video else 'off'}"
        return [self._note("media", p, detail), *(Deliver(q.conn, PeerMedia(room=self.id, participant=p.id,
                audio=audio, video=video)) for q in self.admitted() if q.id != p.id)]

    def stats_due(self, conn: ConnKey, now: float) -> Participant | None:
        """The participant whose stats sample should be kept now, or None (too soon: ignored)."""
        p = self.on(conn)
        if p.last_stats is not None and now - p.last_stats < self.stats_interval_s:
            return None
        p.last_stats = now
        return p

    # -- a change of home node (issue 15) ------------------------------------------------

    def seats(self) -> list[dict[str, object]]:
        """Who is in the room, for the node that may take it over: ids, roles and states, nothing said."""
        return [{"id": p.id, "user_id": p.user_id, "display_name": p.display_name, "role": p.role, "host": p.host,
                 "state": (p.resume or PState.WAITING).value if p.state is PState.DROPPED else p.state.value}
                for p in self.present()]

    def restore(self, seats: list[dict[str, object]], now: float, detail: str) -> list[Effect]:
        """A room taken over from another node: everybody it held keeps their place as if their
        connection had dropped (``grace_s`` to come back, in the state they were in: nobody is
        asked again to wait or to pass the safe-space check). Each gets an ``interrupted`` note,
        a technical interruption in the evidence, never a departure of their own."""
        out: list[Effect] = []
        for seat in seats:
            pid, state = str(seat["id"]), PState(str(seat["state"]))
            if pid in self.participants or state not in (PState.WAITING, PState.ADMITTED):
                continue
            p = Participant(id=pid, user_id=str(seat["user_id"]), display_name=str(seat["display_name"]),
                            role=str(seat["role"]), host=bool(seat["host"]), conn=None, state=PState.DROPPED,
                            since=now, shielded=str(seat["role"]) != "client", resume=state, dropped_at=now)
            self.participants[pid] = p
            if pid.startswith("p") and pid[1:].isdigit():
                self._seq = max(self._seq, int(pid[1:]))
            out.append(self._note("interrupted", p, detail))
        return out

    # -- relay ----------------------------------------------------------------------

    def _pair(self, conn: ConnKey, to: str) -> tuple[Participant, Participant]:
        self._open()
        sender = self.on(conn)
        if sender.state is not PState.ADMITTED:
            raise NotAdmitted("You are in the waiting room; wait to be admitted")
        target = self.participants.get(to)
        if target is None or target.state is not PState.ADMITTED or target.id == sender.id:
            raise NotAdmitted("That participant is not in the call")
        return sender, target

    def _sdp(self, sender: Participant, sdp: str) -> str:
        return shield_sdp(sdp) if self.force_relay and sender.shielded else sdp

    def offer(self, conn: ConnKey, to: str, sdp: str) -> list[Effect]:
        sender, target = self._pair(conn, to)
        sender.candidates[target.id] = 0  # a new negotiation: a new candidate budget
        return [Deliver(target.conn, RelayedOffer(room=self.id, from_=sender.id, sdp=self._sdp(sender, sdp)))]

    def answer(self, conn: ConnKey, to: str, sdp: str) -> list[Effect]:
        sender, target = self._pair(conn, to)
        sender.candidates[target.id] = 0
        return [Deliver(target.conn, RelayedAnswer(room=self.id, from_=sender.id, sdp=self._sdp(sender, sdp)))]

    def candidate(self, conn: ConnKey, to: str, candidate: str, sdp_mid: str | None,
                  sdp_mline_index: int | None) -> list[Effect]:
        sender, target = self._pair(conn, to)
        count = sender.candidates.get(target.id, 0) + 1
        if count > self.max_candidates:
            raise LimitExceeded(f"At most {self.max_candidates} candidates per peer and negotiation")
        sender.candidates[target.id] = count
        if self.force_relay and sender.shielded and candidate and candidate_type(candidate) != "relay":
            return []  # never forwarded: it would reveal the sender's address
        return [Deliver(target.conn, RelayedCandidate(room=self.id, from_=sender.id, candidate=candidate,
                                                      sdp_mid=sdp_mid, sdp_mline_index=sdp_mline_index))]
