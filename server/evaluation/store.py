"""Evaluation's SQL: one grouped query per figure, each cell with the number of distinct
people it was drawn from (``model.Raw``). Months are cut in UTC by the database, so a page
over 100,000 appointments moves a few dozen rows, not the appointments."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, false, func, literal, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from server.evaluation.model import NOW, Filters, Raw
from server.store.schema import (
    appointments,
    cases,
    checkins,
    cohorts,
    feedback,
    mentoring_outcomes,
    networks,
    offices,
    safe_space_answers,
    staff_alerts,
)
from server.store.schema_evaluation import group_feedback
from server.store.schema_groups import group_attendance, group_safe_space, group_sessions
from server.store.schema_networks import network_tasks
from server.store.types import metadata

ATTENDED_GROUP = ("attended", "partly")


def _month(conn: AsyncConnection, col: Any) -> ColumnElement[Any]:
    """The UTC month of ``col``: "YYYY-MM" on SQLite, the month's first instant on PostgreSQL
    (``date_trunc`` is several times cheaper per row than ``to_char``; ``_raws`` formats it)."""
    if conn.dialect.name == "sqlite":  # stored as "YYYY-MM-DD HH:MM:SS.ffffff" in UTC
        return func.substr(col, 1, 7)
    return func.date_trunc("month", func.timezone("UTC", col))


def _month_text(value: Any) -> str:
    return value.strftime("%Y-%m") if hasattr(value, "strftime") else str(value)


def _minutes(conn: AsyncConnection, later: Any, earlier: Any) -> ColumnElement[Any]:
    if conn.dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 1440.0
    return func.extract("epoch", later - earlier) / 60.0


def _bounds(f: Filters) -> tuple[datetime, datetime]:
    return datetime.combine(f.first, time(0), UTC), datetime.combine(f.end, time(0), UTC)


def _case_filters(f: Filters) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.office_id is not None:
        out.append(cases.c.office_id == f.office_id)
    if f.language is not None:
        out.append(cases.c.language == f.language)
    if f.digital is not None:
        out.append(cases.c.low_digital_access.is_(true() if f.digital == "low" else false()))
    return out


def _with_cases(table: Any, case_id: Any, f: Filters) -> Any:
    """``table`` joined to its case only when a filter needs the case (a year of appointments
    is not joined to 5,000 cases for nothing)."""
    return table.join(cases, cases.c.id == case_id) if _case_filters(f) else table


def _video_only(f: Filters) -> list[ColumnElement[bool]]:
    """Check-ins are video calls: another channel filter leaves nothing."""
    return [] if f.channel in (None, "video") else [literal(False)]


async def _raws(conn: AsyncConnection, query: Any) -> list[Raw]:
    return [Raw(series=str(r[0]), month=_month_text(r[1]), value=None if r[2] is None else float(r[2]),
                people=int(r[3]))
            for r in (await conn.execute(query)).all()]


async def appointment_outcomes(conn: AsyncConnection, f: Filters) -> list[Raw]:
    start, end = _bounds(f)
    a = appointments.c
    series = case((a.status == "cancelled", literal("cancelled")),
                  (a.outcome.in_(("attended", "late")), literal("attended")), else_=a.outcome)
    month = _month(conn, a.starts_at)
    where = [a.starts_at >= start, a.starts_at < end, *_case_filters(f),
             (a.status == "cancelled") | a.outcome.in_(("attended", "late", "missed", "technical_failure"))]
    if f.channel is not None:
        where.append(a.kind == f.channel)
    query = (select(series, month, func.count(), func.count(distinct(a.client_id)))
             .select_from(_with_cases(appointments, a.case_id, f)).where(*where)
             .group_by(series, month))
    return await _raws(conn, query)


async def admission_wait(conn: AsyncConnection, f: Filters) -> list[Raw]:
    start, end = _bounds(f)
    c = checkins.c
    month = _month(conn, c.opens_at)
    query = (select(literal("average"), month, func.avg(_minutes(conn, c.admitted_at, c.opens_at)),
                    func.count(distinct(c.case_id)))
             .select_from(_with_cases(checkins, c.case_id, f))
             .where(c.opens_at >= start, c.opens_at < end, c.admitted_at.is_not(None), *_case_filters(f),
                    *_video_only(f))
             .group_by(month))
    return await _raws(conn, query)


async def safe_space_not_passed(conn: AsyncConnection, f: Filters) -> list[Raw]:
    """Checks not passed before a check-in and before a live group session, client and staff
    apart, people counted once across both. A group check is filtered by its session's office;
    a staff member's group check has no case, so a language or digital-access filter leaves it out."""
    start, end = _bounds(f)
    s, g, gs = safe_space_answers.c, group_safe_space.c, group_sessions.c
    from_checkins = (select(s.side.label("side"), s.at.label("at"), s.user_id.label("user_id"))
                     .select_from(_with_cases(safe_space_answers, s.case_id, f))
                     .where(s.at >= start, s.at < end, s.passed.is_(false()), *_case_filters(f), *_video_only(f)))
    joined: Any = group_safe_space.join(group_sessions, gs.id == g.session_id)
    where = [g.at >= start, g.at < end, g.passed.is_(false()), *_video_only(f)]
    if f.office_id is not None:
        where.append(gs.office_id == f.office_id)
    if f.language is not None or f.digital is not None:
        joined = joined.join(cases, cases.c.id == g.case_id)
        where += _case_filters(Filters(first=f.first, last=f.last, language=f.language, digital=f.digital))
    from_groups = select(g.side, g.at, g.user_id).select_from(joined).where(*where)
    checks = union_all(from_checkins, from_groups).subquery("checks")
    month = _month(conn, checks.c.at)
    query = (select(checks.c.side, month, func.count(), func.count(distinct(checks.c.user_id)))
             .group_by(checks.c.side, month))
    return await _raws(conn, query)


async def cant_talk(conn: AsyncConnection, f: Filters) -> list[Raw]:
    start, end = _bounds(f)
    a = staff_alerts.c
    month = _month(conn, a.created_at)
    query = (select(literal("alerts"), month, func.count(distinct(a.checkin_id)), func.count(distinct(a.case_id)))
             .select_from(_with_cases(staff_alerts, a.case_id, f))
             .where(a.kind == "cant_talk_safely", a.created_at >= start, a.created_at < end, *_case_filters(f),
                    *_video_only(f))
             .group_by(month))
    return await _raws(conn, query)


async def group_attendance_rate(conn: AsyncConnection, f: Filters) -> tuple[list[Raw], dict[str, str]]:
    """Per cohort and month: the share of register lines marked attended (fully or partly).
    Lines anonymised by retention still count, unless a case filter needs their case."""
    start, end = _bounds(f)
    g, s = group_attendance.c, group_sessions.c
    month = _month(conn, s.starts_at)
    attended = func.sum(case((g.status.in_(ATTENDED_GROUP), 1), else_=0))
    joined = group_attendance.join(group_sessions, s.id == g.session_id)
    where = [s.starts_at >= start, s.starts_at < end]
    if f.office_id is not None:
        where.append(s.office_id == f.office_id)
    if f.language is not None or f.digital is not None:
        joined = joined.join(cases, cases.c.id == g.case_id)
        where += _case_filters(Filters(first=f.first, last=f.last, language=f.language, digital=f.digital))
    query = (select(s.cohort_id, month, 100.0 * attended / func.count(),
                    func.count(distinct(func.coalesce(g.user_id, g.id))))
             .select_from(joined).where(*where).group_by(s.cohort_id, month))
    raws = await _raws(conn, query)
    rows = [] if not raws else (await conn.execute(
        select(cohorts.c.id, cohorts.c.name).where(cohorts.c.id.in_({r.series for r in raws})))).all()
    return raws, {str(r.id): str(r.name) for r in rows}


async def network_stages(conn: AsyncConnection, f: Filters, now: datetime) -> tuple[list[Raw], list[Raw]]:
    """Where the case networks stand now: processes per stage, and the average days they have
    been in it (closed processes are counted, not timed)."""
    n = networks.c
    if conn.dialect.name == "sqlite":
        days = func.julianday(now.strftime("%Y-%m-%d %H:%M:%S.%f")) - func.julianday(n.stage_since)
    else:
        days = func.extract("epoch", literal(now) - n.stage_since) / 86400.0
    query = (select(n.stage, func.count(), func.avg(case((n.stage != "closed", days))))
             .select_from(_with_cases(networks, n.case_id, f)).where(*_case_filters(f))
             .group_by(n.stage))
    rows = (await conn.execute(query)).all()
    stages = [Raw(series=str(r[0]), month=NOW, value=float(r[1]), people=int(r[1])) for r in rows]
    timed = [Raw(series=str(r[0]), month=NOW, value=float(r[2]), people=int(r[1])) for r in rows if r[2] is not None]
    return stages, timed


async def network_overdue(conn: AsyncConnection, f: Filters, today: date) -> Raw:
    """Overdue tasks of the current plans of stage-4 networks (not done, due before today), read
    from ``network_tasks`` (in clear, no text), and how many cases they come from."""
    t = network_tasks.c
    row = (await conn.execute(
        select(func.count(), func.count(distinct(t.case_id))).select_from(_with_cases(network_tasks, t.case_id, f))
        .where(t.state != "done", t.due_on < today, *_case_filters(f)))).one()
    return Raw(series="tasks", month=NOW, value=float(row[0]), people=int(row[1]))


async def mentoring_periods(conn: AsyncConnection, f: Filters) -> list[Raw]:
    """Periods by the officer's recorded outcome, in the month it was recorded."""
    start, end = _bounds(f)
    m = mentoring_outcomes.c
    month = _month(conn, m.created_at)
    query = (select(m.outcome, month, func.count(), func.count(distinct(m.case_id)))
             .select_from(_with_cases(mentoring_outcomes, m.case_id, f))
             .where(m.party == "officer", m.created_at >= start, m.created_at < end, *_case_filters(f))
             .group_by(m.outcome, month))
    return await _raws(conn, query)


async def feedback_faces(conn: AsyncConnection, f: Filters, side: str) -> list[Raw]:
    """The faces after check-ins and after live group sessions (a video session too), people
    counted once across both. A group answer is filtered by its session's office; a staff
    member's has no case, so a language or digital-access filter leaves it out."""
    start, end = _bounds(f)
    b, g = feedback.c, group_feedback.c
    from_checkins = (select(b.face.label("face"), b.given_at.label("given_at"), b.user_id.label("user_id"))
                     .select_from(_with_cases(feedback, b.case_id, f))
                     .where(b.side == side, b.given_at >= start, b.given_at < end, *_case_filters(f),
                            *_video_only(f)))
    joined: Any = group_feedback
    where = [g.side == side, g.given_at >= start, g.given_at < end, *_video_only(f)]
    if f.office_id is not None:
        where.append(g.office_id == f.office_id)
    if f.language is not None or f.digital is not None:
        joined = joined.join(cases, cases.c.id == g.case_id)
        where += _case_filters(Filters(first=f.first, last=f.last, language=f.language, digital=f.digital))
    from_groups = select(g.face, g.given_at, g.user_id).select_from(joined).where(*where)
    answers = union_all(from_checkins, from_groups).subquery("answers")
    a = answers.c
    month = _month(conn, a.given_at)
    face = case((a.face == 3, literal("happy")), (a.face == 2, literal("neutral")), else_=literal("unhappy"))
    query = select(face, month, func.count(), func.count(distinct(a.user_id))).group_by(face, month)
    return await _raws(conn, query)


async def office_names(conn: AsyncConnection, office_id: str | None) -> list[tuple[str, str]]:
    query = select(offices.c.id, offices.c.name).order_by(offices.c.name)
    if office_id is not None:
        query = query.where(offices.c.id == office_id)
    return [(str(r.id), str(r.name)) for r in (await conn.execute(query)).all()]


async def languages(conn: AsyncConnection, office_id: str | None) -> list[str]:
    query = select(distinct(cases.c.language)).where(cases.c.language.is_not(None))
    if office_id is not None:
        query = query.where(cases.c.office_id == office_id)
    return sorted(str(r[0]) for r in (await conn.execute(query)).all())


async def office_exists(conn: AsyncConnection, office_id: str) -> bool:
    return (await conn.execute(select(offices.c.id).where(offices.c.id == office_id))).first() is not None


# -- feedback --------------------------------------------------------------------------

async def insert_feedback(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(feedback.insert().values(**values))


async def feedback_of(conn: AsyncConnection, checkin_id: str, user_id: str) -> Any:
    return (await conn.execute(select(feedback).where(
        and_(feedback.c.checkin_id == checkin_id, feedback.c.user_id == user_id)))).first()


async def insert_rows(conn: AsyncConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Bulk rows into one table of the schema (the demo's month of history, server/evaluation/history.py)."""
    if rows:
        await conn.execute(metadata.tables[table].insert(), rows)
