"""Rooms and lobby: the exact states and frames each step produces, with a fake clock."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from server.clock import FakeClock
from server.errors import IllegalTransition, LimitExceeded, NotAdmitted, NotFound, NotHost, NotInRoom, RoomFull
from server.signalling.lobby import (
    PARTICIPANT,
    Deliver,
    Effect,
    LobbyChanged,
    Note,
    PState,
    Room,
    RoomState,
    candidate_type,
    room_step,
    shield_sdp,
    step,
)
from server.signalling.protocol import IceServer

OFFICER, CLIENT, INTERP = "conn-officer", "conn-client", "conn-interp"


def frames(effects: list[Effect], conn: str) -> list[dict[str, Any]]:
    return [json.loads(msgspec.json.encode(e.frame)) for e in effects if isinstance(e, Deliver) and e.conn == conn]


def types(effects: list[Effect], conn: str) -> list[str]:
    return [f["type"] for f in frames(effects, conn)]


def notes(effects: list[Effect]) -> list[tuple[str, str]]:
    return [(e.kind, e.user_id) for e in effects if isinstance(e, Note)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def officer_joins(room: Room, clock: FakeClock) -> list[Effect]:
    return room.join(OFFICER, user_id="off", display_name="Officer", role="officer", host=True,
                     now=clock.monotonic(), ice_servers=(IceServer(urls=("turn:t",), username="u", credential="c"),))


def client_joins(room: Room, clock: FakeClock, conn: str = CLIENT) -> list[Effect]:
    return room.join(conn, user_id="cli", display_name="Client", role="client", host=False, now=clock.monotonic())


def in_call(clock: FakeClock, **kwargs: Any) -> Room:
    room = Room("r1", **kwargs)
    officer_joins(room, clock)
    client_joins(room, clock)
    room.admit(OFFICER, room.waiting()[0].id)
    return room


def test_host_enters_admitted_guest_waits_then_is_admitted(clock: FakeClock) -> None:
    room = Room("r1")
    out = officer_joins(room, clock)
    assert types(out, OFFICER) == ["joined", "admitted", "room"]
    joined = frames(out, OFFICER)[0]
    assert joined["state"] == "admitted" and joined["ice_transport_policy"] == "all"
    assert joined["ice_servers"] == [{"urls": ["turn:t"], "username": "u", "credential": "c"}]
    assert frames(out, OFFICER)[1]["peers"] == []

    out = client_joins(room, clock)
    assert types(out, CLIENT) == ["joined", "room"]
    assert frames(out, CLIENT)[0]["state"] == "waiting"
    assert [s["user_id"] for s in frames(out, CLIENT)[1]["participants"]] == ["cli"]  # sees only itself
    officer_room = frames(out, OFFICER)[-1]["participants"]
    assert [(s["user_id"], s["state"]) for s in officer_room] == [("off", "admitted"), ("cli", "waiting")]
    assert any(isinstance(e, LobbyChanged) for e in out)
    assert [p.state for p in room.participants.values()] == [PState.ADMITTED, PState.WAITING]

    client = room.waiting()[0]
    out = room.admit(OFFICER, client.id)
    assert client.state is PState.ADMITTED
    assert types(out, CLIENT) == ["admitted", "room"]
    assert frames(out, CLIENT)[0]["peers"] == [room.participants["p1"].id]  # the newcomer offers
    assert types(out, OFFICER) == ["peer_joined", "room"]
    assert notes(out) == [("admitted", "cli")]


def test_sdp_only_between_admitted_participants(clock: FakeClock) -> None:
    room = Room("r1")
    officer_joins(room, clock)
    client_joins(room, clock)
    with pytest.raises(NotAdmitted):  # from the lobby
        room.offer(CLIENT, "p1", "v=0")
    with pytest.raises(NotAdmitted):  # to the lobby
        room.offer(OFFICER, "p2", "v=0")
    with pytest.raises(NotAdmitted):
        room.candidate(CLIENT, "p1", "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "0", 0)
    with pytest.raises(NotInRoom):
        room.offer("stranger", "p1", "v=0")
    room.admit(OFFICER, "p2")
    out = room.offer(CLIENT, "p1", "v=0\r\n")
    assert frames(out, OFFICER) == [{"type": "offer", "room": "r1", "from": "p2", "sdp": "v=0\r\n"}]
    out = room.answer(OFFICER, "p2", "v=0\r\n")
    assert frames(out, CLIENT) == [{"type": "answer", "room": "r1", "from": "p1", "sdp": "v=0\r\n"}]
    out = room.candidate(OFFICER, "p2", "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "0", 0)
    assert frames(out, CLIENT)[0]["candidate"].endswith("typ host")
    with pytest.raises(NotAdmitted):  # to oneself
        room.offer(CLIENT, "p2", "v=0")
    with pytest.raises(NotAdmitted):  # a forged participant id
        room.offer(CLIENT, "p99", "v=0")


def test_only_hosts_admit_and_end(clock: FakeClock) -> None:
    room = in_call(clock)
    room.join(INTERP, user_id="int", display_name="Interpreter", role="interpreter", host=False, now=0)
    with pytest.raises(NotHost):
        room.admit(CLIENT, "p3")
    with pytest.raises(NotHost):
        room.end(CLIENT)
    with pytest.raises(NotFound):
        room.admit(OFFICER, "p2")  # already admitted
    with pytest.raises(NotFound):
        room.admit(OFFICER, "nobody")


def test_interpreter_as_third_party_offers_to_both(clock: FakeClock) -> None:
    room = in_call(clock)
    out = room.join(INTERP, user_id="int", display_name="Interpreter", role="interpreter", host=False, now=0)
    assert frames(out, INTERP)[0]["state"] == "waiting"
    out = room.admit(OFFICER, "p3")
    assert frames(out, INTERP)[0] == {"type": "admitted", "room": "r1", "participant": "p3", "peers": ["p1", "p2"]}
    assert types(out, CLIENT) == ["peer_joined", "room"] and types(out, OFFICER) == ["peer_joined", "room"]
    assert len(frames(out, CLIENT)[-1]["participants"]) == 3
    # renegotiation: a new offer on an existing pair is relayed like the first
    assert types(room.offer(CLIENT, "p1", "v=0 audio-only"), OFFICER) == ["offer"]


def test_leave_tells_peers_and_empties_the_room(clock: FakeClock) -> None:
    room = in_call(clock)
    out = room.leave(CLIENT, clock.monotonic())
    assert types(out, CLIENT) == ["left"]
    assert frames(out, OFFICER)[0] == {"type": "peer_left", "room": "r1", "participant": "p2", "reason": "left"}
    assert notes(out) == [("left", "cli")]
    with pytest.raises(NotInRoom):
        room.leave(CLIENT, 0)
    room.leave(OFFICER, 0)
    assert room.empty


def test_leaving_the_lobby_changes_the_lobby(clock: FakeClock) -> None:
    room = Room("r1")
    client_joins(room, clock)
    out = room.leave(CLIENT, 0)
    assert any(isinstance(e, LobbyChanged) for e in out) and room.waiting() == []


def test_rejoin_within_grace_period_goes_straight_back_into_the_call(clock: FakeClock) -> None:
    room = in_call(clock, grace_s=30)
    out = room.drop(CLIENT, clock.monotonic())
    assert frames(out, OFFICER)[0]["reason"] == "dropped"
    assert room.participants["p2"].state is PState.DROPPED
    clock.advance(29)
    assert room.tick(clock.monotonic()) == []
    out = client_joins(room, clock, conn="conn-client-2")
    assert types(out, "conn-client-2") == ["joined", "admitted", "room"]
    assert frames(out, "conn-client-2")[0]["participant"] == "p2"
    assert frames(out, "conn-client-2")[1]["peers"] == ["p1"]
    assert types(out, OFFICER) == ["peer_joined", "room"]
    assert notes(out) == [("rejoined", "cli")]
    assert room.participants["p2"].state is PState.ADMITTED


def test_after_the_grace_period_the_place_is_gone(clock: FakeClock) -> None:
    room = in_call(clock, grace_s=30)
    room.drop(CLIENT, clock.monotonic())
    clock.advance(30)
    out = room.tick(clock.monotonic())
    assert frames(out, OFFICER)[0]["reason"] == "gone"
    assert notes(out) == [("gone", "cli")]
    assert room.participants["p2"].state is PState.LEFT
    out = client_joins(room, clock, conn="conn-client-2")
    assert frames(out, "conn-client-2")[0]["state"] == "waiting"  # a newcomer again: admitted anew
    assert frames(out, "conn-client-2")[0]["participant"] == "p3"


def test_a_dropped_lobby_place_is_kept_too(clock: FakeClock) -> None:
    room = Room("r1", grace_s=10)
    officer_joins(room, clock)
    client_joins(room, clock)
    out = room.drop(CLIENT, 0)
    assert any(isinstance(e, LobbyChanged) for e in out) and room.waiting() == []
    out = client_joins(room, clock, conn="c2")
    assert frames(out, "c2")[0] == frames(out, "c2")[0] | {"state": "waiting", "participant": "p2"}
    assert room.drop("unknown-conn", 0) == []


def test_a_second_connection_takes_the_place_over(clock: FakeClock) -> None:
    room = in_call(clock)
    out = client_joins(room, clock, conn="phone-on-4g")
    assert frames(out, CLIENT) == [{"type": "ended", "room": "r1", "reason": "replaced"}]
    assert types(out, "phone-on-4g") == ["joined", "admitted", "room"]
    assert [f["reason"] for f in frames(out, OFFICER) if f["type"] == "peer_left"] == ["dropped"]
    with pytest.raises(NotInRoom):
        room.offer(CLIENT, "p1", "v=0")
    with pytest.raises(IllegalTransition):
        client_joins(room, clock, conn="phone-on-4g")


def test_room_full(clock: FakeClock) -> None:
    room = Room("r1", max_participants=2)
    officer_joins(room, clock)
    client_joins(room, clock)
    with pytest.raises(RoomFull):
        room.join("c3", user_id="x", display_name="X", role="interpreter", host=False, now=0)


def test_candidate_flood_is_refused_and_a_new_negotiation_resets_the_budget(clock: FakeClock) -> None:
    room = in_call(clock, max_candidates=3)
    c = "candidate:1 1 udp 1 127.0.0.1 5000 typ host"
    for _ in range(3):
        room.candidate(CLIENT, "p1", c, "0", 0)
    with pytest.raises(LimitExceeded):
        room.candidate(CLIENT, "p1", c, "0", 0)
    room.candidate(OFFICER, "p2", c, "0", 0)  # the other direction has its own budget
    room.offer(CLIENT, "p1", "v=0")
    assert types(room.candidate(CLIENT, "p1", c, "0", 0), OFFICER) == ["candidate"]


def test_end_by_host_ends_everyone(clock: FakeClock) -> None:
    room = in_call(clock)
    room.join(INTERP, user_id="int", display_name="I", role="interpreter", host=False, now=0)
    out = room.end(OFFICER)
    for conn in (OFFICER, CLIENT, INTERP):
        assert frames(out, conn) == [{"type": "ended", "room": "r1", "reason": "ended_by_host"}]
    assert room.state is RoomState.ENDED and room.empty
    with pytest.raises(IllegalTransition):
        room.join(CLIENT, user_id="cli", display_name="C", role="client", host=False, now=0)
    with pytest.raises(IllegalTransition):
        room.end(None)


def test_server_ends_when_the_window_closes(clock: FakeClock) -> None:
    room = in_call(clock)
    room.drop(CLIENT, 0)
    out = room.end(None, "window_closed")
    assert frames(out, OFFICER) == [{"type": "ended", "room": "r1", "reason": "window_closed"}]
    assert frames(out, CLIENT) == []  # dropped: nobody to tell
    assert notes(out) == [("ended", "off"), ("ended", "cli")]


def test_cant_talk_is_neutral_to_the_client_and_an_ordinary_leave_to_peers(clock: FakeClock) -> None:
    room = in_call(clock)
    out = room.cant_talk(CLIENT, 0)
    assert frames(out, CLIENT) == [{"type": "ended", "room": "r1", "reason": "ended"}]
    assert frames(out, OFFICER)[0] == {"type": "peer_left", "room": "r1", "participant": "p2", "reason": "left"}
    assert notes(out) == [("cant_talk", "cli"), ("left", "cli")]


def test_media_switch_reaches_peers_and_stats_are_sampled(clock: FakeClock) -> None:
    room = in_call(clock, stats_interval_s=2)
    out = room.media(CLIENT, audio=True, video=False)
    assert frames(out, OFFICER) == [{"type": "peer_media", "room": "r1", "participant": "p2",
                                     "audio": True, "video": False}]
    assert notes(out) == [("media", "cli")]
    assert room.stats_due(CLIENT, 10.0) is not None
    assert room.stats_due(CLIENT, 11.9) is None
    assert room.stats_due(CLIENT, 12.0) is not None


def test_force_relay_shields_staff_candidates_and_sdp(clock: FakeClock) -> None:
    room = in_call(clock, force_relay=True)
    host = "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0"
    srflx = "candidate:2 1 udp 1686052607 203.0.113.5 54321 typ srflx raddr 192.168.1.20 rport 54321"
    relay = "candidate:3 1 udp 41885439 198.51.100.9 3478 typ relay raddr 203.0.113.5 rport 54321"
    assert room.candidate(OFFICER, "p2", host, "0", 0) == []
    assert room.candidate(OFFICER, "p2", srflx, "0", 0) == []
    assert frames(room.candidate(OFFICER, "p2", relay, "0", 0), CLIENT)[0]["candidate"] == relay
    assert types(room.candidate(OFFICER, "p2", "", "0", 0), CLIENT) == ["candidate"]  # end of candidates
    # the client's own candidates are not shielded
    assert types(room.candidate(CLIENT, "p1", host, "0", 0), OFFICER) == ["candidate"]
    sdp = ("v=0\r\nc=IN IP4 192.168.1.20\r\na=rtcp:9 IN IP4 192.168.1.20\r\n"
           f"a={host}\r\na={srflx}\r\na={relay}\r\n")
    sent = frames(room.answer(OFFICER, "p2", sdp), CLIENT)[0]["sdp"]
    assert "192.168.1.20" not in sent and "typ host" not in sent and "typ srflx" not in sent
    assert f"a={relay}" in sent
    assert frames(room.offer(CLIENT, "p1", sdp), OFFICER)[0]["sdp"] == sdp


def test_joined_tells_shielded_participants_to_use_relay_only(clock: FakeClock) -> None:
    room = Room("r1", force_relay=True)
    assert frames(officer_joins(room, clock), OFFICER)[0]["ice_transport_policy"] == "relay"
    assert frames(client_joins(room, clock), CLIENT)[0]["ice_transport_policy"] == "all"


def test_candidate_type_and_shield_edge_cases() -> None:
    assert candidate_type("candidate:1 1 udp 1 1.2.3.4 5 typ prflx") == "prflx"
    assert candidate_type("garbage") is None
    assert candidate_type("") is None
    assert shield_sdp("v=0") == "v=0"


def test_participant_table_illegal_steps() -> None:
    assert step(None, "join_guest") is PState.WAITING
    for state in (None, *PState):
        for event in ("join_guest", "join_host", "admit", "leave", "drop", "rejoin_waiting", "rejoin_admitted",
                      "expire", "end"):
            if (state, event) not in PARTICIPANT:
                with pytest.raises(IllegalTransition):
                    step(state, event)
    assert room_step(RoomState.OPEN, "end") is RoomState.ENDED
    with pytest.raises(IllegalTransition):
        room_step(RoomState.ENDED, "end")


def test_bad_limits() -> None:
    with pytest.raises(ValueError, match="room for two"):
        Room("r", max_participants=1)


def test_a_room_taken_over_keeps_every_place_in_its_state_for_the_grace_period(clock: FakeClock) -> None:
    old = in_call(clock)
    interp_waits = old.join(INTERP, user_id="int", display_name="Interpreter", role="interpreter", host=False,
                            now=clock.monotonic())
    assert types(interp_waits, INTERP)[0] == "joined"
    old.drop(CLIENT, clock.monotonic())  # dropped on the old node: restored as what it was (admitted)
    seats = json.loads(json.dumps(old.seats()))
    assert [(s["user_id"], s["state"]) for s in seats] == [("off", "admitted"), ("cli", "admitted"),
                                                          ("int", "waiting")]

    new = Room("r1", grace_s=30)
    restored = new.restore(seats, clock.monotonic(), "node_takeover")
    assert notes(restored) == [("interrupted", "off"), ("interrupted", "cli"), ("interrupted", "int")]
    assert {e.detail for e in restored if isinstance(e, Note)} == {"node_takeover"}
    assert [p.state for p in new.participants.values()] == [PState.DROPPED] * 3
    assert new.restore(seats, clock.monotonic(), "again") == []  # places already held: nothing twice

    back = client_joins(new, clock, conn="conn-client-2")
    joined = frames(back, "conn-client-2")[0]
    assert (joined["state"], joined["participant"]) == ("admitted", "p2")  # no waiting room again
    assert notes(back)[0] == ("rejoined", "cli")
    assert frames(back, "conn-client-2")[1] == {"type": "admitted", "room": "r1", "participant": "p2", "peers": []}
    newcomer = new.join("conn-x", user_id="x", display_name="X", role="interpreter", host=False,
                        now=clock.monotonic())
    assert frames(newcomer, "conn-x")[0]["participant"] == "p4"  # ids go on after the restored ones
    clock.advance(30)
    gone = new.tick(clock.monotonic())
    assert sorted(notes(gone)) == [("gone", "int"), ("gone", "off")]
