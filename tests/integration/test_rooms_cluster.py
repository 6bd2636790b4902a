"""Rooms on any node (issue 15): two real nodes (two ``create_app``) on one PostgreSQL and a
real Redis, an officer on node A and a client on node B.

(a) A whole check-in's signalling across the nodes: the room lives on its home node (recorded
    with its lease in ``room_homes``), frames go there and back in order, refusals carry the
    same codes as on one node.
(b) The home's lease lapses (node A stops: no renewals, no bus): node B tells its participant
    to reconnect, takes the room over with everybody's place, nobody answers the safe-space
    questions again, and the evidence records a technical interruption.
(c) Two nodes claiming one room at once: exactly one wins, on a new room and on a lapsed one.
Leases run in the database's time (tests/integration/test_rooms_clock_skew.py), so a lapse here
is real seconds; the shared FakeClock only drives grace periods and windows.
(d) Redis stops while the call is live: participants on the home node carry on; a participant
    on the other node gets the coded error ``unavailable``.
(e) A drain: the home hands the room over; its participants are told to reconnect and rejoin
    on the other node in their places.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from server.signalling.homes import RoomHomes
from tests.helpers.checkins import Peer, pass_safe_space, peer, ready, schedule, view
from tests.helpers.db import truncate_pg
from tests.helpers.room_nodes import Pair, home_row, node_pair
from tests.helpers.world import World, build, login

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
LEASE_S = 3
SHORT_LEASE_S = 0.4


@pytest.fixture
async def nodes(pg_database: str, tmp_path: Path) -> AsyncIterator[Pair]:
    await truncate_pg(pg_database)
    async with node_pair(pg_database, tmp_path, lease_s=float(LEASE_S), bus_prefix="rooms:") as pair:
        yield pair


async def call_across(pair: Pair, w: World, checkin_id: str) -> tuple[Peer, Peer, dict[str, Any], dict[str, Any]]:
    """The officer joins on node A (its home), the client on node B; admitted, offered, answered."""
    _, off = await ready(pair.a.client, "officer", checkin_id)
    _, cli = await ready(pair.b.client, "client", checkin_id)
    await off.send(type="join", room=checkin_id, id="j-off")
    joined = await off.next("joined")
    assert joined["state"] == "admitted" and joined["ref"] == "j-off"
    await cli.send(type="join", room=checkin_id, id="j-cli")
    waiting = await cli.next("joined", wait_s=10)
    assert waiting["state"] == "waiting" and waiting["ref"] == "j-cli"
    lobby = await off.next("lobby", wait_s=10)
    while not lobby["waiting"]:
        lobby = await off.next("lobby", wait_s=10)
    assert [x["user_id"] for x in lobby["waiting"]] == [w.users["client"]]
    await off.send(type="admit", room=checkin_id, participant=waiting["participant"])
    admitted = await cli.next("admitted", wait_s=10)
    assert admitted["peers"] == [joined["participant"]]
    return off, cli, joined, admitted


async def test_an_officer_on_one_node_and_a_client_on_another_complete_a_check_in(nodes: Pair) -> None:
    pair = nodes
    w = await build(pair.a.services)
    checkin_id = await schedule(pair.a.services, w)
    off, cli, joined, admitted = await call_across(pair, w, checkin_id)
    row = await home_row(pair.a.services, checkin_id)
    assert row.home_node == "node-a" and row.kind == "checkin" and row.epoch == 1
    assert checkin_id in pair.a.signalling.rooms and checkin_id not in pair.b.signalling.rooms
    officer_p, client_p = joined["participant"], admitted["participant"]

    # in order, both ways: 12 candidates after an offer arrive after it and in the order sent
    await cli.send(type="offer", room=checkin_id, to=officer_p, sdp="v=0\r\noffer\r\n")
    for i in range(12):
        await cli.send(type="candidate", room=checkin_id, to=officer_p, candidate=f"candidate:{i} 1 udp 1 "
                       f"127.0.0.1 {5000 + i} typ host")
    assert (await off.next("offer"))["from"] == client_p
    got = [(await off.next("candidate"))["candidate"].split()[0] for _ in range(12)]
    assert got == [f"candidate:{i}" for i in range(12)]
    await off.send(type="answer", room=checkin_id, to=client_p, sdp="v=0\r\nanswer\r\n")
    for i in range(12):
        await off.send(type="candidate", room=checkin_id, to=client_p, candidate=f"candidate:{i} 1 udp 1 "
                       f"127.0.0.1 {6000 + i} typ host")
    assert (await cli.next("answer", wait_s=10))["sdp"] == "v=0\r\nanswer\r\n"
    got = [(await cli.next("candidate", wait_s=10))["candidate"].split()[0] for _ in range(12)]
    assert got == [f"candidate:{i}" for i in range(12)]

    # the same coded refusals as on one node, with the frame's id
    await cli.send(type="admit", room=checkin_id, participant=client_p, id="x1")
    err = await cli.next("error", wait_s=10)
    assert (err["code"], err["ref"]) == ("not_host", "x1")
    await cli.send(type="offer", room=checkin_id, to="p99", sdp="v=0", id="x2")
    err = await cli.next("error", wait_s=10)
    assert (err["code"], err["ref"]) == ("not_admitted", "x2")
    await cli.send(type="end", room=checkin_id, id="x3")
    assert (await cli.next("error", wait_s=10))["code"] == "not_host"

    await cli.send(type="media", room=checkin_id, audio=True, video=False)
    assert (await off.next("peer_media", wait_s=10))["video"] is False
    await cli.send(type="leave", room=checkin_id)
    assert (await cli.next("left", wait_s=10))["room"] == checkin_id
    assert (await off.next("peer_left", wait_s=10))["reason"] == "left"
    await off.send(type="end", room=checkin_id)
    assert (await off.next("ended"))["reason"] == "ended_by_host"
    for _ in range(100):
        if await home_row(pair.a.services, checkin_id) is None:
            break
        await asyncio.sleep(0.05)
    assert await home_row(pair.a.services, checkin_id) is None  # the room is over: its row goes
    detail = await view(pair.a.client, checkin_id)
    assert detail["state"] == "ended" and detail["suggestion"]["outcome"] == "attended"
    assert pair.b.router.forwarded == 19  # every frame of the client went to node A
    await off.close()
    await cli.close()


async def test_when_the_home_nodes_lease_lapses_the_other_node_takes_the_room_over(nodes: Pair) -> None:
    pair = nodes
    w = await build(pair.a.services)
    checkin_id = await schedule(pair.a.services, w)
    off, cli, joined, admitted = await call_across(pair, w, checkin_id)
    pair.clock.advance(60)  # the evidence orders events by the nodes' clock: a minute of call first
    # Node A stops: its renewals and its bus; its connections are gone with it.
    pair.a.signalling.draining = True  # no renewal from the tick (a dead node renews nothing)
    await pair.a.router.stop()
    await off.close()
    # the lease lapses by the database's clock, in LEASE_S real seconds (the nodes' clocks play no part)
    reconnect = await cli.next("reconnect", wait_s=LEASE_S + 10)
    assert reconnect == {"type": "reconnect", "room": checkin_id, "reason": "takeover"}

    # the client rejoins on B: back in the call at once, no safe-space answers, no waiting room
    pair.clock.advance(2)
    await cli.send(type="join", room=checkin_id, id="again")
    back = await cli.next("joined", wait_s=10, ref="again")
    assert back["state"] == "admitted" and back["participant"] == admitted["participant"]
    row = await home_row(pair.b.services, checkin_id)
    assert row.home_node == "node-b" and row.epoch == 2
    assert pair.b.services.metrics.get_sample_value("tandem_rooms_taken_over_total") == 1.0
    early = await view(pair.b.client, checkin_id)  # the officer is not back yet: for now, a drop
    assert (early["evidence"]["interrupted"], early["evidence"]["dropped"]) == (True, True)
    # the officer reconnects to B (A is dead) and rejoins without answering the questions again
    off2 = await peer(pair.b.client, await login(pair.b.client, "officer"))
    pair.clock.advance(2)
    await off2.send(type="join", room=checkin_id)
    assert (await off2.next("joined", wait_s=10))["state"] == "admitted"
    assert (await cli.next("peer_joined", wait_s=10))["participant"] == joined["participant"]
    detail = await view(pair.b.client, checkin_id)
    assert detail["state"] == "in_call"
    # a technical interruption, on the record; everyone came back, so the call resumed: no drop
    assert (detail["evidence"]["interrupted"], detail["evidence"]["dropped"]) == (True, False)
    assert detail["suggestion"]["outcome"] == "attended"
    assert "The call was interrupted when its server changed over, and resumed" in detail["suggestion"]["reasons"]
    await off2.close()
    await cli.close()


async def test_two_nodes_claiming_one_room_at_once_only_one_wins(nodes: Pair) -> None:
    pair = nodes
    # each node's own store, with a short lease: a lapse takes real time (database time)
    homes_a = RoomHomes(pair.a.services.store, pair.a.node_id, lease_s=SHORT_LEASE_S)
    homes_b = RoomHomes(pair.b.services.store, pair.b.node_id, lease_s=SHORT_LEASE_S)
    for i in range(15):
        room = f"race-{i}"
        first = await asyncio.gather(homes_a.claim(room), homes_b.claim(room))
        assert sorted(c.won for c in first) == [False, True], first
        winner = next(c for c in first if c.won)
        assert all(c.home == winner.home for c in first)
        await asyncio.sleep(SHORT_LEASE_S + 0.1)  # the winner's lease lapses: both race to take it over
        second = await asyncio.gather(homes_a.claim(room), homes_b.claim(room))
        assert sorted(c.won for c in second) == [False, True], second
        row = await home_row(pair.a.services, room)
        assert row.epoch in (1, 2) and row.home_node == next(c for c in second if c.won).home


async def test_redis_down_the_home_nodes_participants_carry_on_the_others_get_a_coded_error(nodes: Pair) -> None:
    pair = nodes
    w = await build(pair.a.services)
    checkin_id = await schedule(pair.a.services, w)
    off, cli, joined, _ = await call_across(pair, w, checkin_id)
    off_headers = await login(pair.a.client, "officer")
    resp = await pair.a.client.post(f"/api/checkins/{checkin_id}/interpreters", headers=off_headers,
                                    json={"user_id": w.users["interpreter"]})
    assert resp.status == 204, await resp.text()
    _, interp = await ready(pair.a.client, "interpreter", checkin_id)  # on the home node too
    await interp.send(type="join", room=checkin_id)
    waiting = await interp.next("joined")
    await off.send(type="admit", room=checkin_id, participant=waiting["participant"])
    await interp.next("admitted")

    pair.redis.stop()
    for _ in range(200):
        if not pair.b.services.bus.healthy:
            break
        await asyncio.sleep(0.02)
    await interp.send(type="offer", room=checkin_id, to=joined["participant"], sdp="v=0\r\nlive\r\n")
    assert (await off.next("offer", wait_s=10))["sdp"] == "v=0\r\nlive\r\n"  # home node: carries on
    await off.send(type="answer", room=checkin_id, to=waiting["participant"], sdp="v=0\r\nok\r\n")
    assert (await interp.next("answer", wait_s=10))["sdp"] == "v=0\r\nok\r\n"
    await cli.send(type="offer", room=checkin_id, to=joined["participant"], sdp="v=0", id="cut")
    err = await cli.next("error", wait_s=10)
    assert (err["code"], err["ref"], err["reason"]) == ("unavailable", "cut", "room.unreachable")
    pair.redis.start()
    for p in (off, cli, interp):
        await p.close()


async def test_a_drain_hands_the_room_to_the_other_node(nodes: Pair) -> None:
    pair = nodes
    w = await build(pair.a.services)
    checkin_id = await schedule(pair.a.services, w)
    off, cli, joined, _ = await call_across(pair, w, checkin_id)
    await pair.a.signalling.drain()
    assert pair.a.services.metrics.get_sample_value("tandem_node_draining") == 1.0
    assert pair.a.services.metrics.get_sample_value("tandem_drain_rooms_left") == 0.0
    assert (await off.next("reconnect"))["reason"] == "drain"
    assert (await cli.next("reconnect", wait_s=10))["reason"] == "drain"
    row = await home_row(pair.a.services, checkin_id)
    assert row.home_node is None and row.snapshot
    # a new room is refused on the draining node, with a code
    other = await schedule(pair.a.services, w, starts_in=timedelta(minutes=-1))
    await pass_safe_space(pair.a.client, await login(pair.a.client, "officer"), other)
    await off.send(type="join", room=other, id="new")
    err = await off.next("error")
    assert (err["code"], err["reason"]) == ("unavailable", "node.draining")
    # both rejoin on B, in their places
    await cli.send(type="join", room=checkin_id, id="back")
    assert (await cli.next("joined", wait_s=10, ref="back"))["state"] == "admitted"
    await off.close()
    off2 = await peer(pair.b.client, await login(pair.b.client, "officer"))
    await off2.send(type="join", room=checkin_id)
    assert (await off2.next("joined", wait_s=10))["participant"] == joined["participant"]
    assert (await home_row(pair.b.services, checkin_id)).home_node == "node-b"
    await off2.close()
    await cli.close()


async def test_everybody_back_at_once_after_a_drain_shares_one_restored_room(nodes: Pair) -> None:
    pair = nodes
    w = await build(pair.a.services)
    checkin_id = await schedule(pair.a.services, w)
    off, cli, joined, admitted = await call_across(pair, w, checkin_id)
    await pair.a.signalling.drain()
    await cli.next("reconnect", wait_s=10)
    await off.close()
    off2 = await peer(pair.b.client, await login(pair.b.client, "officer"))
    await asyncio.gather(off2.send(type="join", room=checkin_id, id="o"), cli.send(type="join", room=checkin_id,
                                                                                 id="c"))
    back = [await off2.next("joined", wait_s=10, ref="o"), await cli.next("joined", wait_s=10, ref="c")]
    assert [(b["state"], b["participant"]) for b in back] == [("admitted", joined["participant"]),
                                                              ("admitted", admitted["participant"])]
    assert len(pair.b.signalling.rooms) == 1
    await off2.close()
    await cli.close()


async def test_when_a_participants_node_dies_the_home_drops_them_and_the_grace_period_runs(nodes: Pair) -> None:
    pair = nodes
    w = await build(pair.a.services)
    checkin_id = await schedule(pair.a.services, w)
    off, cli, _, admitted = await call_across(pair, w, checkin_id)
    await pair.b.router.stop()  # node B dies: nobody listens on its channel any more
    left = await off.next("peer_left", wait_s=15)
    assert (left["participant"], left["reason"]) == (admitted["participant"], "dropped")
    assert not pair.a.router.remotes
    pair.clock.advance(31)  # the grace period runs out: gone, a technical interruption
    assert (await off.next("peer_left", wait_s=10))["reason"] == "gone"
    await off.close()
    await cli.close()
