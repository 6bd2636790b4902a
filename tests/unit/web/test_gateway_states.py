from __future__ import annotations

import pytest

from server.web.gateway import ConnState, IllegalTransition, step


def test_lifecycle_sequence() -> None:
    states = [ConnState.OPENING]
    for event in ("hello", "close"):
        states.append(step(states[-1], event))
    assert states == [ConnState.OPENING, ConnState.OPEN, ConnState.CLOSED]
    assert step(ConnState.OPENING, "close") is ConnState.CLOSED


@pytest.mark.parametrize(("state", "event"), [(ConnState.OPEN, "hello"), (ConnState.CLOSED, "hello"),
                                              (ConnState.CLOSED, "close")])
def test_illegal_steps_raise(state: ConnState, event: str) -> None:
    with pytest.raises(IllegalTransition):
        step(state, event)
