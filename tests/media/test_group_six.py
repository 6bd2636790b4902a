"""Six aiortc bots in one live group session through the real /ws signalling and the SFU
(issue 14): a facilitator and five participants, last-N 3 set in policy. Each bot decodes the
video of exactly the publishers its last-N slots carry, and what it receives is what they
sent (forwarded, never transcoded); a facilitator's mute stops that participant's audio at
every other bot within 500 ms; a removed participant is disconnected and refused on
rejoin; bots in breakout A receive nothing from breakout B. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from server.groups.sessions import NewSession
from server.web.ws_group import GROUP_LIVE
from tests.helpers.peers import until
from tests.helpers.safe_space import pass_group_safe_space
from tests.helpers.sfubots import Bot
from tests.helpers.world import PASSWORD, login
from tests.media.test_group_breakouts import Tone, got, last_state, own
from tests.media.test_group_ws import Member, audio_times, live_app

__all__ = ["live_app"]

LAST_N = 3
PARTICIPANTS = 5


async def six(client: Any, username: str, hz: float) -> Member:
    headers = await login(client, username)
    ws = await client.ws_connect("/ws", headers=headers)
    await ws.send_json({"type": "hello"})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    bot = Bot(username, audio_slots=PARTICIPANTS + 1, video_slots=LAST_N)
    bot.audio_sender.replaceTrack(Tone(hz))
    return Member(username, ws, bot)


def video_publishers(m: Member) -> set[str]:
    return {pub for mid, pub in m.bot.slots.items() if pub is not None and m.bot.kind_of.get(mid) == "video"}


@pytest.mark.timeout(240)
async def test_six_bots_last_n_forwarding_mute_removal_and_breakouts(live_app: Any) -> None:
    client, services, w = live_app
    live = client.app[GROUP_LIVE]
    admin = await login(client, "admin")
    rules = (await (await client.get("/api/policies", headers=admin)).json())["rules"]
    config = next(r["config"] for r in rules if r["rule_id"] == "group_rules")
    resp = await client.put("/api/policies/group_rules", headers=admin,
                            json={"config": {**config, "last_n": LAST_N}, "reason": "test: last-N 3"})
    assert resp.status == 200, await resp.text()
    fac_actor = w.actor("facilitator")
    cohort_id = await services.groups.create_cohort(fac_actor, name="Six", programme="Thinking Skills")
    names = [f"six{i}" for i in range(PARTICIPANTS)]
    for name in names:
        made = await services.cases.create_case(w.actor("senior"), client_username=name,
                                                client_display_name=name.title(), officer_id=w.users["officer"],
                                                password=PASSWORD)
        await services.groups.enrol(fac_actor, cohort_id, made.case_id)
    start = services.clock.now() + timedelta(minutes=5)
    sid = (await services.group_sessions.schedule(fac_actor, cohort_id, NewSession(
        start, start + timedelta(hours=1))))[0].id

    # Everyone answers the safe-space check through its route before anyone joins, so the
    # joins below follow one another as closely as the last-N checks expect.
    for username in ("facilitator", *names):
        assert await pass_group_safe_space(client, await login(client, username), sid)

    people: list[Member] = []
    loop = asyncio.get_running_loop()
    try:
        fac = await six(client, "facilitator", 300)
        people.append(fac)
        assert (await fac.join(sid))["state"] == "present"
        await fac.answered()
        for i, name in enumerate(names):
            m = await six(client, name, 350 + 60 * i)
            people.append(m)
            assert (await m.join(sid))["state"] == "waiting"
            await until(lambda m=m: any(  # type: ignore[misc]
                f["type"] == "group.state" and m.participant in [s["participant"] for s in f.get("lobby") or ()]
                for f in fac.seen), within_s=5, what=f"{m.name} in the lobby")
            await fac.send(type="group.admit", session=sid, participant=m.participant)
            await m.answered()
        assert live.live[sid].session.last_n == LAST_N

        # Last-N: each bot's three video slots carry three others, whose video it decodes, and
        # every payload it got from them is one they sent.
        await until(lambda: all(len(video_publishers(m)) == LAST_N for m in people), within_s=30,
                    what="every bot's video slots filled")
        await until(lambda: all(m.bot.decoded_from(p) >= 10 for m in people for p in video_publishers(m)),
                    within_s=90, what="every bot decoding the video its last-N slots carry")
        by_id = {m.participant: m for m in people}
        for m in people:
            shown = video_publishers(m)
            assert m.participant not in shown and len(shown) == LAST_N
            for pid in shown:
                publisher = by_id[pid]
                got_video = [h for mid in m.bot.mids_of(pid, "video") for h in m.bot.received[mid].hashes]
                assert got_video and set(got_video) <= publisher.bot.sent["video"], (m.name, pid)

        # Mute: the first participant's audio stops at all five others within 500 ms.
        muted = people[1]
        listeners = [m for m in people if m is not muted]
        await until(lambda: all(len(audio_times(m.bot, muted.participant)) >= 25 for m in listeners),
                    within_s=30, what="the participant's audio at every other bot")
        muted_at = loop.time()
        await fac.send(type="group.mute", session=sid, participant=muted.participant)
        await muted.next("group.notice", kind="muted")
        await asyncio.sleep(1.5)
        for m in listeners:
            assert max(audio_times(m.bot, muted.participant)) - muted_at < 0.5, f"still heard at {m.name}"

        # Removal: disconnected from the SFU, and a rejoin is refused with its rule.
        removed = people[2]
        await fac.send(type="group.remove", session=sid, participant=removed.participant)
        await removed.next("group.notice", kind="removed")
        await until(lambda: removed.participant not in live.sfu.sessions[sid].participants, within_s=5,
                    what="the removed participant out of the SFU")
        again = Bot(f"{removed.name}-again", audio_slots=2, video_slots=2)
        try:
            await removed.send(type="group.join", session=sid, sdp=await again.offer(), id="rejoin")
            refused = await removed.next("error", ref="rejoin")
            assert (refused["code"], refused["rule_id"]) == ("join_refused", "session_controls")
        finally:
            await again.close()

        # Breakouts: two participants in A, two in B; A receives nothing of B, nor B of A.
        a_room, b_room = people[1:2] + people[3:4], people[4:6]
        await fac.send(type="group.breakouts", session=sid, minutes=10, rooms=[
            {"name": "A", "participants": [m.participant for m in a_room]},
            {"name": "B", "participants": [m.participant for m in b_room]}])
        await until(lambda: last_state(fac)["rooms"] == "breakouts", within_s=5, what="the breakouts")
        split = loop.time()
        everyone = [m for m in people if m is not removed]

        def theirs(group: list[Member]) -> set[bytes]:
            return set().union(*(own(m, [x for x in everyone if x is not m]) for m in group))

        await until(lambda: got(b_room[0], theirs(b_room[1:]), after=split, kind="video") >= 10, within_s=30,
                    what="media inside breakout B")
        settled = split + 0.5  # packets in flight when the rooms changed
        await asyncio.sleep(2.0)
        for m in a_room:
            assert got(m, theirs(b_room), after=settled) == 0, f"{m.name} in A got B's media"
        for m in b_room:
            assert got(m, theirs(a_room), after=settled) == 0, f"{m.name} in B got A's media"
    finally:
        for m in people:
            await m.close()
