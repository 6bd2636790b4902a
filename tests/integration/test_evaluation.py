"""Evaluation figures (issue 16, section 3) on SQLite and PostgreSQL, asserted against a month
of data built through the action functions: appointments and their outcomes, check-ins with
their admission, safe-space answers, "can't talk now" and the question after a check-in.
Every cell drawn from 1 to 4 people is "fewer than 5" in the JSON and in the CSV; an
evaluator sees every office, a senior officer only their own, an officer nothing."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.checkins.lifecycle import CheckinEvent
from server.groups.sessions import NewSession
from server.identity.model import Actor, Role
from server.networks.machine import TaskDraft
from server.scheduling.model import Kind, Outcome, Scope
from server.scheduling.service import NewAppointment
from server.store.schema import audit_log, checkins, feedback
from server.web.state import Services
from tests.helpers.http import error_of
from tests.helpers.world import PASSWORD, World, build, login

FEWER = "fewer than 5"
MONTH = "2026-01"  # the FakeClock's month


async def _client(services: Services, w: World, name: str, *, officer: str = "officer", language: str = "fi",
                  low: bool = False) -> tuple[str, Actor]:
    opener = w.actor("senior" if officer != "officer3" else "senior_b")
    made = await services.cases.create_case(opener, client_username=name, client_display_name=name.title(),
                                            officer_id=w.users[officer], language=language, low_digital_access=low)
    w.cases[name], w.clients[name] = made.case_id, made.client_id
    actor = Actor(made.client_id, name, name.title(), Role.CLIENT, None, "en", False)
    await services.cases.record_face_to_face(w.actor(officer), made.case_id,
                                             met_at=services.clock.now() - timedelta(days=1), location="Office")
    return made.case_id, actor


async def _appointment(services: Services, officer: Actor, case_id: str, kind: Kind, at: timedelta) -> str:
    start = services.clock.now() + at
    rows = await services.scheduling.create(officer, case_id, NewAppointment(
        kind=kind, starts_at=start, ends_at=start + timedelta(minutes=30), location="Office"))
    return str(rows[0].appointment.id)


async def seed_month(services: Services) -> dict[str, Any]:
    """Office A: clients a1..a5 (Finnish) and a6 (Romanian, low digital access); office B: b1.
    In person: a1..a5 attended, a6 missed; by phone a1..a3 cancelled; b1 attended in person.
    Video check-ins: a1..a5 let in 2, 4, 6, 8, 10 minutes after the window opened; a1..a5 say
    "happy" afterwards and the officer answers for all five (one person); a6 and a1 fail the
    safe-space check, a6 "can't talk now"."""
    w = await build(services)
    clock, officer = services.clock, w.actor("officer")
    names = [f"a{i}" for i in range(1, 7)]
    actors: dict[str, Actor] = {}
    for name in names:
        _, actors[name] = await _client(services, w, name, language="ro" if name == "a6" else "fi",
                                        low=name == "a6")
    await _client(services, w, "b1", officer="officer3")
    in_person = {n: await _appointment(services, officer, w.cases[n], Kind.IN_PERSON, timedelta(hours=1))
                 for n in names}
    b1 = await _appointment(services, w.actor("officer3"), w.cases["b1"], Kind.IN_PERSON, timedelta(hours=1))
    phone = [await _appointment(services, officer, w.cases[n], Kind.PHONE, timedelta(hours=2)) for n in names[:3]]
    for appointment_id in phone:
        await services.scheduling.cancel(officer, appointment_id, Scope.ONE)
    clock.advance(timedelta(hours=1, minutes=10))  # the in-person windows are open
    for name, appointment_id in in_person.items():
        outcome = Outcome.MISSED if name == "a6" else Outcome.ATTENDED
        await services.scheduling.record_outcome(officer, appointment_id, outcome, None)
    await services.scheduling.record_outcome(w.actor("officer3"), b1, Outcome.ATTENDED, None)

    checkin_of: dict[str, str] = {}
    for i, name in enumerate(names, start=1):
        start = clock.now()
        done = await services.checkins.schedule_checkin(officer, w.cases[name], start, start + timedelta(hours=1))
        checkin_of[name] = str(done.row.id)
        if name == "a6":
            continue
        clock.advance(timedelta(minutes=2 * i))
        await services.checkins.record_call(checkin_of[name], w.cases[name], [],
                                            [CheckinEvent.CLIENT_WAITING, CheckinEvent.ADMIT])
    for name in names[:5]:
        await services.evaluation.give_feedback(actors[name], checkin_of[name], face=3, comment="Fine, thanks")
        await services.evaluation.give_feedback(officer, checkin_of[name], face=2 if name == "a1" else 1)
    sides, _, _ = await services.checkins.safe_space_questions(actors["a6"], checkin_of["a6"])
    questions = (await services.checkins.safe_space_questions(actors["a6"], checkin_of["a6"]))[1]
    assert sides == "client" and questions
    await services.checkins.answer_safe_space(actors["a6"], checkin_of["a6"], {q.id: False for q in questions})
    await services.checkins.answer_safe_space(actors["a6"], checkin_of["a6"], {}, cant_talk=True)
    return {"w": w, "checkins": checkin_of}


def figure(body: dict[str, Any], figure_id: str) -> dict[str, list[Any]]:
    """series key (or label) -> its cells."""
    [fig] = [f for f in body["figures"] if f["id"] == figure_id]
    return {s.get("label") or s["key"]: s["cells"] for s in fig["series"]}


async def figures(client: Any, headers: dict[str, str], **query: str) -> dict[str, Any]:
    resp = await client.get("/api/evaluation", headers=headers, params={"first": MONTH, "last": MONTH, **query})
    body: dict[str, Any] = await resp.json()
    assert resp.status == 200, body
    return body


async def test_figures_of_a_seeded_month_with_small_cells_suppressed(api: Any) -> None:
    client, services = api
    seeded = await seed_month(services)
    w: World = seeded["w"]
    eva_id = await services.identity.create_user(None, username="eva", display_name="Eva", role=Role.EVALUATOR,
                                                 office_id=w.offices["A"], password=PASSWORD)
    eva, senior = await login(client, "eva"), await login(client, "senior")

    everyone = await figures(client, eva)
    assert {o["name"] for o in everyone["offices"]} == {"Office A", "Office B"} and everyone["office"] is None
    assert figure(everyone, "appointments") == {
        "attended": [6], "missed": [FEWER], "technical_failure": [0], "cancelled": [FEWER]}

    office_a = await figures(client, senior)
    assert office_a["office"] == w.offices["A"] and [o["name"] for o in office_a["offices"]] == ["Office A"]
    assert figure(office_a, "appointments") == {
        "attended": [5], "missed": [FEWER], "technical_failure": [0], "cancelled": [FEWER]}
    assert figure(await figures(client, eva, office=w.offices["A"]), "appointments") == \
        figure(office_a, "appointments")
    # Filters: by channel, language and digital access.
    assert figure(await figures(client, eva, channel="phone"), "appointments")["cancelled"] == [FEWER]
    assert figure(await figures(client, eva, channel="phone"), "appointments")["attended"] == [0]
    romanian = await figures(client, eva, language="ro")
    assert figure(romanian, "appointments") == {"attended": [0], "missed": [FEWER], "technical_failure": [0],
                                                "cancelled": [0]}
    assert figure(await figures(client, eva, digital="low"), "appointments")["missed"] == [FEWER]
    assert figure(await figures(client, eva, digital="standard"), "appointments")["attended"] == [6]

    # Waiting time: five clients let in 2..10 minutes after the window opened, averaged.
    async with services.store.read("test.waits") as conn:
        rows = (await conn.execute(select(checkins.c.opens_at, checkins.c.admitted_at)
                                   .where(checkins.c.admitted_at.is_not(None)))).all()
    waits = [(r.admitted_at - r.opens_at).total_seconds() / 60 for r in rows]
    assert sorted(round(x) for x in waits) == [2, 4, 6, 8, 10]
    assert figure(office_a, "admission_wait") == {"average": [6.0]}
    assert figure(await figures(client, eva, channel="in_person"), "admission_wait") == {"average": [None]}
    assert figure(await figures(client, eva, language="fi", digital="low"), "admission_wait") == {"average": [None]}

    # Safe space and "can't talk": one client, so never shown; the question afterwards.
    assert figure(office_a, "safe_space_not_passed") == {"client": [FEWER], "staff": [0]}
    assert figure(office_a, "cant_talk") == {"alerts": [FEWER]}
    assert figure(office_a, "feedback_client") == {"happy": [5], "neutral": [0], "unhappy": [0]}
    # The officer answered five times, but is one person: drawn from fewer than 5 people.
    assert figure(office_a, "feedback_staff") == {"happy": [0], "neutral": [FEWER], "unhappy": [FEWER]}
    assert figure(office_a, "mentoring_outcomes") == {"completed": [0], "ended_early": [0]}
    # Office B has no feedback: the senior of office B sees none of office A's.
    b_view = await figures(client, await login(client, "senior_b"))
    assert figure(b_view, "feedback_client") == {"happy": [0], "neutral": [0], "unhappy": [0]}
    assert figure(b_view, "appointments")["attended"] == [FEWER]

    # The CSV says the same, suppression included.
    resp = await client.get("/api/evaluation/appointments.csv", headers=senior,
                            params={"first": MONTH, "last": MONTH})
    assert resp.status == 200 and resp.content_type == "text/csv"
    rows_csv = list(csv.reader(io.StringIO(await resp.text())))
    assert rows_csv == [["figure", "series", MONTH], ["appointments", "attended", "5"],
                        ["appointments", "missed", FEWER], ["appointments", "technical_failure", "0"],
                        ["appointments", "cancelled", FEWER]]
    async with services.store.read("test.audit") as conn:
        reads = (await conn.execute(select(audit_log).where(audit_log.c.action == "evaluation.read"))).all()
    assert {r.actor_id for r in reads} == {w.users["senior"], w.users["senior_b"], eva_id}
    assert all(r.case_id is None for r in reads)


async def test_who_reads_the_figures(api: Any) -> None:
    client, services = api
    w = await build(services)
    await services.identity.create_user(None, username="eva", display_name="Eva", role=Role.EVALUATOR,
                                        office_id=w.offices["A"], password=PASSWORD)
    eva, senior = await login(client, "eva"), await login(client, "senior")
    # A senior names another office: refused by the scope rule, saying so.
    resp = await client.get("/api/evaluation", headers=senior, params={"office": w.offices["B"]})
    assert (await error_of(resp, 403, "policy_refused"))["rule_id"] == "scope"
    for username in ("officer", "admin", "client", "mentor", "partner", "facilitator"):
        resp = await client.get("/api/evaluation", headers=await login(client, username))
        assert resp.status == 403, username
    # An evaluator reads no case, no check-in, no caseload: for them no case exists.
    for path in (f"/api/cases/{w.cases['own']}", f"/api/cases/{w.cases['own']}/file", "/api/caseload",
                 f"/api/cases/{w.cases['own']}/network", f"/api/cases/{w.cases['own']}/notes"):
        resp = await client.get(path, headers=eva)
        assert resp.status in (403, 404), (path, resp.status)
    # Bad filters are named.
    for params, reason in (({"first": "2026-13"}, None), ({"first": "2024-01", "last": "2026-01"}, "evaluation.months"),
                           ({"channel": "fax"}, None), ({"first": "2026-02", "last": "2026-01"}, "evaluation.months")):
        resp = await client.get("/api/evaluation", headers=eva, params=params)
        assert resp.status in (400, 422), params
        if reason:
            assert (await error_of(resp)).get("reason") == reason, await resp.text()
    resp = await client.get("/api/evaluation/nothing.csv", headers=eva)
    assert resp.status == 404


async def test_feedback_once_after_the_call_and_its_comment_goes_with_retention(api: Any) -> None:
    client, services = api
    seeded = await seed_month(services)
    checkin_of = seeded["checkins"]
    officer = await login(client, "officer")
    # Answered once: a second answer is a conflict; a check-in nobody was let in to is not asked about.
    resp = await client.post(f"/api/checkins/{checkin_of['a1']}/feedback", headers=officer, json={"face": 3})
    await error_of(resp, 409, "conflict")
    resp = await client.post(f"/api/checkins/{checkin_of['a6']}/feedback", headers=officer, json={"face": 3})
    assert resp.status == 409
    resp = await client.post(f"/api/checkins/{checkin_of['a6']}/feedback", headers=officer, json={"face": 4})
    assert resp.status == 422
    resp = await client.post(f"/api/checkins/{checkin_of['a6']}/feedback", headers=await login(client, "officer3"),
                             json={"face": 3})
    assert resp.status == 404  # another office's check-in does not exist for them
    async with services.store.read("test.feedback") as conn:
        rows = (await conn.execute(select(feedback))).all()
    with_comment = [r for r in rows if r.comment is not None]
    assert len(with_comment) == 5 and all(b"Fine" not in r.comment for r in with_comment)  # sealed

    # Retention clears the comments 30 days after their month (not a day earlier); the faces stay.
    sweeper = services.retention.sweeper
    services.clock.advance(timedelta(days=26 + 29))  # 2026-03-01: January's month plus 29 days
    assert (await sweeper.dry_run()).items.get("feedback_comments", 0) == 0
    services.clock.advance(timedelta(days=2))
    assert (await sweeper.dry_run()).items["feedback_comments"] == 5
    receipt = await sweeper.run()
    assert receipt["counts"].get("feedback_comments") == 5
    async with services.store.read("test.feedback") as conn:
        after = (await conn.execute(select(feedback))).all()
    assert len(after) == len(rows) and all(r.comment is None and r.key_id is None for r in after)



async def test_case_networks_by_stage_days_and_overdue_tasks(api: Any) -> None:
    """Five networks in stage 4 whose one task each is overdue, one just raised: processes per
    stage, days in the stage, overdue tasks (read from the sealed plans), small cells suppressed."""
    client, services = api
    seeded = await seed_month(services)
    w: World = seeded["w"]
    officer, networks, clock = w.actor("officer"), services.networks, services.clock
    for name in ("a1", "a2", "a3", "a4", "a5", "a6"):
        case_id = w.cases[name]
        await networks.raise_concern(officer, case_id, noticed="Threats to a neighbour", noticed_by="Police")
        if name == "a6":
            continue
        await networks.schedule_meeting(officer, case_id, starts_at=clock.now() + timedelta(days=1), mode="video")
        await networks.record_assessment(officer, case_id, answers={"under_threat": "A neighbour"}, decision="plan")
        due = clock.now().date() + timedelta(days=7)
        await networks.write_plan(officer, case_id, tasks=[
            TaskDraft(text="Check the housing", owner_id=officer.user_id, due_on=due)],
            next_meeting_at=clock.now() + timedelta(days=2), keep_in_touch="Phone")
        await networks.send_plan(officer, case_id)
    clock.advance(timedelta(days=9))
    senior = await login(client, "senior")
    body = await figures(client, senior)
    assert figure(body, "network_stages") == {"coordinated_case_management": [5], "notice_and_inform": [FEWER]}
    assert figure(body, "network_overdue") == {"tasks": [5]}
    [days] = figure(body, "network_days")["coordinated_case_management"]
    assert 9 <= days < 10
    # Romanian-speaking clients: one network, just raised; no overdue task among them.
    ro = await figures(client, senior, language="ro")
    assert figure(ro, "network_stages") == {"notice_and_inform": [FEWER]}
    assert figure(ro, "network_overdue") == {"tasks": [0]}


async def test_group_safe_space_checks_count_with_the_check_ins(api: Any) -> None:
    """A live group session of office A: a1..a4 and the facilitator fail its safe-space check.
    With a6's two failed answers before a check-in, five clients failed six checks (shown); the
    facilitator is one person (suppressed); office B and the phone channel see none; under the
    Romanian filter only a6 is left; a staff member's group check has no case to filter by."""
    client, services = api
    seeded = await seed_month(services)
    w: World = seeded["w"]
    fac = w.actor("facilitator")
    cohort_id = await services.groups.create_cohort(fac, name="Evening", programme="Thinking Skills")
    for name in ("a1", "a2", "a3", "a4", "a5"):
        await services.groups.enrol(fac, cohort_id, w.cases[name])
    start = services.clock.now() + timedelta(minutes=5)
    [session] = await services.group_sessions.schedule(fac, cohort_id, NewSession(start, start + timedelta(hours=1)))
    for name in ("a1", "a2", "a3", "a4"):
        who = Actor(w.clients[name], name, name.title(), Role.CLIENT, None, "en", False)
        _, questions, _ = await services.group_safe_space.questions(who, str(session.id))
        result = await services.group_safe_space.answer(who, str(session.id), {q.id: False for q in questions})
        assert not result.passed
    _, questions, _ = await services.group_safe_space.questions(fac, str(session.id))
    await services.group_safe_space.answer(fac, str(session.id), {q.id: False for q in questions})
    # a5 passes: a pass is not counted.
    a5 = Actor(w.clients["a5"], "a5", "A5", Role.CLIENT, None, "en", False)
    _, questions, _ = await services.group_safe_space.questions(a5, str(session.id))
    assert (await services.group_safe_space.answer(a5, str(session.id), {q.id: True for q in questions})).passed

    senior = await login(client, "senior")
    assert figure(await figures(client, senior), "safe_space_not_passed") == {"client": [6], "staff": [FEWER]}
    eva = await services.identity.create_user(None, username="eva", display_name="Eva", role=Role.EVALUATOR,
                                              office_id=w.offices["A"], password=PASSWORD)
    assert eva
    everyone = await login(client, "eva")
    assert figure(await figures(client, everyone), "safe_space_not_passed") == {"client": [6], "staff": [FEWER]}
    assert figure(await figures(client, everyone, office=w.offices["B"]), "safe_space_not_passed") == {
        "client": [0], "staff": [0]}
    assert figure(await figures(client, everyone, channel="phone"), "safe_space_not_passed") == {
        "client": [0], "staff": [0]}
    assert figure(await figures(client, everyone, channel="video"), "safe_space_not_passed") == {
        "client": [6], "staff": [FEWER]}
    assert figure(await figures(client, everyone, language="ro"), "safe_space_not_passed") == {
        "client": [FEWER], "staff": [0]}
    assert figure(await figures(client, everyone, language="fi"), "safe_space_not_passed") == {
        "client": [FEWER], "staff": [0]}


async def test_the_answers_after_a_clients_check_ins_are_in_their_export_and_go_with_an_erasure(api: Any) -> None:
    """A check-in's answers are the case's records: the client's export lists theirs and the
    officer's (faces always, the comment decrypted, never its ciphertext); a granted erasure of
    ``feedback_comments`` deletes the case's answers, faces too, and nobody else's."""
    _, services = api
    seeded = await seed_month(services)
    w: World = seeded["w"]
    a1 = Actor(w.clients["a1"], "a1", "A1", Role.CLIENT, None, "en", False)
    items = (await services.retention.export(a1))["categories"]["feedback_comments"]["items"]
    assert sorted((i["side"], i["face"], i.get("content")) for i in items) == [
        ("client", 3, "Fine, thanks"), ("staff", 2, None)]
    assert all("comment" not in i and i["checkin_id"] == seeded["checkins"]["a1"] for i in items)
    request_id = await services.retention.request(a1, "erasure", "Please", ["feedback_comments"])
    assert await services.retention.decide(w.actor("admin"), request_id, "grant", "No exemption") == "granted"
    assert (await services.retention.export(a1))["categories"]["feedback_comments"]["items"] == []
    async with services.store.read("test.feedback") as conn:
        left = (await conn.execute(select(feedback.c.case_id))).all()
    assert len(left) == 8 and w.cases["a1"] not in {r.case_id for r in left}
