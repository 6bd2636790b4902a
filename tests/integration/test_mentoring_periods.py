"""Mentoring periods (issue 16, section 2) on SQLite and PostgreSQL: the period's end takes
the mentor out of the mentee's conversation and log and stops the mentee writing, refused by
the ``mentoring`` rule (``mentoring_period_ended``); the officer extends a period with an
audited reason; the mentor's activity log (notes encrypted as case notes) is seen by the
officer and by the mentee in "my data"; both record an outcome; another office sees none of it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.store.schema import audit_log, data_keys
from server.store.schema_mentoring import mentoring_activities
from tests.helpers.http import error_of, row_counts
from tests.helpers.world import World, add_office_b, build, login
from tests.integration.test_attachments import PNG, upload
from tests.integration.test_mentoring import assign, mentoring_with, new_mentor, talk
from tests.integration.test_messaging import connect, next_of

RULE = "mentoring_period_ended"


async def period(client: Any, services: Any, w: World, days: int = 5) -> tuple[str, str, str]:
    """A new mentor ("mentor1") assigned to the client of "own" for ``days`` more days: the
    assignment id, the mentoring conversation id and an attachment sent in it."""
    mentor = w.users["mentor1"] = await new_mentor(services, w, "mentor1")
    o_h, c_h, m_h = await login(client, "officer"), await login(client, "client"), await login(client, "mentor1")
    ends_on = (services.clock.now().date() + timedelta(days=days)).isoformat()
    resp = await client.post("/api/mentor-assignments", headers=o_h,
                             json={"mentor_id": mentor, "client_id": w.clients["own"], "ends_on": ends_on})
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    conversation = (await mentoring_with(client, c_h, mentor))["id"]
    attachment = await talk(client, c_h, m_h, conversation)
    return made["id"], conversation, attachment


async def activity(client: Any, headers: dict[str, str], assignment: str, **body: Any) -> Any:
    return await client.post(f"/api/mentoring/{assignment}/activities", headers=headers,
                             json={"kind": "meeting", "done_on": body.pop("done_on"), "hours": 1.5} | body)


async def refused(resp: Any) -> None:
    err = await error_of(resp, 403, "policy_refused")
    assert err["rule_id"] == RULE, err


async def test_the_end_of_the_period_refuses_the_mentor_and_the_mentees_writes(api: Any) -> None:
    client, services = api
    w = await build(services)
    assignment, conversation, attachment = await period(client, services, w, days=5)
    today = services.clock.now().date()
    m_h = await login(client, "mentor1")
    assert (await activity(client, m_h, assignment, done_on=today.isoformat(), note="First talk")).status == 201
    # On the last day the period still runs.
    services.clock.advance(timedelta(days=5))
    m_h, c_h = await login(client, "mentor1"), await login(client, "client")
    mine = (await (await client.get("/api/mentoring", headers=m_h)).json())["periods"]
    assert [(p["assignment_id"], p["days_left"], p["running"]) for p in mine] == [(assignment, 0, True)]
    assert (await client.get(f"/api/conversations/{conversation}/messages", headers=m_h)).status == 200
    # The day after, the mentor's access has ended, and nobody writes in the mentoring.
    services.clock.advance(timedelta(days=1))
    m_h, c_h = await login(client, "mentor1"), await login(client, "client")
    m_ws, c_ws = await connect(client, m_h), await connect(client, c_h)
    before = await row_counts(services)
    await refused(await client.get(f"/api/conversations/{conversation}/messages", headers=m_h))
    await refused(await client.get(f"/api/attachments/{attachment}", headers=m_h))
    await refused(await upload(client, m_h, conversation, PNG, "image/png"))
    await refused(await upload(client, c_h, conversation, PNG, "image/png"))
    await refused(await client.get(f"/api/mentoring/{assignment}", headers=m_h))
    await refused(await activity(client, m_h, assignment, done_on=today.isoformat()))
    for ws in (m_ws, c_ws):
        await ws.send_json({"type": "send", "id": "late1", "conversation_id": conversation, "body": "still there?"})
        err = await next_of(ws, "error")
        assert (err["code"], err["rule_id"]) == ("policy_refused", RULE), err
    resumed = await connect(client, m_h, resume={conversation: 0})
    assert (await next_of(resumed, "error"))["rule_id"] == RULE
    assert await row_counts(services) == before
    # The mentee is off the mentor's lists; the conversation is gone from the mentor's.
    assert (await (await client.get("/api/mentees", headers=m_h)).json())["mentees"] == []
    convs = (await (await client.get("/api/conversations", headers=m_h)).json())["conversations"]
    assert conversation not in [c["id"] for c in convs]
    mine = (await (await client.get("/api/mentoring", headers=m_h)).json())["periods"]
    assert [(p["running"], p["outcome_open"], p["activities"]) for p in mine] == [(False, True, [])]
    # The mentee keeps reading the history and is told why they cannot write.
    page = await (await client.get(f"/api/conversations/{conversation}/messages", headers=c_h)).json()
    assert len(page["messages"]) == 2
    assert (await client.get(f"/api/attachments/{attachment}", headers=c_h)).status == 200
    convs = (await (await client.get("/api/conversations", headers=c_h)).json())["conversations"]
    [mentoring] = [c for c in convs if c["id"] == conversation]
    assert (mentoring["may_send"], mentoring["rule_id"], mentoring["why_not"]["code"]) == (
        False, RULE, "mentoring_period_ended.ended")
    for ws in (m_ws, c_ws, resumed):
        await ws.close()


async def test_the_officer_extends_a_period_with_a_reason_that_is_audited(api: Any) -> None:
    client, services = api
    w = await build(services)
    assignment, conversation, _ = await period(client, services, w, days=2)
    services.clock.advance(timedelta(days=3))  # the period has ended
    o_h, m_h, s_h = await login(client, "officer"), await login(client, "mentor1"), await login(client, "senior")
    await refused(await client.get(f"/api/conversations/{conversation}/messages", headers=m_h))
    today = services.clock.now().date()
    url = f"/api/mentor-assignments/{assignment}/extend"
    before = await row_counts(services)
    for body, status, code in (
            ({"ends_on": (today + timedelta(days=60)).isoformat(), "reason": ""}, 422, "invalid_request"),
            ({"ends_on": today.isoformat(), "reason": "Needs more time"}, 422, "invalid_request"),  # not ahead
            ({"ends_on": (today + timedelta(days=731)).isoformat(), "reason": "Long"}, 422, "invalid_request")):
        await error_of(await client.post(url, headers=o_h, json=body), status, code)
    await error_of(await client.post(url, headers=m_h, json={"ends_on": "2027-01-01", "reason": "x"}), 403,
                   "forbidden")
    assert await row_counts(services) == before
    ends_on = (today + timedelta(days=60)).isoformat()
    resp = await client.post(url, headers=s_h, json={"ends_on": ends_on, "reason": "Court hearing moved to March"})
    assert resp.status == 200 and (await resp.json())["ends_on"] == ends_on, await resp.text()
    await error_of(await client.post(url, headers=o_h, json={"ends_on": ends_on, "reason": "Again"}), 409, "conflict")
    # Open again: the mentor reads and writes, the case page shows the new end.
    assert (await client.get(f"/api/conversations/{conversation}/messages", headers=m_h)).status == 200
    assert (await activity(client, m_h, assignment, done_on=today.isoformat())).status == 201
    periods = (await (await client.get(f"/api/cases/{w.cases['own']}/mentoring", headers=o_h)).json())["periods"]
    assert {p["assignment_id"]: (p["ends_on"], p["days_left"]) for p in periods}[assignment] == (ends_on, 60)
    async with services.store.read("t") as conn:
        rows = (await conn.execute(select(audit_log).where(audit_log.c.action == "mentoring.extend"))).all()
    details = [json.loads(r.details) if isinstance(r.details, str) else r.details for r in rows]
    assert [(r.actor_id, r.case_id, d["reason"], d["to"]) for r, d in zip(rows, details, strict=True)] == [
        (w.users["senior"], w.cases["own"], "Court hearing moved to March", ends_on)]


async def test_activities_are_encrypted_and_seen_by_the_officer_and_the_mentee(api: Any) -> None:
    client, services = api
    w = await build(services)
    assignment, _, _ = await period(client, services, w, days=30)
    m_h, o_h, c_h = await login(client, "mentor1"), await login(client, "officer"), await login(client, "client")
    other_mentor = await login(client, "mentor")
    today = services.clock.now().date()
    before = await row_counts(services)
    for body, status, code in (
            ({"done_on": (today + timedelta(days=1)).isoformat()}, 422, "invalid_request"),  # in the future
            ({"done_on": (today - timedelta(days=1)).isoformat()}, 422, "invalid_request"),  # before the period
            ({"done_on": today.isoformat(), "kind": "party"}, 422, "invalid_request"),
            ({"done_on": today.isoformat(), "hours": 0}, 422, "invalid_request"),
            ({"done_on": today.isoformat(), "note": "x" * 501}, 422, "invalid_request")):
        await error_of(await activity(client, m_h, assignment, **body), status, code)
    # Another mentor's assignment, and an unknown one, do not exist for this mentor.
    await error_of(await activity(client, other_mentor, assignment, done_on=today.isoformat()),
                   404, "not_found")
    await error_of(await activity(client, m_h, "nope", done_on=today.isoformat()), 404, "not_found")
    assert await row_counts(services) == before
    for kind, hours, note in (("meeting", 1.5, "Talked about the job interview"), ("debts", 2, ""),
                              ("court_conditions", 0.25, "Went with them to the community work office")):
        resp = await activity(client, m_h, assignment, done_on=today.isoformat(), kind=kind, hours=hours, note=note)
        assert resp.status == 201, await resp.text()
    async with services.store.read("t") as conn:
        rows = (await conn.execute(select(mentoring_activities, data_keys.c.category)
                                   .join(data_keys, data_keys.c.id == mentoring_activities.c.key_id))).all()
    assert {r.category for r in rows} == {"case_notes"} and {r.case_id for r in rows} == {w.cases["own"]}
    assert not any(b"job interview" in r.body for r in rows)
    want = [("meeting", 1.5, "Talked about the job interview"), ("debts", 2.0, ""),
            ("court_conditions", 0.25, "Went with them to the community work office")]
    # The officer's case page, the mentee's "my data", the mentor's own list: the same log.
    for url, h in ((f"/api/cases/{w.cases['own']}/mentoring", o_h), ("/api/my/mentoring", c_h),
                   ("/api/mentoring", m_h)):
        periods = (await (await client.get(url, headers=h)).json())["periods"]
        [p] = [p for p in periods if p["assignment_id"] == assignment]
        assert sorted((a["kind"], a["hours"], a["note"]) for a in p["activities"]) == sorted(want), url
        assert p["hours"] == 3.75 and p["mentor"]["display_name"] == "Mentor1"
    exported = await (await client.get("/api/my/data", headers=c_h)).json()
    notes = [i["content"] for i in exported["categories"]["case_notes"]["items"]]
    assert "Talked about the job interview" in notes
    # Every read is audited, naming the case.
    async with services.store.read("t") as conn:
        reads = (await conn.execute(select(audit_log.c.actor_id, audit_log.c.case_id)
                                    .where(audit_log.c.action == "mentoring.read",
                                           audit_log.c.target_id == assignment))).all()
    assert {(r.actor_id, r.case_id) for r in reads} == {(w.users[u], w.cases["own"])
                                                         for u in ("officer", "client", "mentor1")}


async def test_the_mentor_and_the_officer_each_record_an_outcome(api: Any) -> None:
    client, services = api
    w = await build(services)
    assignment, conversation, _ = await period(client, services, w, days=10)
    m_h, o_h = await login(client, "mentor1"), await login(client, "officer")
    mentor_url, officer_url = f"/api/mentoring/{assignment}/outcome", f"/api/mentor-assignments/{assignment}/outcome"
    before = await row_counts(services)
    await error_of(await client.post(officer_url, headers=o_h, json={"outcome": "ended_early"}), 422, "invalid_request")
    await error_of(await client.post(officer_url, headers=o_h, json={"outcome": "gone"}), 422, "invalid_request")
    await error_of(await client.post(mentor_url, headers=o_h, json={"outcome": "completed"}), 403, "forbidden")
    assert await row_counts(services) == before
    # The mentor says how it went; once.
    assert (await client.post(mentor_url, headers=m_h, json={"outcome": "completed"})).status == 204
    await error_of(await client.post(mentor_url, headers=m_h, json={"outcome": "completed"}), 409, "conflict")
    # The officer ends it early, with the reason: the mentor leaves the conversation.
    resp = await client.post(officer_url, headers=o_h, json={"outcome": "ended_early",
                                                             "reason": "Moved to another region"})
    assert resp.status == 204, await resp.text()
    await error_of(await client.get(f"/api/conversations/{conversation}/messages", headers=m_h), 404, "not_found")
    periods = (await (await client.get(f"/api/cases/{w.cases['own']}/mentoring", headers=o_h)).json())["periods"]
    [p] = [p for p in periods if p["assignment_id"] == assignment]
    assert p["running"] is False and p["ended_at"] is not None
    assert [(o["party"], o["outcome"], o["reason"]) for o in p["outcomes"]] == [
        ("mentor", "completed", ""), ("officer", "ended_early", "Moved to another region")]
    c_h = await login(client, "client")
    mine = (await (await client.get("/api/my/mentoring", headers=c_h)).json())["periods"]
    assert [o["outcome"] for o in next(x for x in mine if x["assignment_id"] == assignment)["outcomes"]] == [
        "completed", "ended_early"]


async def test_the_mentor_records_the_outcome_after_the_end_until_the_policy_says(api: Any) -> None:
    client, services = api
    w = await build(services)
    assignment, _, _ = await period(client, services, w, days=1)
    days = services.policy.engine.policies.mentoring.outcome_days
    services.clock.advance(timedelta(days=2 + days))  # past the end and the time for the outcome
    m_h = await login(client, "mentor1")
    assert (await (await client.get("/api/mentoring", headers=m_h)).json())["periods"] == []
    resp = await client.post(f"/api/mentoring/{assignment}/outcome", headers=m_h,
                             json={"outcome": "ended_early", "reason": "Stopped coming"})
    err = await error_of(resp, 403, "policy_refused")
    assert (err["rule_id"], err["reason"]) == (RULE, "mentoring_period_ended.outcome_closed")
    # The officer's outcome has no such limit.
    resp = await client.post(f"/api/mentor-assignments/{assignment}/outcome", headers=await login(client, "officer"),
                             json={"outcome": "completed"})
    assert resp.status == 204, await resp.text()


async def test_another_office_sees_no_mentoring(api: Any) -> None:
    client, services = api
    w = await build(services)
    await add_office_b(services, w)
    assignment, _, _ = await period(client, services, w, days=30)
    today = services.clock.now().date().isoformat()
    headers = {u: await login(client, u) for u in ("officer3", "senior_b", "officer2", "mentor_b")}
    before = await row_counts(services)
    for username in ("officer3", "senior_b", "officer2"):
        h = headers[username]
        await error_of(await client.post(f"/api/mentor-assignments/{assignment}/extend", headers=h,
                                         json={"ends_on": "2026-12-01", "reason": "x"}), 404, "not_found")
        await error_of(await client.post(f"/api/mentor-assignments/{assignment}/outcome", headers=h,
                                         json={"outcome": "completed"}), 404, "not_found")
        await error_of(await client.get(f"/api/cases/{w.cases['own']}/mentoring", headers=h), 404, "not_found")
    m_b = headers["mentor_b"]
    await error_of(await activity(client, m_b, assignment, done_on=today), 404, "not_found")
    await error_of(await client.get(f"/api/mentoring/{assignment}", headers=m_b), 404, "not_found")
    await error_of(await client.post(f"/api/mentoring/{assignment}/outcome", headers=m_b,
                                     json={"outcome": "completed"}), 404, "not_found")
    assert await row_counts(services) == before
    periods = (await (await client.get("/api/mentoring", headers=m_b)).json())["periods"]
    assert [p["mentee"]["display_name"] for p in periods] == ["Client_Other"]


async def test_a_mentor_whose_period_ended_is_assigned_again_for_a_new_period(api: Any) -> None:
    client, services = api
    w = await build(services)
    assignment, conversation, _ = await period(client, services, w, days=3)
    o_h = await login(client, "officer")
    await error_of(await assign(client, o_h, w.users["mentor1"], w.clients["own"]), 409, "already_assigned")
    services.clock.advance(timedelta(days=4))  # the period has ended, the assignment still stands
    o_h, m_h = await login(client, "officer"), await login(client, "mentor1")
    resp = await assign(client, o_h, w.users["mentor1"], w.clients["own"])
    assert resp.status == 201, await resp.text()
    again = (await resp.json())["id"]
    # The old one is ended (its conversation closed, the mentor out of it); the new one starts empty.
    await error_of(await client.get(f"/api/conversations/{conversation}/messages", headers=m_h), 404, "not_found")
    fresh = await mentoring_with(client, m_h, w.users["mentor1"])
    assert fresh["id"] != conversation and fresh["last_seq"] == 0
    periods = (await (await client.get(f"/api/cases/{w.cases['own']}/mentoring", headers=o_h)).json())["periods"]
    by_id = {p["assignment_id"]: p for p in periods}
    assert by_id[assignment]["ended_at"] is not None and by_id[again]["running"] is True
