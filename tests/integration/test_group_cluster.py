"""Group sessions on any node (issue 15): two real nodes (two ``create_app``) on one database and
a real Redis, each with its own SFU on 127.0.0.1; the facilitator on node A and a participant on
node B as aiortc bots (tests/helpers/sfubots.py).

(a) The session is homed on the node of its first join (``room_homes`` kind ``group``), the
    participant's frames travel there over the bus and back: lobby, admit, mute, media decoded
    both ways through the home's SFU; refusals (``not_facilitator``, another office's
    ``not_found``) carry the same codes across nodes; the row goes when the session is over.
(b) The home dies (no renewals, no bus, its sockets gone): node B tells its participant to
    reconnect once the lease lapses, the first rejoin takes the session over from its snapshot
    and both people resume their places with new offers (nobody in the lobby again, no
    safe-space answers again), media flows again; a removed person is still refused and the
    lock holds; the register has the interruption and nobody is suggested absent.
(c) A drain (SIGTERM): no new session on the draining node, the session released with its
    snapshot, everyone told ``reconnect`` (``drain``), its media closed; rejoined on the other node.
(d) A home that was paused past its lease finds the session taken at its next renewal: everyone
    in it (on either node) is told ``reconnect`` (``takeover``) and its media there is closed.
On SQLite and PostgreSQL (the lease and the evidence are stored).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from server.groups import session_store
from server.groups.register import RESUMED
from server.media.ice import pin_host_addresses
from tests.helpers.peers import until
from tests.helpers.room_nodes import Node, Pair, home_row, node_pair
from tests.helpers.sfubots import Bot
from tests.helpers.world import World, add_office_b, build
from tests.media.conftest import LOOPBACK
from tests.media.test_group_ws import Member, a_session, audio_times, member

pytestmark = [pytest.mark.redis, pytest.mark.timeout(180)]
LEASE_S = 3


@pytest.fixture
async def nodes(db_url: str, tmp_path: Path) -> AsyncIterator[Pair]:
    pin_host_addresses(LOOPBACK)
    try:
        async with node_pair(db_url, tmp_path, lease_s=float(LEASE_S), bus_prefix="groups:",
                             media_host_addresses=LOOPBACK, sfu_capacity=1000) as pair:
            yield pair
    finally:
        pin_host_addresses(())


async def admitted_across(pair: Pair, sid: str, people: list[Member]) -> tuple[Member, Member]:
    """The facilitator joins on node A (the session's home), Ann on node B: lobby, admitted, answered."""
    fac = await member(pair.a.client, "facilitator")
    people.append(fac)
    ann = await member(pair.b.client, "client")
    people.append(ann)
    assert (await fac.join(sid))["state"] == "present"
    await fac.answered()
    joined = await ann.join(sid)
    assert joined["state"] == "waiting" and joined["role"] == "participant" and joined["ref"] == "join-client"
    await until(lambda: any(f["type"] == "group.state" and ann.participant in [
        s["participant"] for s in f.get("lobby") or ()] for f in fac.seen), within_s=10,
        what="the facilitator to see Ann in the lobby")
    await fac.send(type="group.admit", session=sid, participant=ann.participant)
    await ann.next("group.notice", kind="admitted")
    await ann.answered()
    return fac, ann


async def decoding(pair: list[Member], frames: int = 10) -> None:
    x, y = pair
    await until(lambda: x.bot.decoded_from(y.participant) >= frames and y.bot.decoded_from(x.participant) >= frames,
                within_s=60, what="both bots decoding each other's video")


async def test_a_group_session_homed_on_one_node_is_joined_and_run_from_another(nodes: Pair) -> None:
    pair = nodes
    w: World = await build(pair.a.services)
    await add_office_b(pair.a.services, w)
    sid = await a_session(pair.a.services, w)
    people: list[Member] = []
    try:
        fac, ann = await admitted_across(pair, sid, people)
        row = await home_row(pair.a.services, sid)
        assert (row.home_node, row.kind, row.epoch) == ("node-a", "group", 1)
        assert sid in pair.a.group_live.live and sid not in pair.b.group_live.live
        assert sid in pair.a.group_live.sfu.sessions and sid not in pair.b.group_live.sfu.sessions
        async with pair.a.services.store.read("test") as conn:
            assert (await session_store.session(conn, sid)).home_node == "node-a"
        pair.clock.advance(timedelta(minutes=10))
        await decoding([fac, ann])

        # the same coded refusals across nodes, with the frame's id
        await ann.send(type="group.mute", session=sid, participant=fac.participant, id="m1")
        assert (await ann.next("error", ref="m1"))["code"] == "not_facilitator"
        await ann.send(type="group.lock", session=sid, id="l1")
        assert (await ann.next("error", ref="l1"))["code"] == "not_facilitator"
        stranger = await member(pair.b.client, "facilitator_b")
        people.append(stranger)
        await stranger.send(type="group.join", session=sid, sdp="v=0\r\n", id="j-b")
        assert (await stranger.next("error", ref="j-b"))["code"] == "not_found"
        on_a = await member(pair.a.client, "facilitator_b")  # the same answer on the home node
        people.append(on_a)
        await on_a.send(type="group.join", session=sid, sdp="v=0\r\n", id="j-a")
        assert (await on_a.next("error", ref="j-a"))["code"] == "not_found"

        # the facilitator mutes Ann (on the other node): her audio stops at the facilitator
        await until(lambda: len(audio_times(fac.bot, ann.participant)) >= 25, within_s=20, what="Ann heard")
        muted_at = asyncio.get_running_loop().time()
        await fac.send(type="group.mute", session=sid, participant=ann.participant)
        assert (await ann.next("group.notice", kind="muted"))["by"] == fac.participant
        await asyncio.sleep(1.5)
        assert max(audio_times(fac.bot, ann.participant)) - muted_at < 0.5, "Ann is still heard"
        await ann.send(type="group.unmute", session=sid, id="u1")
        assert (await ann.next("error", ref="u1"))["code"] == "unmute_not_allowed"
        # in order: a raised hand and lowered again arrive as sent
        await ann.send(type="group.hand", session=sid)
        await until(lambda: any(f["type"] == "group.state" and f["hands"] == [ann.participant] for f in fac.seen),
                    within_s=5, what="Ann's hand at the facilitator")
        assert pair.b.router.forwarded >= 6

        # Ann's connection to node B ends: on the home she is dropped (her place kept)
        await ann.ws.close()
        await until(lambda: pair.a.group_live.live[sid].session.people[ann.participant].place.value == "dropped",
                    within_s=10, what="Ann dropped on the home node")
        await fac.send(type="group.end", session=sid)
        await fac.next("group.notice", kind="ended")
        for _ in range(100):
            if await home_row(pair.a.services, sid) is None:
                break
            await asyncio.sleep(0.05)
        assert await home_row(pair.a.services, sid) is None  # the session is over: its row goes
    finally:
        for m in people:
            await m.close()


async def rejoin(who: Member, sid: str) -> dict[str, Any]:
    """Join again with a new peer connection (as the web client does on ``reconnect``)."""
    await who.bot.close()
    who.bot = Bot(who.name, audio_slots=2, video_slots=2)
    who.bot.name = who.participant
    await who.send(type="group.join", session=sid, sdp=await who.bot.offer(), id=f"again-{who.name}")
    return await who.next("group.joined", within_s=15, ref=f"again-{who.name}")


async def through(node: Node, gone: Member, sid: str, people: list[Member]) -> Member:
    """``gone``, whose socket went with its node, connected again to ``node`` as the same person:
    the safe-space check already passed, the same participant id to come back to."""
    again = await member(node.client, gone.name)
    people.append(again)
    again.safe_for.add(sid)  # answers nothing again
    again.participant = gone.participant
    return again


async def test_the_home_node_dies_and_the_other_node_takes_the_group_session_over(nodes: Pair) -> None:
    pair = nodes
    w: World = await build(pair.a.services)
    sid = await a_session(pair.a.services, w)
    people: list[Member] = []
    try:
        fac, ann = await admitted_across(pair, sid, people)
        bob = await member(pair.b.client, "client_same")
        people.append(bob)
        await bob.join(sid)
        await fac.send(type="group.admit", session=sid, participant=bob.participant)
        await bob.next("group.notice", kind="admitted")
        pair.clock.advance(timedelta(minutes=10))
        await decoding([fac, ann])
        await fac.send(type="group.remove", session=sid, participant=bob.participant)
        await bob.next("group.notice", kind="removed")
        await fac.send(type="group.lock", session=sid)
        await until(lambda: any(f["type"] == "group.state" and f["state"] == "locked" for f in ann.seen),
                    within_s=5, what="the locked state at Ann")

        async def kept() -> bool:
            row = await home_row(pair.a.services, sid)
            return row is not None and '"locked"' in (row.snapshot or "")
        for _ in range(100):  # the home keeps the session after each change
            if await kept():
                break
            await asyncio.sleep(0.05)
        assert await kept()

        # Node A dies: no renewals, no bus; the facilitator's socket goes with it.
        pair.a.signalling.draining = True
        await pair.a.router.stop()
        await fac.ws.close()
        await fac.bot.close()  # the facilitator's client drops its peer connection to rejoin elsewhere
        pair.clock.advance(timedelta(minutes=1))
        reconnect = await ann.next("reconnect", within_s=LEASE_S + 10)
        assert reconnect == {"type": "reconnect", "room": sid, "reason": "takeover"}

        back = await rejoin(ann, sid)  # through node B, which takes the session over
        assert (back["state"], back["participant"]) == ("present", ann.participant)
        row = await home_row(pair.b.services, sid)
        assert (row.home_node, row.kind, row.epoch) == ("node-b", "group", 2)
        assert pair.b.services.metrics.get_sample_value("tandem_rooms_taken_over_total") == 1.0
        assert pair.b.services.metrics.get_sample_value("tandem_rooms_homed") == 1.0
        fac2 = await through(pair.b, fac, sid, people)  # reconnected to the surviving node
        fac_back = await rejoin(fac2, sid)
        assert (fac_back["state"], fac_back["participant"]) == ("present", fac.participant)
        await fac2.answered()
        await ann.answered()
        await decoding([fac2, ann])
        assert sid in pair.b.group_live.sfu.sessions
        state = next(f for f in reversed(ann.seen) if f["type"] == "group.state")
        assert state["state"] == "locked"

        # the removed person is still refused
        bob.participant = ""
        await bob.send(type="group.join", session=sid, sdp="v=0\r\n", id="j-bob")
        refused = await bob.next("error", ref="j-bob")
        assert (refused["code"], refused["rule_id"]) == ("join_refused", "session_controls")

        register = await pair.b.services.attendance.register(w.actor("facilitator"), sid)
        line = next(x.line for x in register.lines if x.user_id == w.users["client"])
        assert line.suggestion.value != "absent" and RESUMED in line.reasons, line
    finally:
        for m in people:
            await m.close()


async def test_a_draining_node_hands_its_group_session_over(nodes: Pair) -> None:
    pair = nodes
    w: World = await build(pair.a.services)
    sid = await a_session(pair.a.services, w)
    other = await a_session(pair.a.services, w)
    people: list[Member] = []
    try:
        fac, ann = await admitted_across(pair, sid, people)
        pair.clock.advance(timedelta(minutes=10))
        await decoding([fac, ann])
        await pair.a.signalling.drain()
        for who in (fac, ann):
            assert await who.next("reconnect", within_s=10) == {"type": "reconnect", "room": sid, "reason": "drain"}
        assert sid not in pair.a.group_live.live and sid not in pair.a.group_live.sfu.sessions
        row = await home_row(pair.a.services, sid)
        assert row.home_node is None and '"present"' in (row.snapshot or "")
        assert pair.a.services.metrics.get_sample_value("tandem_drain_rooms_left") == 0.0
        # a new session on the draining node: unavailable
        late = await member(pair.a.client, "facilitator")
        people.append(late)
        await late.send(type="group.join", session=other, sdp="v=0\r\n", id="j-new")
        err = await late.next("error", ref="j-new")
        assert (err["code"], err["reason"]) == ("unavailable", "node.draining")

        await fac.bot.close()
        fac2 = await through(pair.b, fac, sid, people)  # its socket closed with the drain: back through B
        assert (await rejoin(fac2, sid))["state"] == "present"
        assert (await rejoin(ann, sid))["state"] == "present"  # Ann was on B all along
        row = await home_row(pair.b.services, sid)
        assert (row.home_node, row.epoch) == ("node-b", 2)
        await fac2.answered()
        await ann.answered()
        await decoding([fac2, ann])
    finally:
        for m in people:
            await m.close()


async def test_a_home_that_lost_its_lease_tells_everyone_to_reconnect(nodes: Pair) -> None:
    pair = nodes
    w: World = await build(pair.a.services)
    sid = await a_session(pair.a.services, w)
    people: list[Member] = []
    try:
        fac, ann = await admitted_across(pair, sid, people)
        # Node A pauses (no renewals) past its lease; node B claims the session meanwhile.
        pair.a.signalling.draining = True
        await asyncio.sleep(LEASE_S + 0.5)
        claim = await pair.b.signalling.homes.claim(sid, kind="group")
        assert claim.won and claim.taken_over_from == "node-a" and claim.snapshot
        # A wakes: its renewal finds the session taken; everyone in it is told to reconnect.
        await pair.a.signalling.renew()
        for who in (fac, ann):
            assert await who.next("reconnect", within_s=10) == {"type": "reconnect", "room": sid,
                                                                "reason": "takeover"}
        assert sid not in pair.a.group_live.live and sid not in pair.a.group_live.sfu.sessions
    finally:
        for m in people:
            await m.close()
