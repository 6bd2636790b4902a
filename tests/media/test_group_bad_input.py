"""Bad input to a live group session through the real /ws gateway and the node's SFU (issue 14,
"Bad input"), with aiortc bots on loopback. Covered elsewhere: a participant's control frames
(``not_facilitator``) and frames for a session one is not in (``not_in_room``) in
test_group_ws.py; a forged breakout room (``not_found``) and a participant's breakout controls
in test_group_breakouts.py. Here: sixteen participants joining a session of fifteen (the
sixteenth is refused with its rule, the fifteen and another live session untouched, and a place
freed is taken), and floods of offers and of ICE candidates: coded errors, a flooding
connection cut off, the other session's media flowing throughout."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from server.groups.protocol import MAX_OFFER
from server.groups.sessions import NewSession
from server.web.gateway import CLOSE_FLOODING
from server.web.ws_group import GROUP_LIVE
from tests.helpers.peers import until
from tests.helpers.sfubots import Bot
from tests.helpers.world import PASSWORD, World, login
from tests.media.test_group_ws import Member, a_session, live_app, member

__all__ = ["live_app"]


async def running_pair(client: Any, services: Any, w: World) -> tuple[str, Member, Member]:
    """Another session, live: the facilitator and Ann exchanging video through the SFU."""
    sid = await a_session(services, w)
    fac = await member(client, "facilitator")
    ann = await member(client, "client")
    await fac.join(sid)
    await fac.answered()
    await ann.join(sid)
    await until(lambda: any(f["type"] == "group.state" and ann.participant in [
        s["participant"] for s in f.get("lobby") or ()] for f in fac.seen), within_s=5, what="Ann in the lobby")
    await fac.send(type="group.admit", session=sid, participant=ann.participant)
    await ann.answered()
    await flowing(fac, ann, what="the other session's video")
    return sid, fac, ann


async def flowing(a: Member, b: Member, *, what: str, more: int = 10) -> None:
    """Both bots decode more of each other's video than they had."""
    start_a, start_b = a.bot.decoded_from(b.participant), b.bot.decoded_from(a.participant)
    await until(lambda: a.bot.decoded_from(b.participant) >= start_a + more
                and b.bot.decoded_from(a.participant) >= start_b + more, within_s=60, what=what)


async def lobby_member(client: Any, username: str) -> Member:
    """A participant whose offer is real but who never needs media (waits in the lobby)."""
    headers = await login(client, username)
    ws = await client.ws_connect("/ws", headers=headers)
    await ws.send_json({"type": "hello"})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    return Member(username, ws, Bot(username, audio_slots=1, video_slots=1, video=False), http=(client, headers))


@pytest.mark.timeout(240)
async def test_the_sixteenth_of_a_session_of_fifteen_is_refused_and_nothing_else_moves(live_app: Any) -> None:
    client, services, w = live_app
    live = client.app[GROUP_LIVE]
    assert live.seats == 16  # the SFU's seats: fifteen participants and a facilitator
    # A cohort of sixteen (the admin allows one more than a live session holds).
    admin = await login(client, "admin")
    rules = (await (await client.get("/api/policies", headers=admin)).json())["rules"]
    config = next(r["config"] for r in rules if r["rule_id"] == "group_rules")
    config["max_participants"] = 16
    resp = await client.put("/api/policies/group_rules", headers=admin,
                            json={"config": config, "reason": "test: a cohort one larger than a live session"})
    assert resp.status == 200, await resp.text()
    fac_actor = w.actor("facilitator")
    cohort_id = await services.groups.create_cohort(fac_actor, name="Sixteen", programme="Thinking Skills")
    names = [f"p{i:02d}" for i in range(16)]
    for name in names:
        made = await services.cases.create_case(w.actor("senior"), client_username=name,
                                                client_display_name=name.upper(), officer_id=w.users["officer"],
                                                password=PASSWORD)
        await services.groups.enrol(fac_actor, cohort_id, made.case_id)
    start = services.clock.now() + timedelta(minutes=5)
    full = (await services.group_sessions.schedule(fac_actor, cohort_id, NewSession(
        start, start + timedelta(hours=1))))[0].id

    people: list[Member] = []
    try:
        other, fac, ann = await running_pair(client, services, w)
        people += [fac, ann]
        before = set(live.live[other].session.people)
        joiners = [await lobby_member(client, name) for name in names]
        people += joiners
        for i, m in enumerate(joiners[:15]):
            await m.send(type="group.join", session=full, sdp=await m.bot.offer(), id=f"j{i}")
            joined = await m.next("group.joined")
            assert joined["state"] == "waiting", joined
            m.participant = joined["participant"]
        last = joiners[15]
        await last.send(type="group.join", session=full, sdp=await last.bot.offer(), id="j15")
        refused = await last.next("error", ref="j15")
        assert (refused["code"], refused["rule_id"]) == ("join_refused", "group_rules"), refused
        assert "15" in refused["message"]

        # The fifteen wait as they were; the other session's people and media are untouched.
        session = live.live[full].session
        waiting = {p.user_id for p in session.people.values() if p.place.value == "waiting"}
        assert len(waiting) == 15 and len(session.people) == 15
        assert not any(f["type"] == "error" for m in joiners[:15] for f in m.seen)
        assert set(live.live[other].session.people) == before
        await flowing(fac, ann, what="the other session's video after the refusal")

        # A place freed is a place taken: one leaves, the sixteenth comes in.
        await joiners[0].send(type="group.leave", session=full)
        await joiners[0].next("group.notice", kind="left")
        await last.send(type="group.join", session=full, sdp=await last.bot.offer(), id="j15b")
        assert (await last.next("group.joined"))["state"] == "waiting"
    finally:
        for m in people:
            await m.close()


def stuffed_offer(sdp: str, count: int) -> str:
    """A real offer with ``count`` extra host candidates on its first m-line (a candidate flood)."""
    head, sep, rest = sdp.partition("a=mid:")
    lines = "".join(f"a=candidate:{9000 + i} 1 udp 2130706431 127.0.0.1 {20000 + i} typ host\r\n"
                    for i in range(count))
    return head + lines + sep + rest


@pytest.mark.timeout(240)
async def test_offer_and_candidate_floods_get_coded_errors_and_leave_the_others_untouched(live_app: Any) -> None:
    client, services, w = live_app
    live = client.app[GROUP_LIVE]
    people: list[Member] = []
    try:
        sid, fac, ann = await running_pair(client, services, w)
        people += [fac, ann]

        # An offer larger than the SFU reads: refused as the frame is decoded, the connection stays.
        bob = await member(client, "client_same")
        people.append(bob)
        await bob.send(type="group.join", session=sid, sdp="v=0\r\n" + "x" * MAX_OFFER, id="big")
        assert (await bob.next("error"))["code"] == "invalid_frame"
        assert not bob.ws.closed and sid in live.live and len(live.live[sid].session.people) == 2
        # A frame beyond anything the socket accepts ends that connection (1009), and only that one.
        huge = await member(client, "client_same")
        people.append(huge)
        await huge.send(type="group.join", session=sid, sdp="x" * (2 * MAX_OFFER), id="huge")
        await until(lambda: huge.ws.closed, within_s=10, what="the oversized frame's connection to close")
        assert huge.ws.close_code == 1009

        # A candidate flood inside an offer: refused by the SFU with its limit once admitted.
        await bob.send(type="group.join", session=sid, sdp=stuffed_offer(await bob.bot.offer(), 200), id="cands")
        joined = await bob.next("group.joined")
        bob.participant = joined["participant"]
        await fac.send(type="group.admit", session=sid, participant=bob.participant)
        refused = await bob.next("error", within_s=20)
        assert refused["code"] == "limit_exceeded", refused
        assert bob.participant not in live.sfu.sessions[sid].participants
        await flowing(fac, ann, what="the session's video after the candidate flood")

        # An offer flood: frames over the budget are refused rate_limited; a connection that keeps
        # going is cut off. The lobby holds Bob once; the others' media flows on.
        flooder = await member(client, "client_same")
        people.append(flooder)
        junk = "v=0 " + "x" * 25_000  # a large offer that is no SDP, well inside the frame limit
        with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):  # cut off mid-flood
            for i in range(200):
                await flooder.send(type="group.join", session=sid, sdp=junk, id=f"f{i}")
        await until(lambda: flooder.ws.closed, within_s=20, what="the flooding connection to be cut off")
        codes = {f.get("code") for f in flooder.seen if f["type"] == "error"}
        assert "rate_limited" in codes, codes
        assert flooder.ws.close_code == CLOSE_FLOODING
        assert sum(1 for p in live.live[sid].session.people.values() if p.user_id == w.users["client_same"]) == 1
        await flowing(fac, ann, what="the session's video after the offer flood")
        await asyncio.sleep(0)
    finally:
        for m in people:
            await m.close()
