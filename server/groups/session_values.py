"""The values a group session (``session_machine``) is made of and the effects it returns (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from server.errors import BadRequest, JoinRefused, LimitExceeded

MAIN = "main"


class Role(StrEnum):
    FACILITATOR = "facilitator"
    CO_FACILITATOR = "co_facilitator"
    OBSERVER = "observer"  # a programme mentor
    PARTICIPANT = "participant"
    ROOM_DEVICE = "room_device"


RUNS = frozenset({Role.FACILITATOR, Role.CO_FACILITATOR})
STAFF = RUNS | {Role.OBSERVER}


class Place(StrEnum):
    WAITING = "waiting"
    PRESENT = "present"
    DENIED = "denied"
    DROPPED = "dropped"
    LEFT = "left"
    REMOVED = "removed"


# -- effects ------------------------------------------------------------------------


@dataclass(frozen=True)
class Tell:
    """Send ``frame`` to participant ``to`` (the shell knows their connection)."""

    to: str
    frame: Mapping[str, object]


@dataclass(frozen=True)
class Media:
    """What the SFU forwards from this publisher."""

    participant: str
    audio: bool
    video: bool


@dataclass(frozen=True)
class Routes:
    """Who receives whose media: one group per room, nothing crosses between them."""

    groups: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Disconnect:
    participant: str
    reason: str


@dataclass(frozen=True)
class Note:
    """Attendance evidence: joined, admitted, denied, left, dropped, rejoined, gone, removed, ended,
    interrupted (the session was taken over by another node: ``session_snapshot.restore``)."""

    kind: str
    participant: str
    user_id: str
    role: str
    at: float
    place: str  # the person's place after the step
    detail: str | None = None  # why, where the kind alone does not say (an interruption's reason)


@dataclass(frozen=True)
class LobbyChanged:
    """Who is waiting changed: tell the facilitators."""


Effect = Tell | Media | Routes | Disconnect | Note | LobbyChanged


@dataclass(frozen=True)
class JoinFacts:
    """What the service knows about someone joining (from the cohort and its records)."""

    enrolled: bool = False
    agreement_accepted: bool = False
    #: A facilitator holds a place (policy ``min_facilitators``): until then even an automatic
    #: admission waits in the lobby.
    facilitator_there: bool = True


@dataclass
class Person:
    id: str
    user_id: str
    display_name: str
    role: Role
    place: Place
    audio: bool = True
    video: bool = True
    hard_muted: bool = False  # muted by a facilitator: may unmute only once allowed
    room: str = MAIN
    resume: Place | None = None
    dropped_at: float | None = None

    def seat(self) -> dict[str, object]:
        return {"participant": self.id, "user_id": self.user_id, "display_name": self.display_name,
                "role": self.role.value, "state": self.place.value, "audio": self.audio, "video": self.video,
                "room": self.room}


@dataclass
class Breakouts:
    names: tuple[str, ...]
    deadline: float


def rank_view(others: list[str], spoke: Mapping[str, float], spotlight: str | None,
              last_n: int) -> tuple[str | None, tuple[str, ...]]:
    """Last-N from speaker history: the spotlit person (or else the most recent speaker) large,
    then at most ``last_n`` others, the most recent speakers first, then in order of joining."""
    order = {pid: n for n, pid in enumerate(others)}
    ranked = sorted(others, key=lambda pid: (-spoke.get(pid, float("-inf")), order[pid]))
    if spotlight is not None and spotlight in ranked:
        large: str | None = spotlight
    else:
        heard = [pid for pid in ranked if pid in spoke]
        large = heard[0] if heard else (ranked[0] if ranked else None)
    return large, tuple(pid for pid in ranked if pid != large)[:last_n]


def check_join(role: Role, facts: JoinFacts, *, removed: bool, locked: bool, counted: int,
               max_participants: int) -> None:
    """Refuse a join, naming the rule: removed from this session or the session is locked (the
    facilitator's controls: staff and the room device still join); not enrolled, agreement not
    accepted, the cohort's size reached (``group_rules``)."""
    if removed:
        raise JoinRefused("You were removed from this session", rule_id="session_controls", refusal="removed",
                          reason="session_controls.removed")
    if role in STAFF or role is Role.ROOM_DEVICE:
        return
    if locked:
        raise JoinRefused("The facilitator has locked this session", rule_id="session_controls", refusal="locked",
                          reason="session_controls.locked")
    if not facts.enrolled:
        raise JoinRefused("You are not enrolled in this group", rule_id="group_rules", refusal="not_enrolled",
                          reason="group_rules.not_enrolled")
    if not facts.agreement_accepted:
        raise JoinRefused("The group's confidentiality agreement must be accepted before joining",
                          rule_id="group_rules", refusal="agreement_not_accepted",
                          reason="group_rules.confidentiality_first")
    if counted >= max_participants:
        raise JoinRefused(f"The group is full ({max_participants} participants)", rule_id="group_rules",
                          refusal="cohort_full", reason="group_rules.full",
                          params={"max_participants": max_participants})


def check_breakouts(assignment: Mapping[str, tuple[str, ...]], duration_s: float, *, max_rooms: int,
                    max_s: float) -> tuple[str, ...]:
    """The names of the breakout rooms asked for, once their count, names and timer are checked."""
    if not assignment or len(assignment) > max_rooms:
        raise LimitExceeded(f"Between 1 and {max_rooms} breakout rooms")
    if not 0 < duration_s <= max_s:
        raise LimitExceeded(f"A breakout lasts up to {int(max_s // 60)} minutes")
    names = tuple(assignment)
    if any(not n.strip() or n == MAIN or len(n) > 60 for n in names):
        raise BadRequest("A breakout room needs a name of up to 60 characters other than 'main'")
    return names
