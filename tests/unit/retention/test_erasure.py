"""The data-request lifecycle (pure): open -> granted | refused, and nothing after."""

from __future__ import annotations

import pytest

from server.retention.erasure import RequestAlreadyDecided, RequestState, next_state


def test_an_open_request_is_granted_or_refused() -> None:
    assert next_state(RequestState.OPEN, "grant") is RequestState.GRANTED
    assert next_state(RequestState.OPEN, "refuse") is RequestState.REFUSED


@pytest.mark.parametrize("state", [RequestState.GRANTED, RequestState.REFUSED])
@pytest.mark.parametrize("event", ["grant", "refuse"])
def test_a_decided_request_stays_decided(state: RequestState, event: str) -> None:
    with pytest.raises(RequestAlreadyDecided, match=state.value):
        next_state(state, event)


def test_an_unknown_event_is_refused() -> None:
    with pytest.raises(RequestAlreadyDecided):
        next_state(RequestState.OPEN, "maybe")
