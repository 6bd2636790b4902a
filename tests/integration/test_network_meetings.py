"""Network meetings by video (issue 16, TUKO stage 2) on SQLite and PostgreSQL: who joins the
meeting's live session in which role, every refusal naming ``network_meeting_video``, the
safe-space check before it (the client's answers sealed, others' verdict only) and the audit
rows of every read. The live session itself is tested with real peers in
tests/media/test_network_meeting.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server.errors import NotFound, OutOfScope, PolicyRefused
from server.groups.join_policy import Present
from server.groups.session_values import Role
from server.identity.model import Actor
from server.store.schema import audit_log
from server.store.schema_networks import network_meeting_safe_space
from server.web.state import Services
from tests.helpers.world import World, build, login
from tests.integration.test_networks import day, flagged_case, partner


async def pass_safe_space(services: Services, who: Actor, case_id: str, meeting_id: str) -> None:
    side, asked, passed = await services.network_meetings.questions(who, case_id, meeting_id)
    assert not passed
    result = await services.network_meetings.answer(who, case_id, meeting_id, {q.id: True for q in asked})
    assert result.passed, (side, [q.id for q in asked])


async def meeting(services: Services, w: World, case_id: str, *, mode: str = "video",
                  in_minutes: int = 5) -> str:
    return await services.networks.schedule_meeting(
        w.actor("officer"), case_id, starts_at=services.clock.now() + timedelta(minutes=in_minutes),
        mode=mode, place="Police station" if mode == "in_person" else None)  # type: ignore[arg-type]


async def refusal(coro: Any) -> str:
    with pytest.raises(PolicyRefused) as caught:
        await coro
    assert caught.value.rule_id == "network_meeting_video", caught.value
    return str(caught.value.reason)


async def test_leader_partner_and_client_join_in_their_roles(api: Any) -> None:
    _, services = api
    w = await build(services)
    nets, joining, case = services.networks, services.network_meetings, w.cases["own"]
    officer, police = w.actor("officer"), await partner(services, w, "police")
    client = w.actor("client")
    await nets.raise_concern(officer, case, noticed="Threats", noticed_by="Victim support")
    await nets.invite_member(officer, case, user_id=police.user_id, agency="Police", ends_on=day(services, 30))
    await nets.invite_member(officer, case, user_id=client.user_id, agency="Client", ends_on=day(services, 30))
    m = await meeting(services, w, case)

    # Nobody joins before passing the safe-space check.
    assert await refusal(joining.join_context(police, m, Present())) == "network_meeting_video.safe_space"
    for who in (officer, police, client):
        await pass_safe_space(services, who, case, m)
    assert (await joining.questions(police, case, m))[2] is True
    role, _facts, auto = await joining.join_context(officer, m, Present())
    assert (role, auto) == (Role.FACILITATOR, True)
    assert (await joining.join_context(police, m, Present(staff=1)))[0] is Role.OBSERVER
    role, facts, _ = await joining.join_context(client, m, Present(staff=0))
    assert role is Role.PARTICIPANT and not facts.facilitator_there  # the leader admits the client
    assert (await joining.join_context(client, m, Present(staff=1)))[1].facilitator_there

    # The client's answers are sealed under their case; the others keep only the verdict.
    async with services.store.read("t") as conn:
        rows = (await conn.execute(select(network_meeting_safe_space))).all()
        actions = [r.action for r in (await conn.execute(select(audit_log.c.action).where(
            audit_log.c.target_id == m))).all()]
    by_user = {r.user_id: r for r in rows}
    assert by_user[client.user_id].body is not None and by_user[client.user_id].case_id == case
    assert by_user[police.user_id].body is None and by_user[police.user_id].case_id is None
    assert by_user[police.user_id].side == "staff" and by_user[client.user_id].side == "client"
    assert actions.count("network.meeting.safe_space.read") == 4
    assert actions.count("network.meeting.safe_space") == 3
    assert actions.count("network.meeting.join") == 4


async def test_every_refusal_names_the_rule(api: Any) -> None:
    _, services = api
    w = await build(services)
    nets, joining, case = services.networks, services.network_meetings, w.cases["own"]
    officer = w.actor("officer")
    police, lapsed, earlier = (await partner(services, w, "police"), await partner(services, w, "lapsed"),
                               await partner(services, w, "earlier"))
    stranger = await partner(services, w, "stranger")
    # A partner of the case's earlier process is outside the current network.
    await nets.raise_concern(officer, case, noticed="First", noticed_by="Police")
    await nets.invite_member(officer, case, user_id=earlier.user_id, agency="Earlier", ends_on=day(services, 30))
    await nets.close(officer, case, conclusion="Settled")
    await nets.raise_concern(officer, case, noticed="Again", noticed_by="Police")
    await nets.invite_member(officer, case, user_id=police.user_id, agency="Police", ends_on=day(services, 30))
    await nets.invite_member(officer, case, user_id=lapsed.user_id, agency="Lapsed", ends_on=day(services, 0))
    m = await meeting(services, w, case, in_minutes=60 * 24 + 5)
    in_person = await meeting(services, w, case, mode="in_person")

    assert await refusal(joining.questions(earlier, case, m)) == "network_meeting_video.network_member_only"
    with pytest.raises(OutOfScope):  # never in the network, no relation to the case: as for no case
        await joining.questions(stranger, case, m)
    with pytest.raises(NotFound):
        await joining.questions(police, case, "f" * 32)
    assert await refusal(joining.questions(police, case, in_person)) == "network_meeting_video.in_person"
    await pass_safe_space(services, police, case, m)
    assert await refusal(joining.join_context(police, m, Present())) == "network_meeting_video.not_open"
    services.clock.advance(timedelta(days=1))  # the lapsed partner's last day has passed
    assert await refusal(joining.questions(lapsed, case, m)) == "network_meeting_video.network_access_ended"
    assert await refusal(joining.join_context(lapsed, m, Present())) == "network_meeting_video.network_access_ended"
    await joining.join_context(police, m, Present())  # now inside the window
    services.clock.advance(timedelta(hours=3))
    assert await refusal(joining.join_context(police, m, Present())) == "network_meeting_video.ended"

    # A client under victim protection, not let in with a reason, is refused with the rule.
    protected_case, protected_client = await flagged_case(services, w, "shielded", protected_person=True)
    await nets.raise_concern(officer, protected_case, noticed="Threats", noticed_by="Police")
    pm = await meeting(services, w, protected_case)
    assert await refusal(joining.questions(protected_client, protected_case, pm)) == \
        "network_meeting_video.victim_protection"
    assert await refusal(joining.join_context(protected_client, pm, Present(staff=1))) == \
        "network_meeting_video.victim_protection"
    # ... and once the leader records why it is safe, they may take part.
    await nets.invite_member(officer, protected_case, user_id=protected_client.user_id, agency="Client",
                             ends_on=day(services, 30), safety_reason="The protected person has moved abroad")
    await pass_safe_space(services, protected_client, protected_case, pm)
    assert (await joining.join_context(protected_client, pm, Present(staff=1)))[0] is Role.PARTICIPANT

    # A closed process's meetings are joined by nobody.
    await nets.close(officer, protected_case, conclusion="Done")
    assert await refusal(joining.join_context(officer, pm, Present())) == "network_meeting_video.closed"


async def test_the_api_shows_the_join_window_the_server_enforces(app_factory: Any) -> None:
    """The meeting's representation carries its join window (``join_opens_at``, ``join_closes_at``)
    from the server's settings, not the defaults, for the leader and for a member alike; the join is
    refused one second before it opens and after it closes, and accepted at both ends. The web
    client's "Join by video" shows exactly inside it (client_web/shared/networks.js, joinable)."""
    client, services = await app_factory(join_open_before_s=120, join_close_after_s=300)
    w = await build(services)
    nets, joining, case = services.networks, services.network_meetings, w.cases["own"]
    officer, police = w.actor("officer"), await partner(services, w, "police")
    await nets.raise_concern(officer, case, noticed="Threats", noticed_by="Victim support")
    await nets.invite_member(officer, case, user_id=police.user_id, agency="Police", ends_on=day(services, 30))
    m = await meeting(services, w, case, in_minutes=30)
    await meeting(services, w, case, mode="in_person")
    resp = await client.get(f"/api/cases/{case}/network", headers=await login(client, "officer"))
    body = await resp.json()
    assert resp.status == 200, body
    shown = {x["id"]: x for x in body["processes"][-1]["meetings"]}
    assert [x.get("join_opens_at") for x in shown.values() if x["mode"] == "in_person"] == [None]
    start = datetime.fromisoformat(shown[m]["starts_at"])
    opens = datetime.fromisoformat(shown[m]["join_opens_at"])
    closes = datetime.fromisoformat(shown[m]["join_closes_at"])
    assert (opens, closes) == (start - timedelta(minutes=2), start + timedelta(minutes=60 + 5))
    member_view = {x["id"]: x for x in (await nets.read(police, case))["processes"][-1]["meetings"]}
    assert (member_view[m]["join_opens_at"], member_view[m]["join_closes_at"]) == (
        shown[m]["join_opens_at"], shown[m]["join_closes_at"])

    await pass_safe_space(services, police, case, m)
    services.clock.advance(opens - timedelta(seconds=1) - services.clock.now())
    assert await refusal(joining.join_context(police, m, Present())) == "network_meeting_video.not_open"
    services.clock.advance(timedelta(seconds=1))
    assert (await joining.join_context(police, m, Present()))[0] is Role.OBSERVER
    services.clock.advance(closes - services.clock.now())
    assert (await joining.join_context(police, m, Present()))[0] is Role.OBSERVER
    services.clock.advance(timedelta(seconds=1))
    assert await refusal(joining.join_context(police, m, Present())) == "network_meeting_video.ended"
