""""How did this go?" after a live group session (issue 16, section 3), on SQLite and
PostgreSQL through the HTTP API: a participant who was let into the session and the session's
staff answer once each; a participant who never got in, the room device, another office and a
second answer are refused (the rule named); the comment is sealed under the participant's case
or, for staff, the cohort, and retention clears it; the faces count in the evaluation's figures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from server.groups.attendance import Decision
from server.groups.register import Attendance
from server.groups.sessions import NewSession
from server.identity.model import Actor, Role
from server.store.schema import audit_log, data_keys
from server.store.schema_evaluation import group_feedback
from tests.helpers.http import error_of
from tests.helpers.retention import granted_erasure
from tests.helpers.world import World, build, login
from tests.integration.test_evaluation import figure, figures, seed_month
from tests.integration.test_group_sessions import cohort_with_two

URL = "/api/group-sessions/{}/feedback"
FEWER = "fewer than 5"


async def _session(services: Any, fac: Actor, cohort_id: str, *, minutes: int = 5) -> str:
    start = services.clock.now() + timedelta(minutes=minutes)
    [entry] = await services.group_sessions.schedule(fac, cohort_id, NewSession(start, start + timedelta(hours=1)))
    return str(entry.id)


async def _rows(services: Any) -> list[Any]:
    async with services.store.read("test.group_feedback") as conn:
        return list((await conn.execute(select(group_feedback).order_by(group_feedback.c.given_at))).all())


async def test_once_each_for_those_who_attended_and_the_staff(api: Any) -> None:
    client, services = api
    w = await build(services)
    cohort_id = await cohort_with_two(services, w)
    sid = await _session(services, w.actor("facilitator"), cohort_id)
    later = await _session(services, w.actor("facilitator"), cohort_id, minutes=60 * 24)
    # "client" was let in; "client_same" reached the lobby and was never admitted.
    await services.attendance.record(sid, w.clients["own"], "arrived")
    await services.attendance.record(sid, w.clients["own"], "present")
    await services.attendance.record(sid, w.clients["same_office"], "arrived")
    own, same, fac = (await login(client, "client"), await login(client, "client_same"),
                      await login(client, "facilitator"))

    resp = await client.post(URL.format(sid), headers=own, json={"face": 3, "comment": "Good group"})
    assert resp.status == 201, await resp.text()
    resp = await client.post(URL.format(sid), headers=own, json={"face": 1})
    assert (await error_of(resp, 409, "conflict"))["reason"] == "group_feedback.answered"
    resp = await client.post(URL.format(sid), headers=same, json={"face": 2})
    err = await error_of(resp, 403, "policy_refused")
    assert (err["rule_id"], err["reason"]) == ("scope", "scope.group_feedback_not_attended")
    resp = await client.post(URL.format(sid), headers=fac, json={"face": 2, "comment": "x" * 1000})
    assert resp.status == 201, await resp.text()
    # Not before the session's window opens; a comment over 1000 characters; a fourth face.
    resp = await client.post(URL.format(later), headers=fac, json={"face": 2})
    assert (await error_of(resp, 409, "conflict"))["reason"] == "group_feedback.not_yet"
    for body in ({"face": 2, "comment": "x" * 1001}, {"face": 4}, {"face": 2, "extra": 1}):
        resp = await client.post(URL.format(sid), headers=await login(client, "senior"), json=body)
        assert resp.status == 422, body
    # The room device has no answer to give; another office's people find no session.
    resp = await client.post(URL.format(sid), headers=await login(client, "room_device"), json={"face": 2})
    assert resp.status in (403, 404)
    for name in ("client_other", "senior_b", "officer3"):
        resp = await client.post(URL.format(sid), headers=await login(client, name), json={"face": 2})
        assert resp.status in (403, 404), name

    rows = await _rows(services)
    assert [(r.side, r.face, r.case_id) for r in rows] == [("client", 3, w.cases["own"]), ("staff", 2, None)]
    assert all(r.comment is not None and b"Good" not in r.comment and b"xxxx" not in r.comment for r in rows)
    async with services.store.read("test.keys") as conn:
        owners = {r.id: r.case_id for r in (await conn.execute(select(data_keys))).all()}
        audited = (await conn.execute(select(audit_log).where(audit_log.c.action == "group_session.feedback"))).all()
    assert [owners[r.key_id] for r in rows] == [w.cases["own"], cohort_id]  # the case's, the cohort's
    assert [(a.actor_id, a.case_id) for a in audited] == [(w.clients["own"], w.cases["own"]),
                                                          (w.users["facilitator"], None)]

    # Retention clears both comments after their month plus 30 days; the faces stay.
    sweeper = services.retention.sweeper
    services.clock.advance(timedelta(days=26 + 29))
    assert (await sweeper.dry_run()).items.get("feedback_comments", 0) == 0
    services.clock.advance(timedelta(days=2))
    assert (await sweeper.dry_run()).items["feedback_comments"] == 2
    await sweeper.run()
    after = await _rows(services)
    assert [(r.side, r.face, r.comment, r.key_id) for r in after] == [("client", 3, None, None),
                                                                      ("staff", 2, None, None)]


async def test_the_confirmed_register_decides_who_attended(api: Any) -> None:
    client, services = api
    w = await build(services)
    cohort_id = await cohort_with_two(services, w)
    sid = await _session(services, w.actor("facilitator"), cohort_id)
    await services.attendance.record(sid, w.clients["own"], "present")
    services.clock.advance(timedelta(hours=2))
    await services.attendance.confirm(w.actor("facilitator"), sid, [
        Decision(w.clients["own"], Attendance.ABSENT), Decision(w.clients["same_office"], Attendance.PARTLY)])
    resp = await client.post(URL.format(sid), headers=await login(client, "client"), json={"face": 2})
    assert (await error_of(resp, 403, "policy_refused"))["reason"] == "scope.group_feedback_not_attended"
    resp = await client.post(URL.format(sid), headers=await login(client, "client_same"), json={"face": 2})
    assert resp.status == 201


async def test_group_answers_count_in_the_figures(api: Any) -> None:
    """With the seeded month (a1..a5 "happy" after check-ins; the officer's five answers, one
    person): a1 answers "unhappy" after a group session, the facilitator "happy"."""
    client, services = api
    seeded = await seed_month(services)
    w: World = seeded["w"]
    fac = w.actor("facilitator")
    cohort_id = await services.groups.create_cohort(fac, name="Evening", programme="Thinking Skills")
    for name in ("a1", "a2"):
        await services.groups.enrol(fac, cohort_id, w.cases[name])
    sid = await _session(services, fac, cohort_id)
    await services.attendance.record(sid, w.clients["a1"], "present")
    a1 = Actor(w.clients["a1"], "a1", "A1", Role.CLIENT, None, "en", False)
    await services.group_feedback.give(a1, sid, face=1)
    await services.group_feedback.give(fac, sid, face=3, comment="Went well")
    senior = await login(client, "senior")
    body = await figures(client, senior)
    assert figure(body, "feedback_client") == {"happy": [5], "neutral": [0], "unhappy": [FEWER]}
    assert figure(body, "feedback_staff") == {"happy": [FEWER], "neutral": [FEWER], "unhappy": [FEWER]}
    b_view = await figures(client, await login(client, "senior_b"))
    assert figure(b_view, "feedback_staff") == {"happy": [0], "neutral": [0], "unhappy": [0]}
    # A staff answer has no case: a language filter leaves it out; a phone channel leaves all out.
    eva = await login(client, "evaluator")
    assert figure(await figures(client, eva, language="fi"), "feedback_staff")["happy"] == [0]
    assert figure(await figures(client, eva, language="fi"), "feedback_client")["unhappy"] == [FEWER]
    assert figure(await figures(client, eva, channel="phone"), "feedback_client")["unhappy"] == [0]


async def test_a_participants_answers_are_in_their_export_and_go_with_their_erasure(api: Any) -> None:
    """GDPR for the group question: a participant's answers (the face alone, or with a comment) are
    in their export, without the ciphertext; the comment becomes unreadable 30 days after its
    month (a legal hold on their case keeps theirs), the face stays in their export and in the
    figures; a staff member's comment, sealed under the cohort, goes at the same time whatever the
    hold, is in no client's export, and a cohort is not counted as a case; a granted erasure of
    ``feedback_comments`` deletes the participant's answers, faces too, and leaves the staff's."""
    client, services = api
    w = await build(services)
    fac = w.actor("facilitator")
    cohort_id = await cohort_with_two(services, w)
    first = await _session(services, fac, cohort_id)
    await services.attendance.record(first, w.clients["own"], "present")
    me = await login(client, "client")
    resp = await client.post(URL.format(first), headers=me, json={"face": 3, "comment": "Good group"})
    assert resp.status == 201, await resp.text()
    resp = await client.post(URL.format(first), headers=await login(client, "facilitator"),
                             json={"face": 1, "comment": "Staff words about the session"})
    assert resp.status == 201
    services.clock.advance(timedelta(hours=2))
    second = await _session(services, fac, cohort_id)
    await services.attendance.record(second, w.clients["own"], "present")
    assert (await client.post(URL.format(second), headers=me, json={"face": 2})).status == 201

    async def mine() -> dict[str, Any]:
        # A fresh login each time: the clock moves past a session's lifetime.
        data: dict[str, Any] = (await (await client.get("/api/my/data", headers=await login(client, "client"))).json())
        assert "Staff words" not in str(data)
        return data["categories"]["feedback_comments"]  # type: ignore[no-any-return]

    answers = await mine()
    assert [(i["session_id"], i["face"], i.get("content")) for i in answers["items"]] == [
        (first, 3, "Good group"), (second, 2, None)]
    assert answers["count"] == 2 and all("comment" not in i and "key_id" not in i for i in answers["items"])
    now = services.clock.now()
    month_end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    assert answers["next_expiry_at"] == (month_end + timedelta(days=30)).isoformat()

    # Past the month plus 30 days, with the participant's case under legal hold: the staff
    # comment (the cohort's bucket) goes; the participant's stays, held.
    await services.retention.set_hold(w.actor("senior"), w.cases["own"], "Appeal pending")
    services.clock.advance(month_end + timedelta(days=30, hours=1) - now)
    sweeper = services.retention.sweeper
    report = await sweeper.dry_run()
    assert report.items["feedback_comments"] == 1 and report.buckets["feedback_comments"] == 1
    assert report.cases == set()  # the cohort owns the staff comment's bucket; it is not a case
    await sweeper.run()
    staff = [(r.face, r.comment, r.key_id) for r in await _rows(services) if r.side == "staff"]
    assert staff == [(1, None, None)]
    assert [i.get("content") for i in (await mine())["items"]] == ["Good group", None]

    # The hold lifted, the next sweep clears the participant's comment; the faces stay theirs.
    await services.retention.lift_hold(w.actor("admin"), w.cases["own"], "Appeal decided")
    assert (await sweeper.dry_run()).cases == {w.cases["own"]}
    await sweeper.run()
    assert sorted((r.side, r.face, r.comment) for r in await _rows(services)) == [
        ("client", 2, None), ("client", 3, None), ("staff", 1, None)]
    answers = await mine()
    assert [(i["face"], i.get("content")) for i in answers["items"]] == [(3, None), (2, None)]
    assert answers["next_expiry_at"] is None  # nothing sealed is left to expire; the faces are kept
    page = await (await client.get("/api/my/data?format=html", headers=await login(client, "client"))).text()
    assert "2 items; kept 30 days after the end of each month, then shred; next removal: none (kept as counts" in page
    body = await figures(client, await login(client, "senior"), first=now.strftime("%Y-%m"),
                         last=now.strftime("%Y-%m"))
    assert figure(body, "feedback_client") == {"happy": [FEWER], "neutral": [FEWER], "unhappy": [0]}

    # A granted erasure of the category: the participant's answers go whole; the staff's face stays.
    await granted_erasure(client, ["feedback_comments"])
    assert (await mine())["items"] == []
    assert [(r.side, r.user_id) for r in await _rows(services)] == [("staff", w.users["facilitator"])]
    async with services.store.read("test.audit") as conn:
        granted = (await conn.execute(select(audit_log).where(audit_log.c.action == "request.granted"))).one()
    assert json.loads(granted.details)["records_erased"] == 2
