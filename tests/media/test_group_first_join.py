"""The first join of a group session races the session tick (a defect found in CI): the node
used to host the session before reading the cohort's naming and recording its home node, and a
hosted session nobody has joined yet counts as over, so a tick in between closed it and its media.
The facilitator was then told "joined" in a session nobody else could reach and never got a media
answer; everyone after them started a second one. Here the tick is forced into exactly that gap."""

from __future__ import annotations

from typing import Any

import pytest

from server.web.ws_group import GROUP_LIVE
from tests.media.test_group_ws import a_session, live_app, member

__all__ = ["live_app"]


@pytest.mark.timeout(120)
async def test_a_tick_during_the_first_join_leaves_one_session(live_app: Any) -> None:
    client, services, w = live_app
    live = client.app[GROUP_LIVE]
    sid = await a_session(services, w)
    naming = live.sessions.member_naming
    ticks = 0

    async def then_a_tick(session_id: str) -> Any:
        nonlocal ticks
        found = await naming(session_id)
        await live.tick()  # what the 1 s tick does when it falls between the join's awaits
        ticks += 1
        return found

    live.sessions.member_naming = then_a_tick
    fac = await member(client, "facilitator")
    ann = await member(client, "client")
    try:
        assert (await fac.join(sid))["state"] == "present"
        await fac.answered()
        assert (await ann.join(sid))["state"] == "waiting"
        assert ticks >= 1
        hosted = live.live[sid]
        assert set(hosted.session.people) == {fac.participant, ann.participant}  # one session, both in it
        await fac.send(type="group.admit", session=sid, participant=ann.participant)
        await ann.next("group.notice", kind="admitted")
        await ann.answered()
        assert set(live.sfu.sessions[sid].participants) == {fac.participant, ann.participant}
    finally:
        for m in (fac, ann):
            await m.close()
