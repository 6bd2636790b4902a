"""A node's clock 2 minutes off (issue 15, "Bad input and faults"): room leases are granted,
renewed and judged in the database's time, never a node's (server/store/db_time.py).

Two real nodes (two ``create_app``) on one database (SQLite and PostgreSQL) and a private Redis,
their clocks 120 s apart, an officer on node A (the room's home) and a client on node B:

(a) a node whose clock is ahead of the home's cannot take the live room: the client's join goes to
    the home, the lease is renewed and stays with it over several lease lengths, frames flow;
(b) a node whose clock is behind the dead home's does not keep the room waiting: once the home
    stops renewing, the room is taken over within a lease length (not two minutes later).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.signalling.homes import RoomHomes
from tests.helpers.checkins import Peer, peer, ready, schedule, view
from tests.helpers.nodes import RedisServer
from tests.helpers.room_nodes import Node, close_nodes, home_row, start_node, wait_for_buses
from tests.helpers.world import build, login

pytestmark = [pytest.mark.redis]
LEASE_S = 3
SKEW = timedelta(minutes=2)


@dataclass
class Pair:
    a: Node
    b: Node


class SkewedClock:
    """The machine's clock, off by ``offset`` as a node's would be without NTP."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic()


MakePair = Callable[[timedelta, timedelta], Awaitable[Pair]]


@pytest.fixture
async def skewed_pair(db_url: str, tmp_path: Path) -> AsyncIterator[MakePair]:
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    made: list[Node] = []

    async def make(skew_a: timedelta, skew_b: timedelta) -> Pair:
        for name, skew in (("a", skew_a), ("b", skew_b)):
            made.append(await start_node(db_url, tmp_path / name, name=name, redis_url=redis.url,
                                         lease_s=float(LEASE_S), bus_prefix="skew:", clock=SkewedClock(skew)))
        await wait_for_buses(made)
        return Pair(made[0], made[1])

    try:
        yield make
    finally:
        await close_nodes(made)
        redis.stop()


async def officer_home_client_across(pair: Pair, checkin_id: str) -> tuple[Peer, Peer, str, str]:
    """The officer joins on node A (the home), the client on node B; admitted. Fails (a timeout on
    the officer's lobby) if node B judged A's lease lapsed and took the room for itself."""
    _, off = await ready(pair.a.client, "officer", checkin_id)
    _, cli = await ready(pair.b.client, "client", checkin_id)
    await off.send(type="join", room=checkin_id)
    officer_p = (await off.next("joined"))["participant"]
    await cli.send(type="join", room=checkin_id, id="j")
    waiting = await cli.next("joined", wait_s=10, ref="j")
    assert waiting["state"] == "waiting"
    lobby = await off.next("lobby", wait_s=10)
    while not lobby["waiting"]:
        lobby = await off.next("lobby", wait_s=10)
    await off.send(type="admit", room=checkin_id, participant=waiting["participant"])
    await cli.next("admitted", wait_s=10)
    return off, cli, officer_p, waiting["participant"]


@pytest.mark.parametrize(("skew_a", "skew_b"), [(timedelta(0), SKEW), (-SKEW, timedelta(0))],
                         ids=["other-node-2-min-fast", "home-2-min-slow"])
async def test_a_node_whose_clock_is_ahead_cannot_take_a_live_room(
        skewed_pair: MakePair, skew_a: timedelta, skew_b: timedelta) -> None:
    pair = await skewed_pair(skew_a, skew_b)
    w = await build(pair.a.services)
    checkin_id = await schedule(pair.a.services, w)
    off, cli, officer_p, client_p = await officer_home_client_across(pair, checkin_id)
    row = await home_row(pair.a.services, checkin_id)
    assert (row.home_node, row.epoch) == ("node-a", 1)
    assert checkin_id not in pair.b.signalling.rooms

    # three lease lengths: the home renews, nobody takes the room, frames keep flowing
    for i in range(3):
        await asyncio.sleep(LEASE_S)
        await cli.send(type="offer", room=checkin_id, to=officer_p, sdp=f"v=0\r\n{i}\r\n")
        assert (await off.next("offer", wait_s=10))["sdp"] == f"v=0\r\n{i}\r\n"
        await off.send(type="answer", room=checkin_id, to=client_p, sdp=f"v=0\r\n{i}\r\n")
        assert (await cli.next("answer", wait_s=10))["sdp"] == f"v=0\r\n{i}\r\n"
        row = await home_row(pair.b.services, checkin_id)
        assert (row.home_node, row.epoch) == ("node-a", 1)
    # a direct claim from the fast node loses too
    claim = await RoomHomes(pair.b.services.store, "node-b", lease_s=LEASE_S).claim(checkin_id)
    assert (claim.won, claim.home) == (False, "node-a")
    assert not [f for f in cli.seen if f.get("type") == "reconnect"]
    assert pair.b.services.metrics.get_sample_value("tandem_rooms_taken_over_total") == 0.0
    assert (await view(pair.a.client, checkin_id))["state"] == "in_call"
    await off.close()
    await cli.close()


@pytest.mark.parametrize(("skew_a", "skew_b"), [(timedelta(0), -SKEW), (SKEW, timedelta(0))],
                         ids=["other-node-2-min-slow", "home-2-min-fast"])
async def test_a_node_whose_clock_is_behind_does_not_keep_a_dead_room(
        skewed_pair: MakePair, skew_a: timedelta, skew_b: timedelta) -> None:
    pair = await skewed_pair(skew_a, skew_b)
    w = await build(pair.a.services)
    checkin_id = await schedule(pair.a.services, w)
    off, cli, _, client_p = await officer_home_client_across(pair, checkin_id)
    # node A dies: no renewals, no bus, its connections gone
    pair.a.signalling.draining = True
    await pair.a.router.stop()
    await off.close()
    died = time.monotonic()
    reconnect = await cli.next("reconnect", wait_s=LEASE_S + 10)  # not 120 s later
    assert reconnect["reason"] == "takeover"
    assert time.monotonic() - died < LEASE_S + 5
    await cli.send(type="join", room=checkin_id, id="again")
    back = await cli.next("joined", wait_s=10, ref="again")
    assert (back["state"], back["participant"]) == ("admitted", client_p)
    row = await home_row(pair.b.services, checkin_id)
    assert (row.home_node, row.epoch) == ("node-b", 2)
    off2 = await peer(pair.b.client, await login(pair.b.client, "officer"))
    await off2.send(type="join", room=checkin_id)
    assert (await off2.next("joined", wait_s=10))["state"] == "admitted"
    await off2.close()
    await cli.close()
