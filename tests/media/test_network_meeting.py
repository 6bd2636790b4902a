"""A case-network meeting by video (issue 16, TUKO stage 2) through the real /ws gateway and the
node's SFU: the meeting's live session (``netmeet-<meeting id>``) is hosted by the group session
machine, room and SFU. The case leader and a partner of the network, as aiortc bots on loopback,
pass the meeting's safe-space check through its routes, join with ``group.join`` and decode
each other's video and hear each other; a partner past their access end date, a partner of the
case's earlier process (outside the current network) and a client under victim protection are
refused with rule ``network_meeting_video``; someone never in the network is told the meeting
does not exist. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from server.identity.model import Role
from server.networks.joining import live_id
from server.web.ws_group import GROUP_LIVE
from tests.helpers.peers import until
from tests.helpers.sfubots import Bot
from tests.helpers.world import PASSWORD, login
from tests.integration.test_networks import flagged_case
from tests.media.test_group_ws import Member, audio_times, live_app

__all__ = ["live_app"]  # the fixture, shared with the group session's test


async def partner_user(services: Any, w: Any, username: str) -> str:
    uid: str = await services.identity.create_user(None, username=username, display_name=username.title(),
                                                   role=Role.PARTNER, office_id=None, password=PASSWORD)
    w.users[username] = uid
    return uid


async def person(client: Any, username: str) -> tuple[Member, dict[str, str]]:
    """A /ws connection and a bot; the safe-space check is answered through the meeting's routes."""
    headers = await login(client, username)
    ws = await client.ws_connect("/ws", headers=headers)
    await ws.send_json({"type": "hello"})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    return Member(username, ws, Bot(username, audio_slots=2, video_slots=2, tone=True)), headers


async def pass_meeting_safe_space(client: Any, headers: dict[str, str], case_id: str, meeting_id: str) -> int:
    """Answer every question safely; the status of the questions' GET (200 when the caller has a part)."""
    url = f"/api/cases/{case_id}/network/meetings/{meeting_id}/safe-space"
    resp = await client.get(url, headers=headers)
    if resp.status != 200:
        return resp.status
    asked = await resp.json()
    resp = await client.post(url, headers=headers, json={"answers": {q["id"]: True for q in asked["questions"]}})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["passed"] is True
    return 200


@pytest.mark.timeout(150)
async def test_two_members_meet_by_video_and_others_are_refused_with_the_rule(live_app: Any) -> None:
    client, services, w = live_app
    nets, case, officer = services.networks, w.cases["own"], w.actor("officer")
    today = services.clock.now().date()
    police, lapsed, earlier = (await partner_user(services, w, "police"), await partner_user(services, w, "lapsed"),
                               await partner_user(services, w, "earlier"))
    await partner_user(services, w, "stranger")
    await nets.raise_concern(officer, case, noticed="First", noticed_by="Police")
    await nets.invite_member(officer, case, user_id=earlier, agency="Earlier", ends_on=today + timedelta(days=30))
    await nets.close(officer, case, conclusion="Settled")
    await nets.raise_concern(officer, case, noticed="Threatening calls", noticed_by="Victim support")
    await nets.invite_member(officer, case, user_id=police, agency="Police", ends_on=today + timedelta(days=30))
    await nets.invite_member(officer, case, user_id=lapsed, agency="Lapsed", ends_on=today)
    meeting = await nets.schedule_meeting(officer, case, starts_at=services.clock.now() + timedelta(days=1, minutes=5),
                                          mode="video")
    protected_case, _client = await flagged_case(services, w, "shielded", protected_person=True)
    await nets.raise_concern(officer, protected_case, noticed="Threats", noticed_by="Police")
    protected_meeting = await nets.schedule_meeting(
        officer, protected_case, starts_at=services.clock.now() + timedelta(days=1, minutes=5), mode="video")
    services.clock.advance(timedelta(days=1))  # the meetings' windows are open; the lapsed partner's day has passed
    sid = live_id(meeting)

    people: list[Member] = []
    try:
        lead, lead_h = await person(client, "officer")
        pol, pol_h = await person(client, "police")
        people += [lead, pol]
        for headers in (lead_h, pol_h):
            assert await pass_meeting_safe_space(client, headers, case, meeting) == 200
        joined = await lead.join(sid)
        assert (joined["state"], joined["role"]) == ("present", "facilitator")
        await lead.answered()
        joined = await pol.join(sid)
        assert (joined["state"], joined["role"]) == ("present", "observer")  # a partner controls nothing
        await pol.answered()
        await until(lambda: lead.bot.decoded_from(pol.bot.name) >= 10 and pol.bot.decoded_from(lead.bot.name) >= 10,
                    within_s=60, what="the case leader and the partner decoding each other's video")
        await until(lambda: len(audio_times(lead.bot, pol.participant)) >= 10
                    and len(audio_times(pol.bot, lead.participant)) >= 10,
                    within_s=20, what="the case leader and the partner hearing each other")
        assert sid in client.app[GROUP_LIVE].live
        # The media is reserved for who may join (the leader, the police, one more for a senior), not
        # for a full group session, so a group session still fits on the node beside it.
        assert client.app[GROUP_LIVE].sfu.sessions[sid].seats == 3
        state = next(f for f in reversed(pol.seen) if f["type"] == "group.state")
        names = {s["display_name"] for s in state["participants"]}
        assert len(names) == 2 and "Police" in names  # professionals see one another's full names

        # A partner may not run the meeting.
        await pol.send(type="group.mute", session=sid, participant=lead.participant, id="m1")
        assert (await pol.next("error", ref="m1"))["code"] == "not_facilitator"

        # Refused with the rule: past the end date, outside the current network, a protected client.
        for username, target_case, target_meeting, why in (
                ("lapsed", case, meeting, "past their end date"),
                ("earlier", case, meeting, "outside the current network"),
                ("shielded", protected_case, protected_meeting, "under victim protection")):
            other, headers = await person(client, username)
            people.append(other)
            assert await pass_meeting_safe_space(client, headers, target_case, target_meeting) == 403, why
            await other.send(type="group.join", session=live_id(target_meeting), sdp=await other.bot.offer(),
                             id="j")
            refused = await other.next("error", ref="j")
            assert (refused["code"], refused["rule_id"]) == ("policy_refused", "network_meeting_video"), (why, refused)

        # Never in the network and no relation to the case: as for a meeting that does not exist.
        stranger, headers = await person(client, "stranger")
        people.append(stranger)
        assert await pass_meeting_safe_space(client, headers, case, meeting) == 404
        await stranger.send(type="group.join", session=sid, sdp=await stranger.bot.offer(), id="j")
        assert (await stranger.next("error", ref="j"))["code"] == "not_found"

        # Nothing of the refused reached the meeting: still the two of them.
        state = next(f for f in reversed(lead.seen) if f["type"] == "group.state")
        assert len(state["participants"]) == 2 and not state.get("lobby")

        # The partner leaves; the leader ends the meeting and its media.
        await pol.send(type="group.leave", session=sid)
        await pol.next("group.notice", kind="left")
        await lead.send(type="group.end", session=sid)
        await until(lambda: sid not in client.app[GROUP_LIVE].live, within_s=10, what="the meeting to close")
    finally:
        for m in people:
            await m.close()
