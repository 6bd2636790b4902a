"""The check-in lifecycle (pure): one enum of states, one transition table.

    scheduled --client_waiting--> waiting --admit--> in_call --end--> ended
    waiting   --lobby_empty-----> scheduled
    scheduled/waiting/in_call --cant_talk--> not_safe --client_waiting--> waiting
    scheduled/waiting/in_call/ended/not_safe --record_outcome--> closed
    scheduled --cancel--> cancelled

Rules the table states:

- "I can't talk safely now" ends the attempt without penalty (CEP 2024, §5 safe
  space): ``not_safe`` is not terminal, the client may try again within the window.
- A client re-entering the waiting room of a call in progress (a second device, a
  rejoin after ``leave``) leaves the check-in ``in_call``: the room tracks people,
  this table tracks the meeting.
- An outcome is recorded once; ``closed`` and ``cancelled`` are terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from server.errors import IllegalTransition


class CheckinState(StrEnum):
    SCHEDULED = "scheduled"
    WAITING = "waiting"
    IN_CALL = "in_call"
    ENDED = "ended"
    NOT_SAFE = "not_safe"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class CheckinEvent(StrEnum):
    CLIENT_WAITING = "client_waiting"
    LOBBY_EMPTY = "lobby_empty"
    ADMIT = "admit"
    END = "end"
    CANT_TALK = "cant_talk"
    RECORD_OUTCOME = "record_outcome"
    CANCEL = "cancel"


S, E = CheckinState, CheckinEvent

TRANSITIONS: dict[tuple[CheckinState, CheckinEvent], CheckinState] = {
    (S.SCHEDULED, E.CLIENT_WAITING): S.WAITING,
    (S.WAITING, E.CLIENT_WAITING): S.WAITING,
    (S.IN_CALL, E.CLIENT_WAITING): S.IN_CALL,
    (S.NOT_SAFE, E.CLIENT_WAITING): S.WAITING,
    (S.WAITING, E.LOBBY_EMPTY): S.SCHEDULED,
    (S.WAITING, E.ADMIT): S.IN_CALL,
    (S.IN_CALL, E.ADMIT): S.IN_CALL,  # a second client device or an interpreter
    (S.IN_CALL, E.END): S.ENDED,
    (S.SCHEDULED, E.CANT_TALK): S.NOT_SAFE,
    (S.WAITING, E.CANT_TALK): S.NOT_SAFE,
    (S.IN_CALL, E.CANT_TALK): S.NOT_SAFE,
    (S.SCHEDULED, E.RECORD_OUTCOME): S.CLOSED,
    (S.WAITING, E.RECORD_OUTCOME): S.CLOSED,
    (S.IN_CALL, E.RECORD_OUTCOME): S.CLOSED,
    (S.ENDED, E.RECORD_OUTCOME): S.CLOSED,
    (S.NOT_SAFE, E.RECORD_OUTCOME): S.CLOSED,
    (S.SCHEDULED, E.CANCEL): S.CANCELLED,
}

#: States in which people may still join the room.
JOINABLE = frozenset({S.SCHEDULED, S.WAITING, S.IN_CALL, S.NOT_SAFE})
TERMINAL = frozenset({S.CLOSED, S.CANCELLED})


class IllegalCheckinStep(IllegalTransition):
    """The peer asked for a step the check-in's state does not allow."""

    def __init__(self, state: CheckinState, event: CheckinEvent) -> None:
        super().__init__(f"A check-in that is {state.value.replace('_', ' ')} cannot take the step {event.value!r}")
        self.state = state
        self.event = event


def step(state: CheckinState, event: CheckinEvent) -> CheckinState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalCheckinStep(state, event) from None


def run(state: CheckinState, events: Iterable[CheckinEvent]) -> list[CheckinState]:
    """Every state visited, the start included: what tests assert."""
    states = [state]
    for event in events:
        states.append(step(states[-1], event))
    return states
