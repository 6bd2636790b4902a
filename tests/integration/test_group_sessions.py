"""Group programme sessions on SQLite and PostgreSQL, through the action functions: scheduling
once and as a series, staff, the confidentiality agreement, who someone is when they join, and
the attendance register from evidence to the participants' cases."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.checkins.outcomes import Sample
from server.errors import BadRequest, Conflict, NotFound, OutOfScope, PolicyRefused
from server.groups.attendance import Decision
from server.groups.join_policy import Present
from server.groups.register import Attendance
from server.groups.session_values import Role
from server.groups.sessions import NewSession
from server.identity.model import Actor
from server.scheduling.model import Recurrence, Scope
from server.store.schema import audit_log
from server.store.schema_groups import group_attendance, group_attendance_events
from tests.helpers.safe_space import pass_safe_space_in
from tests.helpers.world import World, add_office_b, build, login

POOR = Sample(rtt_ms=1500, loss_pct=15, bitrate_kbps=30)


async def audited(services: Any, action: str) -> list[tuple[str | None, Any]]:
    async with services.store.read("test") as conn:
        rows = await conn.execute(select(audit_log.c.case_id, audit_log.c.details)
                                  .where(audit_log.c.action == action).order_by(audit_log.c.seq))
        return [(r.case_id, json.loads(r.details) if isinstance(r.details, str) else r.details) for r in rows]


async def cohort_with_two(services: Any, w: World) -> str:
    fac = w.actor("facilitator")
    cohort_id: str = await services.groups.create_cohort(fac, name="Tuesday", programme="Thinking Skills")
    for key in ("own", "same_office"):
        await services.groups.enrol(fac, cohort_id, w.cases[key])
    return cohort_id


async def test_schedule_once_and_as_a_series_and_the_lists(api: Any) -> None:
    _client, services = api
    w = await build(services)
    cohort_id = await cohort_with_two(services, w)
    gs, fac, now = services.group_sessions, w.actor("facilitator"), services.clock.now()
    start = now + timedelta(days=1)
    one = await gs.schedule(fac, cohort_id, NewSession(start, start + timedelta(minutes=90)))
    assert len(one) == 1 and one[0].opens_at == start - timedelta(minutes=10)
    series = await gs.schedule(w.actor("senior"), cohort_id, NewSession(
        start + timedelta(hours=3), start + timedelta(hours=4, minutes=30),
        Recurrence(interval_weeks=1, count=4, timezone="Europe/Helsinki")))
    assert len(series) == 4 and len({s.series_id for s in series}) == 1
    listed = await gs.sessions(fac, cohort_id)
    assert [s.id for s in listed] == [one[0].id] + [s.id for s in series]
    mine = await gs.upcoming(w.actor("client"))
    assert [s.id for s in mine] == [s.id for s in listed]
    assert await gs.upcoming(w.actor("client_other")) == []
    cancelled = await gs.cancel(fac, series[1].id, Scope.FOLLOWING)
    assert cancelled == [s.id for s in series[1:]]
    assert [s.status for s in await gs.sessions(fac, cohort_id)] == ["scheduled", "scheduled"] + ["cancelled"] * 3
    with pytest.raises(Conflict):
        await gs.cancel(fac, series[2].id)
    assert [d["count"] for _c, d in await audited(services, "group_session.create")] == [1, 4]


async def test_who_may_schedule_and_office_b_gets_not_found(api: Any) -> None:
    _client, services = api
    w = await build(services)
    await add_office_b(services, w)
    cohort_id = await cohort_with_two(services, w)
    gs, start = services.group_sessions, services.clock.now() + timedelta(days=1)
    new = NewSession(start, start + timedelta(hours=1))
    for user in ("senior_b", "facilitator_b", "client_other"):
        with pytest.raises(OutOfScope):
            await gs.schedule(w.actor(user), cohort_id, new)
        with pytest.raises(OutOfScope):
            await gs.sessions(w.actor(user), cohort_id)
    with pytest.raises(PolicyRefused):
        await gs.schedule(w.actor("officer"), cohort_id, new)
    with pytest.raises(PolicyRefused):
        await gs.schedule(w.actor("client"), cohort_id, new)  # a participant runs nothing
    with pytest.raises(BadRequest):
        await gs.schedule(w.actor("facilitator"), cohort_id, NewSession(start, start - timedelta(hours=1)))
    with pytest.raises(BadRequest):
        await gs.schedule(w.actor("facilitator"), cohort_id, NewSession(
            start, start + timedelta(hours=1), Recurrence(interval_weeks=1, until=date(2040, 1, 1))))
    with pytest.raises(NotFound):
        await gs.schedule(w.actor("facilitator"), cohort_id, NewSession(start, start + timedelta(hours=1),
                                                                        room_id="nope"))
    with pytest.raises(NotFound):
        await gs.schedule(w.actor("facilitator"), "no-such-cohort", new)


async def test_staff_agreement_and_who_joins_as_what(api: Any) -> None:
    _client, services = api
    w = await build(services)
    await add_office_b(services, w)
    ident = services.identity
    from server.identity.model import Role as UserRole

    co = await ident.create_user(None, username="co", display_name="Co", role=UserRole.FACILITATOR,
                                 office_id=w.offices["A"], password="correct horse battery")
    mentor = await ident.create_user(None, username="pm", display_name="Programme Mentor",
                                     role=UserRole.FACILITATOR, office_id=w.offices["A"],
                                     password="correct horse battery")
    cohort_id = await cohort_with_two(services, w)
    gs, fac = services.group_sessions, w.actor("facilitator")
    start = services.clock.now() + timedelta(days=1)
    sid = (await gs.schedule(fac, cohort_id, NewSession(start, start + timedelta(hours=1))))[0].id
    await gs.add_staff(fac, sid, co, Role.CO_FACILITATOR)
    await gs.add_staff(fac, sid, mentor, Role.OBSERVER)
    with pytest.raises(Conflict):
        await gs.add_staff(fac, sid, co, Role.OBSERVER)
    with pytest.raises(OutOfScope):
        await gs.add_staff(fac, sid, w.users["facilitator_b"], Role.OBSERVER)
    with pytest.raises(BadRequest):
        await gs.add_staff(fac, sid, w.users["officer"], Role.CO_FACILITATOR)
    with pytest.raises(BadRequest):
        await gs.add_staff(fac, sid, w.users["officer"], Role.PARTICIPANT)
    assert [(s.display_name, s.role) for s in await gs.staff(fac, sid)] == [
        ("Co", "co_facilitator"), ("Programme Mentor", "observer")]

    # Everyone who joins answers the safe-space check first (test_group_safe_space.py).
    co_actor = Actor(co, "co", "Co", UserRole.FACILITATOR, w.offices["A"], "en", False)
    pm_actor = Actor(mentor, "pm", "PM", UserRole.FACILITATOR, w.offices["A"], "en", False)
    for person in (w.actor("client"), fac, w.actor("senior"), co_actor, pm_actor):
        await pass_safe_space_in(services.group_safe_space, person, sid)
    # No agreement yet: nothing to accept.
    role, facts, auto = await gs.join_context(w.actor("client"), sid)
    assert (role, facts.enrolled, facts.agreement_accepted, auto) == (Role.PARTICIPANT, True, True, False)
    assert await gs.set_agreement(fac, cohort_id, text="What is said here stays here.", auto_admit=True) == 1
    assert await gs.set_agreement(fac, cohort_id, text="What is said here stays here.", auto_admit=True) == 1
    client = w.actor("client")
    agreement = await gs.agreement(client, cohort_id)
    assert (agreement.text, agreement.version, agreement.accepted) == ("What is said here stays here.", 1, False)
    with pytest.raises(PolicyRefused) as refused:  # the policy engine's word: group_rules
        await gs.join_context(client, sid)
    assert (refused.value.rule_id, refused.value.reason) == ("group_rules", "group_rules.confidentiality_first")
    with pytest.raises(Conflict):
        await gs.accept_agreement(client, cohort_id, 2)
    await gs.accept_agreement(client, cohort_id, 1)
    await gs.accept_agreement(client, cohort_id, 1)  # once is enough; again changes nothing
    _role, facts, auto = await gs.join_context(client, sid, Present(staff=1))
    assert facts.agreement_accepted and facts.facilitator_there and auto  # accepted; admitted without the lobby
    assert [c for c, _d in await audited(services, "group.agreement.accept")] == [w.cases["own"]]
    assert await gs.set_agreement(fac, cohort_id, text="A new text.", auto_admit=False) == 2
    with pytest.raises(PolicyRefused):  # a new version: accept anew
        await gs.join_context(client, sid)
    with pytest.raises(OutOfScope):
        await gs.accept_agreement(fac, cohort_id, 2)  # staff accept nothing here
    with pytest.raises(OutOfScope):
        await gs.agreement(w.actor("client_other"), cohort_id)

    assert (await gs.join_context(fac, sid))[0] is Role.FACILITATOR
    assert (await gs.join_context(w.actor("senior"), sid))[0] is Role.CO_FACILITATOR
    assert (await gs.join_context(co_actor, sid))[0] is Role.CO_FACILITATOR
    assert (await gs.join_context(pm_actor, sid))[0] is Role.OBSERVER
    for outsider in ("client_other", "officer3", "facilitator_b"):
        with pytest.raises(OutOfScope):
            await gs.join_context(w.actor(outsider), sid)
    with pytest.raises(OutOfScope):
        await gs.join_context(w.actor("officer"), sid)  # the supervising officer does not sit in the group


async def test_the_policy_engine_decides_a_participants_join(api: Any) -> None:
    """group_rules with the live session's places (size, a facilitator there: else the lobby),
    the limits a live session takes from policy, and face_to_face_first once policy gates
    join_group: refusals name their rule."""
    client, services = api
    w = await build(services)
    cohort_id = await cohort_with_two(services, w)
    gs, fac = services.group_sessions, w.actor("facilitator")
    start = services.clock.now() + timedelta(minutes=5)
    sid = (await gs.schedule(fac, cohort_id, NewSession(start, start + timedelta(hours=1))))[0].id
    own, same = w.actor("client"), w.actor("client_same")  # "same" has met nobody face to face
    for person in (own, same):
        await pass_safe_space_in(services.group_safe_space, person, sid)

    assert (gs.live_limits().max_participants, gs.live_limits().last_n) == (15, 6)
    _role, facts, _auto = await gs.join_context(own, sid)
    assert facts.enrolled and not facts.facilitator_there  # nobody runs it yet: the lobby
    assert (await gs.join_context(own, sid, Present(participants=14, staff=1)))[1].facilitator_there
    with pytest.raises(PolicyRefused) as full:
        await gs.join_context(own, sid, Present(participants=15, staff=1))
    assert (full.value.rule_id, full.value.reason, full.value.params) == (
        "group_rules", "group_rules.full", {"max_participants": 15})
    await gs.join_context(same, sid, Present(staff=1))  # join_group is not gated by default

    admin = await login(client, "admin")
    rules = (await (await client.get("/api/policies", headers=admin)).json())["rules"]
    ftf = next(r["config"] for r in rules if r["rule_id"] == "face_to_face_first")
    ftf["gated_actions"] = [*ftf["gated_actions"], "join_group"]
    resp = await client.put("/api/policies/face_to_face_first", headers=admin,
                            json={"config": ftf, "reason": "test: group sessions after a first meeting"})
    assert resp.status == 200, await resp.text()
    groups = next(r["config"] for r in rules if r["rule_id"] == "group_rules")
    resp = await client.put("/api/policies/group_rules", headers=admin,
                            json={"config": {**groups, "last_n": 4}, "reason": "test: four tiles"})
    assert resp.status == 200, await resp.text()
    with pytest.raises(PolicyRefused) as first:
        await gs.join_context(same, sid, Present(staff=1))
    assert first.value.rule_id == "face_to_face_first"
    await gs.join_context(own, sid, Present(staff=1))  # met their officer: in
    assert gs.live_limits().last_n == 4


async def test_register_from_evidence_to_the_cases(api: Any) -> None:
    _client, services = api
    w = await build(services)
    await add_office_b(services, w)
    cohort_id = await cohort_with_two(services, w)
    gs, att, fac, clock = services.group_sessions, services.attendance, w.actor("facilitator"), services.clock
    start = clock.now() + timedelta(hours=1)
    sid = (await gs.schedule(fac, cohort_id, NewSession(start, start + timedelta(minutes=90))))[0].id
    own, same = w.clients["own"], w.clients["same_office"]

    with pytest.raises(Conflict):  # not before the session has started
        await att.confirm(fac, sid, [])
    clock.advance(timedelta(minutes=55))
    assert await att.record(sid, own, "arrived")
    assert not await att.record(sid, w.users["facilitator"], "arrived")  # staff have no register line
    clock.advance(timedelta(minutes=5))
    await att.record(sid, own, "present")
    await att.record(sid, same, "arrived")
    await att.record(sid, same, "present")
    clock.advance(timedelta(minutes=10))
    await att.record(sid, same, "quality", sample=POOR)
    await att.record(sid, same, "absent", detail="dropped")
    with pytest.raises(BadRequest):
        await att.record(sid, same, "absent")  # an absence says why
    with pytest.raises(BadRequest):
        await att.record(sid, same, "teleported")

    live = await att.register(fac, sid)
    assert [(r.display_name, r.line.minutes_present, r.line.suggestion, r.status) for r in live.lines] == [
        ("Client", 10, Attendance.PARTLY, None),
        ("Client_Same", 10, Attendance.TECHNICAL_FAILURE, None)]
    clock.advance(timedelta(minutes=80))
    await att.record(sid, own, "absent", detail="ended")
    register = await att.register(fac, sid)
    assert [r.line.suggestion for r in register.lines] == [Attendance.ATTENDED, Attendance.TECHNICAL_FAILURE]
    assert sorted(c for c, _d in await audited(services, "group_attendance.read")) == sorted(
        [w.cases["own"], w.cases["same_office"]] * 2)

    # Only those who run the session keep its register; office B does not learn it exists.
    for insider in ("officer2", "client"):
        with pytest.raises(PolicyRefused):
            await att.register(w.actor(insider), sid)
    with pytest.raises(PolicyRefused):
        await att.confirm(w.actor("client"), sid, [])
    for outsider in ("senior_b", "facilitator_b", "officer3"):
        with pytest.raises(OutOfScope):
            await att.register(w.actor(outsider), sid)
    with pytest.raises(Conflict):
        await att.csv(fac, sid)  # exported once confirmed

    with pytest.raises(BadRequest):
        await att.confirm(fac, sid, [Decision(own, Attendance.ATTENDED)])  # every participant, once
    with pytest.raises(BadRequest):
        await att.confirm(fac, sid, [Decision(own, Attendance.ATTENDED), Decision(own, Attendance.ABSENT),
                                     Decision(same, Attendance.ABSENT)])
    confirmed = await att.confirm(w.actor("senior"), sid, [
        Decision(own, Attendance.ATTENDED, "Good contributions"), Decision(same, Attendance.ABSENT, "=1+1")])
    assert confirmed.confirmed_at is not None
    assert [(r.status, r.note) for r in confirmed.lines] == [("attended", "Good contributions"), ("absent", "=1+1")]
    with pytest.raises(Conflict):
        await att.confirm(fac, sid, [Decision(own, Attendance.ATTENDED), Decision(same, Attendance.ABSENT)])
    assert [(c, d["status"], d["suggested"]) for c, d in await audited(services, "group_attendance.confirm")] == [
        (w.cases["own"], "attended", "attended"), (w.cases["same_office"], "absent", "technical_failure")]

    async with services.store.read("test") as conn:  # sealed under the cases' keys
        bodies = [r.body for r in (await conn.execute(select(group_attendance))).all()]
        assert len(bodies) == 2 and not any(b"Good contributions" in b or b"minutes" in b for b in bodies)
        events = (await conn.execute(select(func.count()).select_from(group_attendance_events))).scalar_one()
        assert events == 7

    text = await att.csv(fac, sid)
    assert "Client,attended,90" in text and "'=1+1" in text

    # The supervising officer sees the line on the case; the absence joins their follow-up list.
    lines = await att.of_case(w.actor("officer"), w.cases["own"])
    assert [(x["status"], x["details"]["minutes_present"], x["details"]["note"]) for x in lines] == [
        ("attended", 90, "Good contributions")]
    with pytest.raises(OutOfScope):
        await att.of_case(w.actor("officer3"), w.cases["own"])
    assert [r.client_name for r in await att.absences(w.actor("officer2"))] == ["Client_Same"]
    assert await att.absences(w.actor("officer")) == []
    assert [r.case_id for r in await att.absences(w.actor("senior"))] == [w.cases["same_office"]]
    assert await att.absences(w.actor("senior_b")) == []
    with pytest.raises(PolicyRefused):
        await att.absences(fac)


async def test_in_room_presence_is_marked_by_the_facilitator(api: Any) -> None:
    _client, services = api
    w = await build(services)
    cohort_id = await cohort_with_two(services, w)
    gs, att, fac, clock = services.group_sessions, services.attendance, w.actor("facilitator"), services.clock
    start = clock.now() + timedelta(minutes=5)
    sid = (await gs.schedule(fac, cohort_id, NewSession(start, start + timedelta(minutes=60))))[0].id
    clock.advance(timedelta(minutes=10))
    await att.mark_in_room(fac, sid, w.clients["own"], True)
    with pytest.raises(NotFound):
        await att.mark_in_room(fac, sid, w.users["officer"], True)
    with pytest.raises(PolicyRefused):
        await att.mark_in_room(w.actor("officer"), sid, w.clients["own"], True)
    register = await att.register(fac, sid)
    assert [(r.line.in_room, r.line.suggestion) for r in register.lines] == [
        (True, Attendance.ATTENDED), (False, Attendance.ABSENT)]


async def test_retention_shreds_the_register_with_the_cases_bucket(api: Any) -> None:
    _client, services = api
    w = await build(services)
    cohort_id = await cohort_with_two(services, w)
    gs, att, fac, clock = services.group_sessions, services.attendance, w.actor("facilitator"), services.clock
    start = clock.now() + timedelta(minutes=5)
    sid = (await gs.schedule(fac, cohort_id, NewSession(start, start + timedelta(minutes=60))))[0].id
    clock.advance(timedelta(minutes=10))
    await att.record(sid, w.clients["own"], "present")
    await att.confirm(fac, sid, [Decision(w.clients["own"], Attendance.ATTENDED),
                                 Decision(w.clients["same_office"], Attendance.EXCUSED)])
    assert len(await att.of_case(w.actor("officer"), w.cases["own"])) == 1
    clock.advance(timedelta(days=1095 + 62))  # group_attendance: three years, then the month's bucket goes
    await services.retention.sweeper.run()
    async with services.store.read("test") as conn:
        for table in (group_attendance, group_attendance_events):
            assert (await conn.execute(select(func.count()).select_from(table))).scalar_one() == 0
    assert await att.of_case(w.actor("officer"), w.cases["own"]) == []


async def test_the_routes_schedule_agree_and_keep_the_register(api: Any) -> None:
    client, services = api
    w = await build(services)
    await add_office_b(services, w)
    cohort_id = await cohort_with_two(services, w)
    f_h, c_h = await login(client, "facilitator"), await login(client, "client")
    start = services.clock.now() + timedelta(minutes=2)
    resp = await client.post(f"/api/groups/{cohort_id}/sessions", headers=f_h, json={
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=60)).isoformat(),
        "recurrence": {"interval_weeks": 1, "count": 2, "timezone": "Europe/Tallinn"}})
    assert resp.status == 201, await resp.text()
    made = (await resp.json())["sessions"]
    assert len(made) == 2 and made[0]["group_name"] == "Tuesday"
    resp = await client.post(f"/api/groups/{cohort_id}/sessions", headers=f_h, json={
        "starts_at": "2026-01-06T16:00:00", "ends_at": "2026-01-06T17:00:00Z"})
    assert resp.status == 422  # a time without a zone is ambiguous
    resp = await client.post(f"/api/groups/{cohort_id}/sessions", headers=f_h, json={
        "starts_at": start.isoformat(), "ends_at": start.isoformat(), "colour": "red"})
    assert resp.status == 422  # strict: unknown fields refused
    listed = await (await client.get(f"/api/groups/{cohort_id}/sessions", headers=c_h)).json()
    assert [x["id"] for x in listed["sessions"]] == [x["id"] for x in made]
    sid = made[0]["id"]

    resp = await client.put(f"/api/groups/{cohort_id}/agreement", headers=f_h,
                            json={"text": "What is said here stays here.", "auto_admit": False})
    assert resp.status == 200 and (await resp.json())["version"] == 1
    got = await (await client.get(f"/api/groups/{cohort_id}/agreement", headers=c_h)).json()
    assert (got["text"], got["accepted"]) == ("What is said here stays here.", False)
    assert (await client.post(f"/api/groups/{cohort_id}/agreement/acceptance", headers=c_h,
                              json={"version": 1})).status == 204
    assert (await (await client.get(f"/api/groups/{cohort_id}/agreement", headers=c_h)).json())["accepted"]
    assert (await client.post(f"/api/groups/{cohort_id}/agreement/acceptance", headers=f_h,
                              json={"version": 1})).status == 403  # clients accept, staff do not

    services.clock.advance(timedelta(minutes=3))
    await services.attendance.record(sid, w.clients["own"], "present")
    services.clock.advance(timedelta(minutes=60))
    f_h = await login(client, "facilitator")  # signed out while idle
    resp = await client.get(f"/api/group-sessions/{sid}/register", headers=f_h)
    reg_ = await resp.json()
    assert resp.status == 200, reg_
    assert [(x["display_name"], x["suggestion"]) for x in reg_["lines"]] == [
        ("Client", "attended"), ("Client_Same", "absent")]
    assert (await client.get(f"/api/group-sessions/{sid}/register.csv", headers=f_h)).status == 409
    lines = [{"user_id": w.clients["own"], "status": "attended"},
             {"user_id": w.clients["same_office"], "status": "excused", "note": "Court date"}]
    resp = await client.post(f"/api/group-sessions/{sid}/register", headers=f_h,
                             json={"lines": [{**lines[0], "status": "present"}]})
    assert resp.status == 422
    resp = await client.post(f"/api/group-sessions/{sid}/register", headers=f_h, json={"lines": lines})
    assert resp.status == 200, await resp.text()
    assert [x["status"] for x in (await resp.json())["lines"]] == ["attended", "excused"]
    resp = await client.get(f"/api/group-sessions/{sid}/register.csv", headers=f_h)
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "Client_Same,excused" in await resp.text()

    # Office B: every one of these answers as if the group or session did not exist.
    for user in ("senior_b", "facilitator_b"):
        h = await login(client, user)
        for method, url in (("GET", f"/api/groups/{cohort_id}/sessions"),
                            ("GET", f"/api/group-sessions/{sid}/register"),
                            ("GET", f"/api/group-sessions/{sid}/register.csv"),
                            ("GET", f"/api/groups/{cohort_id}/agreement")):
            resp = await client.request(method, url, headers=h)
            assert resp.status == 404, (user, url, await resp.text())
    resp = await client.get(f"/api/group-sessions/{sid}/register", headers=await login(client, "officer"))
    assert resp.status == 403
    resp = await client.post(f"/api/group-sessions/{sid}/cancel", headers=f_h, json={"scope": "following"})
    assert resp.status == 200 and (await resp.json())["cancelled"] == [made[1]["id"]]  # the confirmed one stays


async def test_a_server_change_over_in_the_register(api: Any) -> None:
    """A takeover's ``interrupted`` evidence is kept like any other; whoever comes back was present
    all along, whoever does not is a technical failure, never absent."""
    _client, services = api
    w = await build(services)
    cohort_id = await cohort_with_two(services, w)
    gs, att, fac, clock = services.group_sessions, services.attendance, w.actor("facilitator"), services.clock
    start = clock.now() + timedelta(minutes=10)
    sid = (await gs.schedule(fac, cohort_id, NewSession(start, start + timedelta(minutes=90))))[0].id
    own, same = w.clients["own"], w.clients["same_office"]
    clock.advance(timedelta(minutes=10))
    for user in (own, same):
        await att.record(sid, user, "arrived")
        await att.record(sid, user, "present")
    clock.advance(timedelta(minutes=30))
    for user in (own, same):
        await att.record(sid, user, "absent", detail="interrupted")
    await att.record(sid, own, "present")  # back at once: the same instant as the change-over
    clock.advance(timedelta(minutes=1))
    await att.record(sid, same, "absent", detail="gone")
    clock.advance(timedelta(minutes=59))
    await att.record(sid, own, "absent", detail="ended")
    lines = (await att.register(fac, sid)).lines
    assert [(r.line.minutes_present, r.line.suggestion) for r in lines] == [
        (90, Attendance.ATTENDED), (30, Attendance.TECHNICAL_FAILURE)]
    assert "server changed over" in lines[0].line.reasons[-1] and "not an absence" in lines[1].line.reasons[-1]
