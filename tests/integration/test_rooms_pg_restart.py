"""PostgreSQL restarted mid-call (issue 15, "Bad input and faults").

A private PostgreSQL cluster (tests/helpers/private_pg.py), two real nodes on it and a private
Redis; an officer on node A (the room's home) and a client on node B, in a live check-in. The
database is restarted (``pg_ctl stop -m fast``: every open connection cut, then started again).
The room lives on: its lease renewals fail while the database is down and recover after (and
the lease is judged live from the moment the database is back, even when it was down longer than
a lease: server/store/db_time.py ``lease_end``), the
room is neither taken over nor ended, signalling frames flow throughout, and a message sent
after the restart is stored and acknowledged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from server.signalling.homes import RoomHomes
from server.store.migrate import upgrade_async
from tests.helpers.checkins import Peer, ready, schedule, view
from tests.helpers.nodes import RedisServer
from tests.helpers.private_pg import PrivatePostgres
from tests.helpers.room_nodes import Node, close_nodes, home_row, start_node, wait_for_buses
from tests.helpers.world import World, build, login

pytestmark = [pytest.mark.redis]
LEASE_S = 3
RENEWALS_FAILED = "tandem_room_lease_renewals_failed_total"


@dataclass
class Stack:
    pg: PrivatePostgres
    a: Node
    b: Node


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    pg = PrivatePostgres()
    redis: RedisServer | None = None
    made: list[Node] = []
    try:
        pg.start()
        url = pg.createdb("tandem")
        await upgrade_async(url)
        redis = RedisServer(tmp_path / "redis")
        redis.start()
        for name in ("a", "b"):
            made.append(await start_node(url, tmp_path / name, name=name, redis_url=redis.url,
                                         lease_s=float(LEASE_S), bus_prefix="pgr:"))
        await wait_for_buses(made)
        yield Stack(pg, made[0], made[1])
    finally:
        await close_nodes(made)
        if redis is not None:
            redis.stop()
        pg.destroy()


async def exchange(off: Peer, cli: Peer, room: str, officer_p: str, client_p: str, tag: str) -> None:
    """An offer from the client (node B) to the officer (node A, the home) and the answer back."""
    await cli.send(type="offer", room=room, to=officer_p, sdp=f"v=0\r\n{tag}\r\n")
    assert (await off.next("offer", wait_s=10))["sdp"] == f"v=0\r\n{tag}\r\n"
    await off.send(type="answer", room=room, to=client_p, sdp=f"v=0\r\n{tag}\r\n")
    assert (await cli.next("answer", wait_s=10))["sdp"] == f"v=0\r\n{tag}\r\n"


async def send_message(client: Any, ws: Peer, w: World, mid: str, body: str) -> dict[str, Any]:
    conversations = (await (await client.get("/api/conversations", headers=await login(client, "officer"))).json())
    conv = next(c for c in conversations["conversations"] if c["case_id"] == w.cases["own"])
    await ws.send(type="send", id=mid, conversation_id=conv["id"], body=body)
    ack = await ws.next("ack", wait_s=15, id=mid)
    assert ack["conversation_id"] == conv["id"] and ack["seq"] >= 1
    return ack


@pytest.mark.parametrize("down_s", [1.5, LEASE_S + 1.0], ids=["down-half-a-lease", "down-longer-than-a-lease"])
async def test_a_postgresql_restart_mid_call_leaves_the_room_live(stack: Stack, down_s: float) -> None:
    a, b = stack.a, stack.b
    w = await build(a.services)
    checkin_id = await schedule(a.services, w)
    _, off = await ready(a.client, "officer", checkin_id)
    _, cli = await ready(b.client, "client", checkin_id)
    await off.send(type="join", room=checkin_id)
    officer_p = (await off.next("joined"))["participant"]
    await cli.send(type="join", room=checkin_id, id="j")
    waiting = await cli.next("joined", wait_s=10, ref="j")
    await off.send(type="admit", room=checkin_id, participant=waiting["participant"])
    await cli.next("admitted", wait_s=10)
    client_p = waiting["participant"]
    await exchange(off, cli, checkin_id, officer_p, client_p, "before")
    before = await send_message(a.client, off, w, "m-before", "before the restart")
    assert (await home_row(a.services, checkin_id)).home_node == "node-a"
    failed_before = a.services.metrics.get_sample_value(RENEWALS_FAILED) or 0.0

    # the restart, in a thread: the nodes' loops run on through it
    restart = asyncio.create_task(asyncio.to_thread(stack.pg.restart, down_s))
    await asyncio.sleep(0.3)
    i = 0
    # a message sent while the database is down is refused with a code, not lost silently
    conv_id = before["conversation_id"]
    await off.send(type="send", id="m-during", conversation_id=conv_id, body="while it was down")
    refused = await off.next("error", wait_s=15, ref="m-during")
    assert refused["code"] == "unavailable"
    while not restart.done():  # signalling needs no database: frames flow while it is down
        await exchange(off, cli, checkin_id, officer_p, client_p, f"down-{i}")
        i += 1
        await asyncio.sleep(0.3)
    await restart
    assert i >= 2, "the database came back before any frame was sent while it was down"
    back = time.monotonic()
    # from the moment the database is back, every node judges the lease live (a restart longer
    # than a lease does not hand the room to whichever node looks first) and a claim loses
    other = RoomHomes(b.services.store, "node-b", lease_s=LEASE_S)
    seen = []
    while time.monotonic() - back < 2.0:
        row = await b.router.homes.home(checkin_id)
        assert row is not None
        seen.append((round(time.monotonic() - back, 2), row.home_node, row.live))
        await asyncio.sleep(0.05)
    assert all(home == "node-a" and live for _, home, live in seen), seen
    claim = await other.claim(checkin_id)
    assert (claim.won, claim.home) == (False, "node-a")

    # renewals failed while it was down, and recover: the lease is the home's, renewed after
    assert (a.services.metrics.get_sample_value(RENEWALS_FAILED) or 0.0) > failed_before
    await asyncio.sleep(2 * LEASE_S)
    failed_after = a.services.metrics.get_sample_value(RENEWALS_FAILED)
    await asyncio.sleep(LEASE_S)
    assert a.services.metrics.get_sample_value(RENEWALS_FAILED) == failed_after  # renewing again
    row = await home_row(b.services, checkin_id)
    assert (row.home_node, row.epoch) == ("node-a", 1)
    assert checkin_id in a.signalling.rooms and checkin_id not in b.signalling.rooms
    for n in (a, b):
        assert n.services.metrics.get_sample_value("tandem_rooms_taken_over_total") == 0.0
    for p in (off, cli):
        assert not [f for f in p.seen if f.get("type") in ("reconnect", "ended", "peer_left")], p.seen
    await exchange(off, cli, checkin_id, officer_p, client_p, "after")

    # the refused message, sent again with its id (as the client does), and a new one: stored
    # and acknowledged, once each, in order
    resent = await send_message(a.client, off, w, "m-during", "while it was down")
    after = await send_message(a.client, off, w, "m-after", "after the restart")
    assert (resent["seq"], after["seq"]) == (before["seq"] + 1, before["seq"] + 2)
    client_h = await login(b.client, "client")
    convs = (await (await b.client.get("/api/conversations", headers=client_h)).json())["conversations"]
    conv = next(c for c in convs if c["id"] == after["conversation_id"])
    page = await (await b.client.get(f"/api/conversations/{conv['id']}/messages", headers=client_h)).json()
    assert [m["body"] for m in page["messages"]][-3:] == ["before the restart", "while it was down",
                                                         "after the restart"]
    detail = await view(a.client, checkin_id)
    assert detail["state"] == "in_call" and detail["evidence"]["dropped"] is False
    assert time.monotonic() - back < 60
    await off.close()
    await cli.close()
