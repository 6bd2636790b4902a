"""Two first joins of a group session at once on the node taking it over (issue 15; found by
tests/deploy/test_cluster_group.py, where both people of a drained session came back through the
same node within a few milliseconds): only the first claim brings the snapshot (the second finds
the lease already this node's), so the second must wait for the first to host the session, not
host it afresh, which would put a participant who was admitted back in the lobby.

Forced: the first claim on node B is slow to return (the real claim, then a pause), while the
second join is already on its way. On SQLite and PostgreSQL, two real nodes and a real Redis
(tests/integration/test_group_cluster.py's ``nodes``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.signalling.homes import Claim
from tests.helpers.room_nodes import Pair, home_row
from tests.helpers.world import World, build
from tests.integration.test_group_cluster import admitted_across, decoding, rejoin, through
from tests.integration.test_group_cluster import nodes as nodes  # the fixture
from tests.media.test_group_ws import Member, a_session

pytestmark = [pytest.mark.redis, pytest.mark.timeout(180)]


async def test_two_joins_at_once_on_the_node_taking_a_session_over_both_resume(
        nodes: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    pair = nodes
    w: World = await build(pair.a.services)
    sid = await a_session(pair.a.services, w)
    people: list[Member] = []
    try:
        fac, ann = await admitted_across(pair, sid, people)
        await pair.a.signalling.drain()  # released with its snapshot: both told to reconnect
        for who in (fac, ann):
            assert (await who.next("reconnect", within_s=10))["reason"] == "drain"

        homing = pair.b.group_live.homing
        real = homing.claim
        claims: list[Claim] = []

        async def slow_first(session_id: str) -> Any:
            claim = await real(session_id)
            claims.append(claim)
            if len(claims) == 1:
                await asyncio.sleep(0.5)  # the second join arrives meanwhile
            return claim
        monkeypatch.setattr(homing, "claim", slow_first)

        await fac.bot.close()
        fac2 = await through(pair.b, fac, sid, people)  # its socket closed with the drain: back through B
        fac_back, ann_back = await asyncio.gather(rejoin(fac2, sid), rejoin(ann, sid))
        assert (fac_back["state"], fac_back["participant"]) == ("present", fac.participant)
        assert (ann_back["state"], ann_back["participant"]) == ("present", ann.participant)  # not the lobby
        assert claims and claims[0].snapshot, claims  # the session taken over, with its snapshot
        row = await home_row(pair.b.services, sid)
        assert (row.home_node, row.epoch) == ("node-b", 2)
        await fac2.answered()
        await ann.answered()
        await decoding([fac2, ann])
    finally:
        for m in people:
            await m.close()
