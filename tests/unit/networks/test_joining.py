"""The live session id of a network meeting (server/networks/joining.py)."""

from __future__ import annotations

from server.errors import PolicyRefused
from server.networks.joining import PREFIX, RULE, aad, live_id, meeting_of, refused


def test_a_meetings_live_id_round_trips_and_group_ids_are_not_meetings() -> None:
    meeting = "a" * 32
    assert live_id(meeting) == PREFIX + meeting and len(live_id(meeting)) <= 64  # a frame's session limit
    assert meeting_of(live_id(meeting)) == meeting
    assert meeting_of("b" * 32) is None  # a group session's id


def test_a_refusal_names_the_rule_and_why() -> None:
    err = refused("in_person", "Held in person")
    assert isinstance(err, PolicyRefused)
    assert (err.rule_id, err.reason) == (RULE, "network_meeting_video.in_person")
    assert "(rule network_meeting_video)" in err.message


def test_the_sealed_answers_are_bound_to_their_row_and_meeting() -> None:
    assert aad("r1", "m1") != aad("r1", "m2") != aad("r2", "m1")
