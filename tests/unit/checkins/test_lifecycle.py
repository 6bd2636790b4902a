from __future__ import annotations

import pytest

from server.checkins.lifecycle import (
    JOINABLE,
    TERMINAL,
    TRANSITIONS,
    CheckinEvent,
    CheckinState,
    IllegalCheckinStep,
    run,
    step,
)
from server.errors import Conflict

S, E = CheckinState, CheckinEvent


def test_a_whole_check_in() -> None:
    assert run(S.SCHEDULED, [E.CLIENT_WAITING, E.ADMIT, E.END, E.RECORD_OUTCOME]) == [
        S.SCHEDULED, S.WAITING, S.IN_CALL, S.ENDED, S.CLOSED]


def test_the_client_leaves_the_lobby_and_comes_back() -> None:
    assert run(S.SCHEDULED, [E.CLIENT_WAITING, E.LOBBY_EMPTY, E.CLIENT_WAITING, E.ADMIT]) == [
        S.SCHEDULED, S.WAITING, S.SCHEDULED, S.WAITING, S.IN_CALL]


def test_cant_talk_ends_the_attempt_and_allows_a_new_one() -> None:
    assert run(S.SCHEDULED, [E.CLIENT_WAITING, E.ADMIT, E.CANT_TALK, E.CLIENT_WAITING, E.ADMIT]) == [
        S.SCHEDULED, S.WAITING, S.IN_CALL, S.NOT_SAFE, S.WAITING, S.IN_CALL]
    assert step(S.SCHEDULED, E.CANT_TALK) is S.NOT_SAFE
    assert step(S.WAITING, E.CANT_TALK) is S.NOT_SAFE


def test_a_second_arrival_or_an_interpreter_keeps_the_call_going() -> None:
    assert run(S.IN_CALL, [E.CLIENT_WAITING, E.ADMIT]) == [S.IN_CALL, S.IN_CALL, S.IN_CALL]
    assert step(S.WAITING, E.CLIENT_WAITING) is S.WAITING


@pytest.mark.parametrize("state", [S.SCHEDULED, S.WAITING, S.IN_CALL, S.ENDED, S.NOT_SAFE])
def test_an_outcome_can_be_recorded_once_from_any_open_state(state: CheckinState) -> None:
    assert step(state, E.RECORD_OUTCOME) is S.CLOSED
    with pytest.raises(IllegalCheckinStep):
        step(S.CLOSED, E.RECORD_OUTCOME)


def test_only_a_scheduled_check_in_is_cancelled() -> None:
    assert step(S.SCHEDULED, E.CANCEL) is S.CANCELLED


ILLEGAL = [(s, e) for s in S for e in E if (s, e) not in TRANSITIONS]


@pytest.mark.parametrize(("state", "event"), ILLEGAL)
def test_every_other_step_is_a_named_error(state: CheckinState, event: CheckinEvent) -> None:
    with pytest.raises(IllegalCheckinStep) as info:
        step(state, event)
    assert isinstance(info.value, Conflict)
    assert info.value.code == "illegal_transition"
    assert (info.value.state, info.value.event) == (state, event)
    assert event.value in info.value.message


def test_terminal_states_take_no_step_and_are_not_joinable() -> None:
    assert all(s not in JOINABLE for s in TERMINAL)
    assert not [k for k in TRANSITIONS if k[0] in TERMINAL]
    assert S.ENDED not in JOINABLE
