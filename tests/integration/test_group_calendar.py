"""Group sessions in scheduling's shared machinery (issue 14): reminders to participants and
staff through the appointments' reminder pass (once per offset, in-app frame, content-free
push), a session's and a series' ``.ics``, the members' upcoming list, and a confirmed
absence on the supervising officer's follow-up list with the case's attendance lines.
SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from server.groups.attendance import Decision
from server.groups.register import Attendance
from server.groups.sessions import NewSession
from server.scheduling.model import Recurrence
from server.store.schema import audit_log
from server.store.schema_groups import group_session_reminders
from tests.helpers.world import add_office_b, build, login
from tests.integration.test_group_sessions import cohort_with_two
from tests.integration.test_messaging import connect, next_of
from tests.integration.test_push import Browser, start_push_endpoint, subscribe

START = datetime.fromisoformat("2026-01-07T16:00:00+00:00")  # the FakeClock starts 2026-01-05 09:00 UTC
PUSH_TO_LOOPBACK = {"push_allow_loopback_http": True}


def move_to(services: Any, moment: datetime) -> None:
    services.clock.advance(moment - services.clock.now())


async def recorded(services: Any) -> list[tuple[str, int, bool]]:
    async with services.store.read("t") as conn:
        rows = await conn.execute(select(group_session_reminders.c.user_id, group_session_reminders.c.offset_s,
                                         group_session_reminders.c.delivered))
        return sorted((r.user_id, int(r.offset_s), bool(r.delivered)) for r in rows)


async def test_group_sessions_are_reminded_once_to_participants_and_staff(app_factory: Any,
                                                                           aiohttp_server: Any) -> None:
    push = await start_push_endpoint(aiohttp_server)
    client, services = await app_factory(**PUSH_TO_LOOPBACK)
    w = await build(services)
    cohort_id = await cohort_with_two(services, w)
    fac = w.actor("facilitator")
    [session] = await services.group_sessions.schedule(fac, cohort_id, NewSession(START, START + timedelta(hours=1)))
    [gone] = await services.group_sessions.schedule(fac, cohort_id, NewSession(
        START + timedelta(hours=2), START + timedelta(hours=3)))
    await services.group_sessions.cancel(fac, gone.id)
    phone = Browser(f"{push.base}/client-phone")
    await subscribe(client, await login(client, "client"), phone)

    assert await services.reminders.run_once() == 0  # two days ahead: nothing due
    move_to(services, START - timedelta(hours=24))
    fac_ws = await connect(client, await login(client, "facilitator"))  # staff online, participants not
    assert await services.reminders.run_once() == 3  # two participants and the facilitator
    frame = await next_of(fac_ws, "reminder")
    assert (frame["group_session_id"], frame["kind"], frame["offset_s"]) == (session.id, "group", 86400)
    assert frame["starts_at"] == "2026-01-07T16:00:00Z" and "appointment_id" not in frame
    await services.push.drain()
    [(headers, body)] = push.to("/client-phone")
    assert phone.decrypt(body) == {"type": "reminder", "group_session_id": session.id}
    for leak in (b"Tuesday", b"Thinking", b"2026", b"16:00", b"Client", b"group\""):
        assert leak not in body and leak not in json.dumps(headers).encode()
    # Once: a second pass and a restarted node send nothing more.
    assert await services.reminders.run_once() == 0
    _c2, restarted = await app_factory(**PUSH_TO_LOOPBACK)
    assert await restarted.reminders.run_once() == 0
    move_to(services, START - timedelta(minutes=10))
    assert await services.reminders.run_once() == 3
    assert (await next_of(fac_ws, "reminder"))["offset_s"] == 900
    people = [w.users["facilitator"], w.clients["own"], w.clients["same_office"]]
    assert await recorded(services) == sorted([(u, o, True) for u in people for o in (86400, 900)])
    # The in-app list has them beside appointments' reminders; the cancelled session has none.
    listed = (await (await client.get("/api/reminders", headers=await login(client, "client"))).json())["reminders"]
    assert [(r["group_session_id"], r["appointment_id"], r["kind"], r["offset_s"]) for r in listed] == [
        (session.id, None, "group", 900), (session.id, None, "group", 86400)]
    async with services.store.read("t") as conn:
        sent = (await conn.execute(select(audit_log.c.target_id, audit_log.c.case_id)
                                   .where(audit_log.c.action == "reminder.send"))).all()
    assert {r.target_id for r in sent} == {session.id}
    assert sorted(str(r.case_id) for r in sent) == sorted(
        [w.cases["own"], w.cases["same_office"], "None"] * 2)
    await fac_ws.close()


async def test_ics_of_a_session_and_of_its_series(api: Any) -> None:
    client, services = api
    w = await build(services)
    await add_office_b(services, w)
    cohort_id = await cohort_with_two(services, w)
    fac = w.actor("facilitator")
    series = await services.group_sessions.schedule(fac, cohort_id, NewSession(
        START, START + timedelta(minutes=90), Recurrence(interval_weeks=1, count=3, timezone="Europe/Helsinki")))
    await services.group_sessions.cancel(fac, series[1].id)
    c_h = await login(client, "client")

    resp = await client.get(f"/api/group-sessions/{series[0].id}/ics", headers=c_h)
    assert resp.status == 200 and resp.content_type == "text/calendar"
    assert 'filename="group-session.ics"' in resp.headers["Content-Disposition"]
    text = await resp.text()
    assert text.count("BEGIN:VEVENT") == 1 and f"UID:{series[0].id}@tandem" in text
    assert "SUMMARY:Group session\r\n" in text and "DTSTART:20260107T160000Z" in text
    assert "Tuesday" not in text and "Thinking" not in text  # neutral: read on lock screens, synced elsewhere

    f_h = await login(client, "facilitator")
    resp = await client.get(f"/api/group-sessions/{series[0].id}/series.ics", headers=f_h)
    text = await resp.text()
    assert resp.status == 200 and text.count("BEGIN:VEVENT") == 3
    assert text.count("STATUS:CANCELLED") == 1 and text.count("STATUS:CONFIRMED") == 2
    assert "DTSTART:20260121T160000Z" in text

    # Not a member: the session does not exist for them; officers are fenced off.
    for who, status in (("client_other", 404), ("facilitator_b", 404), ("officer", 403)):
        resp = await client.get(f"/api/group-sessions/{series[0].id}/ics", headers=await login(client, who))
        assert resp.status == status, who
    resp = await client.get("/api/group-sessions/nope/series.ics", headers=c_h)
    assert resp.status == 404

    # The members' upcoming lists.
    mine = (await (await client.get("/api/my/group-sessions", headers=c_h)).json())["sessions"]
    assert [(s["id"], s["status"]) for s in mine] == [(series[0].id, "scheduled"), (series[1].id, "cancelled"),
                                                      (series[2].id, "scheduled")]
    other = await (await client.get("/api/my/group-sessions", headers=await login(client, "client_other"))).json()
    assert other == {"sessions": []}


async def test_absences_on_the_follow_up_list_and_the_case(api: Any) -> None:
    client, services = api
    w = await build(services)
    cohort_id = await cohort_with_two(services, w)
    fac, clock = w.actor("facilitator"), services.clock
    start = clock.now() + timedelta(hours=1)
    [session] = await services.group_sessions.schedule(fac, cohort_id, NewSession(start, start + timedelta(hours=1)))
    clock.advance(timedelta(hours=2))
    await services.attendance.confirm(fac, session.id, [
        Decision(w.clients["own"], Attendance.ATTENDED, "Good contributions"),
        Decision(w.clients["same_office"], Attendance.ABSENT)])

    o2 = await login(client, "officer2")
    body = await (await client.get("/api/followups/group-absences", headers=o2)).json()
    assert [(a["session_id"], a["case_id"], a["client"]["display_name"], a["group_name"])
            for a in body["absences"]] == [(session.id, w.cases["same_office"], "Client_Same", "Tuesday")]
    officer = await login(client, "officer")
    assert (await (await client.get("/api/followups/group-absences", headers=officer)).json()) == {"absences": []}
    senior = await (await client.get("/api/followups/group-absences", headers=await login(client, "senior"))).json()
    assert [a["case_id"] for a in senior["absences"]] == [w.cases["same_office"]]

    lines = (await (await client.get(f"/api/cases/{w.cases['own']}/group-attendance", headers=officer)).json())
    assert [(x["session_id"], x["status"], x["group_name"], x["note"]) for x in lines["lines"]] == [
        (session.id, "attended", "Tuesday", "Good contributions")]
    assert lines["lines"][0]["minutes_present"] == 0
    resp = await client.get(f"/api/cases/{w.cases['own']}/group-attendance", headers=o2)
    assert resp.status in (403, 404)  # not officer2's case
    async with services.store.read("t") as conn:
        reads = (await conn.execute(select(audit_log.c.case_id, audit_log.c.details)
                                    .where(audit_log.c.action == "group_attendance.read"))).all()
    assert (w.cases["same_office"], {"via": "followups"}) in [(r.case_id, json.loads(r.details)) for r in reads]
