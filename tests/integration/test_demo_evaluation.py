"""The demo's month for the evaluation (issue 16, "Done when"), on SQLite and PostgreSQL: besides
the check-in history, a programme group of the history clients has four past sessions with
confirmed registers and answers to "How did this go?" from participants who attended and from
the facilitator; the evaluator's figures count them (group attendance by cohort, the faces after
check-ins and group sessions together); the comments are sealed; the same seed gives the same
registers and faces."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server import demo
from server.evaluation import group_history
from server.identity.model import Actor, Role
from server.store.schema import cases, cohorts, users
from server.store.schema_evaluation import feedback, group_feedback
from server.store.schema_groups import group_attendance, group_sessions
from tests.helpers.world import login
from tests.integration.test_evaluation import figure

FACES = {3: "happy", 2: "neutral", 1: "unhappy"}


async def test_the_demo_month_holds_group_sessions_answered(app_factory: Any) -> None:
    client, s = await app_factory(demo=True)
    assert await demo.load(s.identity, s.cases, s.clock, s.groups, s.scheduling, s.mentoring, s.keyring, s.networks)
    async with s.store.read("test.demo") as conn:
        [(cohort_id, office_id)] = (await conn.execute(select(cohorts.c.id, cohorts.c.office_id).where(
            cohorts.c.name == "Thursday afternoon"))).all()
        sessions = (await conn.execute(select(group_sessions).where(group_sessions.c.cohort_id == cohort_id)
                                       .order_by(group_sessions.c.starts_at))).all()
        lines = (await conn.execute(select(group_attendance))).all()
        answers = (await conn.execute(select(group_feedback))).all()
        facilitator = (await conn.execute(select(users.c.id).where(users.c.username == "facilitator"))).scalar_one()
        checkin_faces = (await conn.execute(select(feedback.c.side, feedback.c.face)
                                            .where(feedback.c.office_id == office_id))).all()
        history = (await conn.execute(select(cases.c.id, cases.c.client_id).join(users, users.c.id == cases.c.client_id)
                                      .where(users.c.username.like("history%")).order_by(users.c.username))).all()
    now = s.clock.now()
    assert len(sessions) == 4 and all(now - timedelta(days=28) < r.starts_at and r.ends_at < now for r in sessions)
    assert all(r.register_confirmed_by == facilitator for r in sessions)
    statuses = {r.status for r in lines}
    assert len(lines) == 4 * 8 and "attended" in statuses and len(statuses) > 1  # not everyone, every week
    # Answers only from participants who attended (fully or partly), and the facilitator after each session.
    present = {(r.session_id, r.user_id) for r in lines if r.status in ("attended", "partly")}
    clients = [r for r in answers if r.side == "client"]
    staff = [r for r in answers if r.side == "staff"]
    assert clients and all((r.session_id, r.user_id) in present and r.case_id is not None for r in clients)
    assert len({r.user_id for r in clients}) >= 5
    assert sorted(r.session_id for r in staff) == sorted(r.id for r in sessions)
    assert all(r.user_id == facilitator and r.case_id is None for r in staff)
    commented = [r for r in answers if r.comment is not None]
    assert len(commented) == 3 and all(b"the others" not in r.comment for r in commented)  # sealed

    # The evaluator's figures: the cohort's attendance rate, and the faces counting the group's answers.
    months = sorted({r.starts_at.strftime("%Y-%m") for r in sessions} | {now.strftime("%Y-%m")})
    eva = await login(client, "evaluator", demo.PASSWORD)
    resp = await client.get("/api/evaluation", headers=eva,
                            params={"first": months[0], "last": months[-1], "office": office_id})
    body = await resp.json()
    assert resp.status == 200, body
    rate = figure(body, "group_attendance")
    assert any(isinstance(v, (int, float)) and v > 0 for cells in rate.values() for v in cells), rate
    given = Counter(FACES[r.face] for r in clients) + Counter(FACES[face] for side, face in checkin_faces
                                                              if side == "client")
    shown = {k: sum(v for v in cells if isinstance(v, int)) for k, cells in figure(body, "feedback_client").items()}
    assert shown["happy"] == given["happy"]  # five people or more in each month: nothing suppressed
    assert shown["happy"] > sum(1 for side, face in checkin_faces if side == "client" and face == 3)

    # Deterministic: the same seed gives another cohort the same registers and faces.
    fac = Actor(facilitator, "facilitator", "Fiona Facilitator", Role.FACILITATOR, office_id, "en", False)
    other = await s.groups.create_cohort(fac, name="Again", programme="Thinking Skills")
    participants = [group_history.Participant(r.id, r.client_id) for r in history]
    for p in participants:
        await s.groups.enrol(fac, other, p.case_id)
    await group_history.load(s.store, s.keyring, cohort_id=other, office_id=office_id, facilitator_id=facilitator,
                             participants=participants, now=now)

    async def pattern(cohort: str) -> tuple[list[Any], list[Any]]:
        async with s.store.read("test.demo.again") as conn:
            regs = (await conn.execute(
                select(group_sessions.c.starts_at, group_attendance.c.user_id, group_attendance.c.status)
                .join(group_sessions, group_sessions.c.id == group_attendance.c.session_id)
                .where(group_sessions.c.cohort_id == cohort))).all()
            faces = (await conn.execute(select(group_feedback.c.user_id, group_feedback.c.face,
                                               group_feedback.c.comment.is_not(None))
                                        .where(group_feedback.c.cohort_id == cohort))).all()
        return sorted(tuple(r) for r in regs), sorted(tuple(r) for r in faces)

    assert await pattern(other) == await pattern(cohort_id)
