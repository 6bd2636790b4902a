"""The safe-space check before a live group session, kept and enforced by the server (issue 14,
"Joining"; CEP §5): the questions come from the policy (each side's, then the group's own), a
join without a pass is refused with rule safe_space, an unsafe answer or "I can't talk safely
now" is recorded and refuses the join, a participant's answers are sealed in their case's bucket
and shown in their own data, staff keep only the verdict, another office's session is absent."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server.errors import PolicyRefused
from server.groups.session_values import Role
from server.groups.sessions import NewSession
from server.store.schema import audit_log
from server.store.schema_groups import group_safe_space
from tests.helpers.world import add_office_b, build, login
from tests.integration.test_group_sessions import cohort_with_two

URL = "/api/group-sessions/{}/safe-space"


async def _session(services: Any, w: Any) -> str:
    cohort_id = await cohort_with_two(services, w)
    start = services.clock.now() + timedelta(minutes=5)
    entries = await services.group_sessions.schedule(w.actor("facilitator"), cohort_id,
                                                     NewSession(start, start + timedelta(hours=1)))
    return str(entries[0].id)


async def _rows(services: Any, sid: str) -> list[Any]:
    async with services.store.read("test") as conn:
        return list((await conn.execute(select(group_safe_space).where(group_safe_space.c.session_id == sid)
                                        .order_by(group_safe_space.c.at))).all())


async def test_a_join_needs_a_pass_for_the_session_and_a_pass_holds_for_a_rejoin(api: Any) -> None:
    client, services = api
    w = await build(services)
    sid = await _session(services, w)
    gs, own = services.group_sessions, w.actor("client")
    with pytest.raises(PolicyRefused) as refused:
        await gs.join_context(own, sid)
    assert (refused.value.rule_id, refused.value.reason) == ("safe_space", "safe_space.not_passed")

    headers = await login(client, "client")
    asked = await (await client.get(URL.format(sid), headers=headers)).json()
    ids = [q["id"] for q in asked["questions"]]
    assert (asked["side"], asked["passed"]) == ("client", False)
    assert ids == ["private_place", "alone", "not_driving", "group_only"]  # the policy's, then the group's
    assert all(q["text"] for q in asked["questions"])
    # Every question is answered: a missing one is a bad request, never a silent pass.
    resp = await client.post(URL.format(sid), headers=headers, json={"answers": {"private_place": True}})
    assert resp.status == 422 and (await resp.json())["error"]["reason"] == "safe_space.unanswered"
    resp = await client.post(URL.format(sid), headers=headers, json={"answers": dict.fromkeys(ids, True)})
    assert resp.status == 200 and await resp.json() == {"passed": True, "ended": False}
    assert (await gs.join_context(own, sid))[0] is Role.PARTICIPANT
    assert (await gs.join_context(own, sid))[0] is Role.PARTICIPANT  # a rejoin is not asked again
    assert (await (await client.get(URL.format(sid), headers=headers)).json())["passed"] is True

    # The pass is this session's only: another session asks again.
    other = await _session(services, w)
    with pytest.raises(PolicyRefused):
        await gs.join_context(own, other)


async def test_unsafe_answers_and_cant_talk_are_recorded_sealed_and_refuse_the_join(api: Any) -> None:
    client, services = api
    w = await build(services)
    sid = await _session(services, w)
    gs, own = services.group_sessions, w.actor("client")
    headers = await login(client, "client")
    answers = {"private_place": True, "alone": True, "not_driving": True, "group_only": False}
    resp = await client.post(URL.format(sid), headers=headers, json={"answers": answers})
    assert resp.status == 200 and await resp.json() == {"passed": False, "ended": True}
    with pytest.raises(PolicyRefused) as refused:
        await gs.join_context(own, sid)
    assert refused.value.rule_id == "safe_space"
    # A pass after the failure lets them in; "I can't talk safely now" afterwards shuts the door again.
    resp = await client.post(URL.format(sid), headers=headers, json={"answers": answers | {"group_only": True}})
    assert (await resp.json())["passed"] is True
    await gs.join_context(own, sid)
    services.clock.advance(timedelta(seconds=1))
    resp = await client.post(URL.format(sid), headers=headers, json={"cant_talk": True})
    assert (await resp.json())["passed"] is False
    with pytest.raises(PolicyRefused):
        await gs.join_context(own, sid)

    rows = await _rows(services, sid)
    assert [(r.side, r.passed, r.case_id) for r in rows] == [
        ("client", False, w.cases["own"]), ("client", True, w.cases["own"]), ("client", False, w.cases["own"])]
    assert all(r.key_id and r.body and b"group_only" not in r.body for r in rows)  # sealed, not in clear
    async with services.store.read("test") as conn:
        audits = (await conn.execute(select(audit_log.c.details, audit_log.c.case_id)
                                     .where(audit_log.c.action == "group_session.safe_space"))).all()
    verdicts = [(json.loads(d) if isinstance(d, str) else d)["verdict"] for d, _ in audits]
    assert sorted(verdicts) == ["cant_talk", "passed", "unsafe"]
    assert {c for _, c in audits} == {w.cases["own"]}

    # The participant's own data holds the answers, under safe_space_answers.
    data = await (await client.get("/api/my/data", headers=headers)).json()
    items = data["categories"]["safe_space_answers"]["items"]
    bodies = [json.loads(i["content"]) for i in items if i.get("session_id") == sid]
    assert [b["verdict"] for b in bodies] == ["unsafe", "passed", "cant_talk"]
    assert bodies[0]["answers"]["group_only"] is False and bodies[0]["unsafe"] == ["group_only"]


async def test_staff_answer_the_staff_side_and_keep_only_the_verdict(api: Any) -> None:
    client, services = api
    w = await build(services)
    sid = await _session(services, w)
    fac = w.actor("facilitator")
    with pytest.raises(PolicyRefused):
        await services.group_sessions.join_context(fac, sid)
    headers = await login(client, "facilitator")
    asked = await (await client.get(URL.format(sid), headers=headers)).json()
    ids = [q["id"] for q in asked["questions"]]
    assert (asked["side"], ids) == ("staff", ["private_room", "headset", "screen_not_overlooked", "group_only"])
    resp = await client.post(URL.format(sid), headers=headers, json={"answers": dict.fromkeys(ids, True)})
    assert (await resp.json())["passed"] is True
    assert (await services.group_sessions.join_context(fac, sid))[0] is Role.FACILITATOR
    (row,) = await _rows(services, sid)
    assert (row.side, row.passed, row.case_id, row.key_id, row.body) == ("staff", True, None, None, None)
    # Answers of the other side are unknown questions.
    resp = await client.post(URL.format(sid), headers=headers, json={"answers": {"private_place": True}})
    assert resp.status == 422 and (await resp.json())["error"]["reason"] == "safe_space.unknown_questions"


async def test_another_offices_session_and_non_members_are_not_found(api: Any) -> None:
    client, services = api
    w = await build(services)
    await add_office_b(services, w)
    sid = await _session(services, w)
    for username in ("facilitator_b", "client_other"):
        headers = await login(client, username)
        assert (await client.get(URL.format(sid), headers=headers)).status == 404, username
        resp = await client.post(URL.format(sid), headers=headers, json={"cant_talk": True})
        assert resp.status == 404, username
    assert await _rows(services, sid) == []
    # A cancelled session takes no answers.
    await services.group_sessions.cancel(w.actor("facilitator"), sid)
    resp = await client.post(URL.format(sid), headers=await login(client, "client"), json={"cant_talk": True})
    assert resp.status == 409
