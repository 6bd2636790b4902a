"""Erasure and rectification requests (GDPR art. 16, 17) as a lifecycle (pure).

    state     event     -> state
    open      grant     -> granted
    open      refuse    -> refused

A request is recorded by the client or by an admin on their behalf; a person (an
admin) decides it with a reason. Criminal-justice data may be exempt from erasure by
national law (LED 2016/680 art. 16(3)), so the decision is a person's; the system
only records it and, for a granted erasure, carries it out by shredding the named
categories of the case (which a legal hold forbids), and deleting the case's rows of tables
that are its records whatever their sealed value (``Holder.case_record``: an answer's face).
"""

from __future__ import annotations

from enum import StrEnum

from server.errors import Conflict


class RequestState(StrEnum):
    OPEN = "open"
    GRANTED = "granted"
    REFUSED = "refused"


class RequestKind(StrEnum):
    ERASURE = "erasure"
    RECTIFICATION = "rectification"


TRANSITIONS: dict[tuple[RequestState, str], RequestState] = {
    (RequestState.OPEN, "grant"): RequestState.GRANTED,
    (RequestState.OPEN, "refuse"): RequestState.REFUSED,
}


class RequestAlreadyDecided(Conflict):
    """A decided request cannot be decided again."""


def next_state(state: RequestState, event: str) -> RequestState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise RequestAlreadyDecided(f"The request is {state.value}; it cannot be decided again") from None
