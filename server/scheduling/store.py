"""SQL for appointments and their reminders (the only SQL of scheduling)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.schema import appointment_reminders, appointments, cases, checkins, users

_LISTED = (appointments, cases.c.office_id)


def _with_names() -> Any:
    client = users.alias("client")
    officer = users.alias("officer")
    return (
        select(*_LISTED, client.c.display_name.label("client_name"), officer.c.display_name.label("officer_name"))
        .join(cases, cases.c.id == appointments.c.case_id)
        .join(client, client.c.id == appointments.c.client_id)
        .join(officer, officer.c.id == appointments.c.officer_id)
    )


async def insert_appointments(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(appointments), rows)


async def appointment(conn: AsyncConnection, appointment_id: str) -> Any:
    return (await conn.execute(_with_names().where(appointments.c.id == appointment_id))).first()


async def series_from(conn: AsyncConnection, series_id: str, starts_at: datetime) -> list[Any]:
    """Scheduled occurrences of a series from ``starts_at`` on (inclusive), in order."""
    query = _with_names().where(appointments.c.series_id == series_id, appointments.c.starts_at >= starts_at,
                                appointments.c.status == "scheduled").order_by(appointments.c.starts_at)
    return list((await conn.execute(query)).all())


async def update_appointment(conn: AsyncConnection, appointment_id: str, **values: Any) -> None:
    values["sequence"] = appointments.c.sequence + 1
    await conn.execute(update(appointments).where(appointments.c.id == appointment_id).values(**values))


async def in_range(conn: AsyncConnection, *, start: datetime, end: datetime, officer_id: str | None = None,
                   client_id: str | None = None, include_cancelled: bool = True, limit: int = 500) -> list[Any]:
    conds = [appointments.c.starts_at < end, appointments.c.ends_at > start]
    if officer_id is not None:
        conds.append(appointments.c.officer_id == officer_id)
    if client_id is not None:
        conds.append(appointments.c.client_id == client_id)
    if not include_cancelled:
        conds.append(appointments.c.status == "scheduled")
    query = _with_names().where(and_(*conds)).order_by(appointments.c.starts_at).limit(limit)
    return list((await conn.execute(query)).all())


async def checkin_states(conn: AsyncConnection, appointment_ids: list[str]) -> dict[str, str]:
    """The state of each video appointment's check-in (the newest, when it was opened twice)."""
    if not appointment_ids:
        return {}
    rows = (await conn.execute(select(checkins.c.appointment_id, checkins.c.state)
                               .where(checkins.c.appointment_id.in_(appointment_ids))
                               .order_by(checkins.c.created_at, checkins.c.id))).all()
    return {r.appointment_id: r.state for r in rows}


async def unrecorded(conn: AsyncConnection, *, ended_before: datetime, officer_id: str | None,
                     office_id: str | None, limit: int) -> list[Any]:
    """Scheduled appointments that ended before ``ended_before`` with no outcome."""
    conds = [appointments.c.status == "scheduled", appointments.c.outcome.is_(None),
             appointments.c.ends_at <= ended_before]
    if officer_id is not None:
        conds.append(appointments.c.officer_id == officer_id)
    if office_id is not None:
        conds.append(cases.c.office_id == office_id)
    query = _with_names().where(and_(*conds)).order_by(appointments.c.starts_at).limit(limit)
    return list((await conn.execute(query)).all())


# -- reminders ------------------------------------------------------------------------


async def starting_between(conn: AsyncConnection, start: datetime, end: datetime, limit: int,
                           after: tuple[datetime, str] | None = None) -> list[Any]:
    """Scheduled appointments starting in (start, end], in (starts_at, id) order, from after ``after``."""
    conds = [appointments.c.status == "scheduled", appointments.c.starts_at > start, appointments.c.starts_at <= end]
    if after is not None:
        conds.append(or_(appointments.c.starts_at > after[0],
                         and_(appointments.c.starts_at == after[0], appointments.c.id > after[1])))
    rows = (await conn.execute(
        select(appointments.c.id, appointments.c.kind, appointments.c.starts_at, appointments.c.client_id,
               appointments.c.officer_id)
        .where(*conds).order_by(appointments.c.starts_at, appointments.c.id).limit(limit)
    )).all()
    return list(rows)


async def reminded(conn: AsyncConnection, appointment_ids: list[str]) -> dict[tuple[str, str], set[int]]:
    """(appointment, user) -> offsets already recorded."""
    out: dict[tuple[str, str], set[int]] = {}
    if not appointment_ids:
        return out
    rows = await conn.execute(
        select(appointment_reminders.c.appointment_id, appointment_reminders.c.user_id,
               appointment_reminders.c.offset_s)
        .where(appointment_reminders.c.appointment_id.in_(appointment_ids)))
    for r in rows:
        out.setdefault((r.appointment_id, r.user_id), set()).add(int(r.offset_s))
    return out


async def claim_reminder(conn: AsyncConnection, *, is_sqlite: bool, **values: Any) -> bool:
    """Record a reminder unless another node or an earlier run did; True when this call did."""
    dialect_insert = sqlite.insert if is_sqlite else postgresql.insert
    stmt = dialect_insert(appointment_reminders).values(**values).on_conflict_do_nothing(
        index_elements=["appointment_id", "user_id", "offset_s"])
    result = await conn.execute(stmt)
    return bool(result.rowcount == 1)


async def forget_reminders(conn: AsyncConnection, appointment_id: str, offsets: tuple[int, ...]) -> None:
    if offsets:
        await conn.execute(delete(appointment_reminders).where(
            appointment_reminders.c.appointment_id == appointment_id, appointment_reminders.c.offset_s.in_(offsets)))


async def reminders_of(conn: AsyncConnection, user_id: str, *, since: datetime, limit: int) -> list[Any]:
    rows = await conn.execute(
        select(appointment_reminders.c.id, appointment_reminders.c.appointment_id, appointment_reminders.c.offset_s,
               appointment_reminders.c.created_at, appointments.c.kind, appointments.c.starts_at,
               appointments.c.status)
        .join(appointments, appointments.c.id == appointment_reminders.c.appointment_id)
        .where(appointment_reminders.c.user_id == user_id, appointment_reminders.c.delivered.is_(True),
               appointment_reminders.c.created_at >= since)
        .order_by(appointment_reminders.c.created_at.desc()).limit(limit))
    return list(rows.all())
