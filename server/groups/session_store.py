"""SQL for group sessions, their staff, the cohort's agreement, rooms and devices, attendance
evidence and the register (the only SQL of group sessions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.schema import cases, cohort_members, cohorts, users
from server.store.schema_groups import (
    agreement_acceptances,
    cohort_settings,
    group_attendance,
    group_attendance_events,
    group_session_codes,
    group_session_reminders,
    group_session_staff,
    group_sessions,
    room_devices,
    rooms,
)

# -- sessions --------------------------------------------------------------------------


async def insert_sessions(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(group_sessions), rows)


def _listed() -> Any:
    return (select(group_sessions, cohorts.c.name.label("cohort_name"), cohorts.c.programme,
                   rooms.c.name.label("room_name"))
            .join(cohorts, cohorts.c.id == group_sessions.c.cohort_id)
            .outerjoin(rooms, rooms.c.id == group_sessions.c.room_id))


async def session(conn: AsyncConnection, session_id: str) -> Any:
    return (await conn.execute(_listed().where(group_sessions.c.id == session_id))).first()


async def sessions_of_cohort(conn: AsyncConnection, cohort_id: str, *, start: datetime, limit: int) -> list[Any]:
    query = (_listed().where(group_sessions.c.cohort_id == cohort_id, group_sessions.c.ends_at > start)
             .order_by(group_sessions.c.starts_at).limit(limit))
    return list((await conn.execute(query)).all())


async def sessions_of_member(conn: AsyncConnection, user_id: str, *, start: datetime, end: datetime,
                             limit: int) -> list[Any]:
    """Sessions of the cohorts a user currently belongs to, in [start, end)."""
    query = (_listed()
             .join(cohort_members, and_(cohort_members.c.cohort_id == group_sessions.c.cohort_id,
                                        cohort_members.c.user_id == user_id, cohort_members.c.left_at.is_(None)))
             .where(group_sessions.c.starts_at < end, group_sessions.c.ends_at > start)
             .order_by(group_sessions.c.starts_at).limit(limit))
    return list((await conn.execute(query)).all())


async def sessions_of_room(conn: AsyncConnection, room_id: str, *, start: datetime, limit: int) -> list[Any]:
    """A room's scheduled sessions that end after ``start``, the earliest first."""
    query = (_listed().where(group_sessions.c.room_id == room_id, group_sessions.c.ends_at > start,
                             group_sessions.c.status == "scheduled")
             .order_by(group_sessions.c.starts_at).limit(limit))
    return list((await conn.execute(query)).all())


async def series_from(conn: AsyncConnection, series_id: str, starts_at: datetime) -> list[Any]:
    query = (_listed().where(group_sessions.c.series_id == series_id, group_sessions.c.starts_at >= starts_at,
                             group_sessions.c.status == "scheduled").order_by(group_sessions.c.starts_at))
    return list((await conn.execute(query)).all())


async def series_all(conn: AsyncConnection, series_id: str, limit: int) -> list[Any]:
    """Every occurrence of a series, cancelled ones included (a calendar shows them as cancelled)."""
    query = (_listed().where(group_sessions.c.series_id == series_id).order_by(group_sessions.c.starts_at)
             .limit(limit))
    return list((await conn.execute(query)).all())


async def update_session(conn: AsyncConnection, session_id: str, **values: Any) -> None:
    values["sequence"] = group_sessions.c.sequence + 1
    await conn.execute(update(group_sessions).where(group_sessions.c.id == session_id).values(**values))


# -- staff ---------------------------------------------------------------------------------


async def staff(conn: AsyncConnection, session_id: str) -> list[Any]:
    rows = await conn.execute(
        select(group_session_staff, users.c.display_name)
        .join(users, users.c.id == group_session_staff.c.user_id)
        .where(group_session_staff.c.session_id == session_id).order_by(users.c.display_name))
    return list(rows.all())


async def add_staff(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(group_session_staff).values(**values))


# -- the cohort's settings and agreement ------------------------------------------------------------


async def settings(conn: AsyncConnection, cohort_id: str) -> Any:
    return (await conn.execute(select(cohort_settings).where(cohort_settings.c.cohort_id == cohort_id))).first()


async def put_settings(conn: AsyncConnection, cohort_id: str, **values: Any) -> None:
    if await settings(conn, cohort_id) is None:
        await conn.execute(insert(cohort_settings).values(cohort_id=cohort_id, **values))
    else:
        await conn.execute(update(cohort_settings).where(cohort_settings.c.cohort_id == cohort_id).values(**values))


async def accepted(conn: AsyncConnection, cohort_id: str, user_id: str, version: int) -> Any:
    return (await conn.execute(select(agreement_acceptances).where(
        agreement_acceptances.c.cohort_id == cohort_id, agreement_acceptances.c.user_id == user_id,
        agreement_acceptances.c.version == version))).first()


async def accept(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(agreement_acceptances).values(**values))


# -- evidence and the register ---------------------------------------------------------------------


async def participants(conn: AsyncConnection, cohort_id: str) -> list[Any]:
    """The cohort's current participants with their case and its officer, by name."""
    rows = await conn.execute(
        select(cohort_members.c.user_id, cohort_members.c.case_id, users.c.display_name, cases.c.officer_id)
        .join(users, users.c.id == cohort_members.c.user_id)
        .join(cases, cases.c.id == cohort_members.c.case_id)
        .where(cohort_members.c.cohort_id == cohort_id, cohort_members.c.left_at.is_(None),
               cohort_members.c.role == "participant")
        .order_by(users.c.display_name))
    return list(rows.all())


async def insert_event(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(group_attendance_events).values(**values))


async def events(conn: AsyncConnection, session_id: str) -> list[Any]:
    rows = await conn.execute(select(group_attendance_events).where(group_attendance_events.c.session_id == session_id)
                              .order_by(group_attendance_events.c.at, group_attendance_events.c.id))
    return list(rows.all())


async def lines(conn: AsyncConnection, session_id: str) -> list[Any]:
    rows = await conn.execute(select(group_attendance).where(group_attendance.c.session_id == session_id))
    return list(rows.all())


async def insert_line(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(group_attendance).values(**values))


async def lines_of_case(conn: AsyncConnection, case_id: str, limit: int) -> list[Any]:
    rows = await conn.execute(
        select(group_attendance, group_sessions.c.starts_at, group_sessions.c.ends_at, cohorts.c.name,
               cohorts.c.programme)
        .join(group_sessions, group_sessions.c.id == group_attendance.c.session_id)
        .join(cohorts, cohorts.c.id == group_sessions.c.cohort_id)
        .where(group_attendance.c.case_id == case_id)
        .order_by(group_sessions.c.starts_at.desc()).limit(limit))
    return list(rows.all())


async def absences(conn: AsyncConnection, *, officer_id: str | None, office_id: str | None,
                   limit: int) -> list[Any]:
    """Confirmed absences of the officer's caseload (or the office's), newest first."""
    conds = [group_attendance.c.status == "absent"]
    if officer_id is not None:
        conds.append(cases.c.officer_id == officer_id)
    if office_id is not None:
        conds.append(cases.c.office_id == office_id)
    rows = await conn.execute(
        select(group_attendance.c.session_id, group_attendance.c.case_id, group_attendance.c.user_id,
               group_attendance.c.confirmed_at, group_sessions.c.starts_at, cohorts.c.name.label("cohort_name"),
               users.c.display_name.label("client_name"))
        .join(cases, cases.c.id == group_attendance.c.case_id)
        .join(group_sessions, group_sessions.c.id == group_attendance.c.session_id)
        .join(cohorts, cohorts.c.id == group_sessions.c.cohort_id)
        .join(users, users.c.id == group_attendance.c.user_id)
        .where(*conds).order_by(group_sessions.c.starts_at.desc()).limit(limit))
    return list(rows.all())


# -- rooms and room devices -----------------------------------------------------------------


async def insert_room(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(rooms).values(**values))


async def room(conn: AsyncConnection, room_id: str) -> Any:
    return (await conn.execute(select(rooms).where(rooms.c.id == room_id))).first()


async def rooms_of_office(conn: AsyncConnection, office_id: str) -> list[Any]:
    return list((await conn.execute(select(rooms).where(rooms.c.office_id == office_id)
                                    .order_by(rooms.c.name))).all())


async def insert_device(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(room_devices).values(**values))


async def device(conn: AsyncConnection, device_id: str) -> Any:
    return (await conn.execute(select(room_devices).where(room_devices.c.id == device_id))).first()


async def device_by_code(conn: AsyncConnection, code_hash: str) -> Any:
    return (await conn.execute(select(room_devices).where(room_devices.c.code_hash == code_hash))).first()


async def device_of_user(conn: AsyncConnection, user_id: str) -> Any:
    return (await conn.execute(select(room_devices).where(room_devices.c.user_id == user_id,
                                                          room_devices.c.revoked_at.is_(None)))).first()


async def devices_of_room(conn: AsyncConnection, room_id: str) -> list[Any]:
    return list((await conn.execute(select(room_devices).where(room_devices.c.room_id == room_id)
                                    .order_by(room_devices.c.registered_at))).all())


async def update_device(conn: AsyncConnection, device_id: str, **values: Any) -> None:
    await conn.execute(update(room_devices).where(room_devices.c.id == device_id).values(**values))


# -- reminders ---------------------------------------------------------------------------------


async def starting_between(conn: AsyncConnection, start: datetime, end: datetime, limit: int,
                           after: tuple[datetime, str] | None = None) -> list[Any]:
    """Scheduled sessions starting in (start, end], in (starts_at, id) order, from after ``after``."""
    conds = [group_sessions.c.status == "scheduled", group_sessions.c.starts_at > start,
             group_sessions.c.starts_at <= end]
    if after is not None:
        conds.append(or_(group_sessions.c.starts_at > after[0],
                         and_(group_sessions.c.starts_at == after[0], group_sessions.c.id > after[1])))
    rows = await conn.execute(select(group_sessions.c.id, group_sessions.c.cohort_id, group_sessions.c.starts_at)
                              .where(*conds).order_by(group_sessions.c.starts_at, group_sessions.c.id).limit(limit))
    return list(rows.all())


async def reminded_people(conn: AsyncConnection, session_id: str) -> list[Any]:
    """Who a session's reminders go to: the cohort's current participants and facilitators (with a
    participant's case) and the session's added staff."""
    members = await conn.execute(
        select(cohort_members.c.user_id, cohort_members.c.case_id)
        .where(cohort_members.c.cohort_id == select(group_sessions.c.cohort_id)
               .where(group_sessions.c.id == session_id).scalar_subquery(),
               cohort_members.c.left_at.is_(None),
               cohort_members.c.role.in_(("participant", "facilitator"))))
    out = list(members.all())
    staff_rows = await conn.execute(select(group_session_staff.c.user_id, null().label("case_id"))
                                    .where(group_session_staff.c.session_id == session_id))
    known = {r.user_id for r in out}
    out += [r for r in staff_rows.all() if r.user_id not in known]
    return out


async def reminded(conn: AsyncConnection, session_ids: list[str]) -> dict[tuple[str, str], set[int]]:
    """(session, user) -> offsets already recorded."""
    out: dict[tuple[str, str], set[int]] = {}
    if not session_ids:
        return out
    rows = await conn.execute(
        select(group_session_reminders.c.session_id, group_session_reminders.c.user_id,
               group_session_reminders.c.offset_s)
        .where(group_session_reminders.c.session_id.in_(session_ids)))
    for r in rows:
        out.setdefault((r.session_id, r.user_id), set()).add(int(r.offset_s))
    return out


async def claim_reminder(conn: AsyncConnection, *, is_sqlite: bool, **values: Any) -> bool:
    """Record a reminder unless another node or an earlier run did; True when this call did."""
    dialect_insert = sqlite.insert if is_sqlite else postgresql.insert
    stmt = dialect_insert(group_session_reminders).values(**values).on_conflict_do_nothing(
        index_elements=["session_id", "user_id", "offset_s"])
    return bool((await conn.execute(stmt)).rowcount == 1)


async def reminders_of(conn: AsyncConnection, user_id: str, *, since: datetime, limit: int) -> list[Any]:
    rows = await conn.execute(
        select(group_session_reminders.c.id, group_session_reminders.c.session_id, group_session_reminders.c.offset_s,
               group_session_reminders.c.created_at, group_sessions.c.starts_at, group_sessions.c.status)
        .join(group_sessions, group_sessions.c.id == group_session_reminders.c.session_id)
        .where(group_session_reminders.c.user_id == user_id, group_session_reminders.c.delivered.is_(True),
               group_session_reminders.c.created_at >= since)
        .order_by(group_session_reminders.c.created_at.desc()).limit(limit))
    return list(rows.all())


# -- join link codes -------------------------------------------------------------------------------


async def insert_code(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(group_session_codes).values(**values))


async def use_code(conn: AsyncConnection, session_id: str, code_hash: str, at: datetime) -> Any:
    """Spend a code: its row when it was unused and unexpired (one use, even when raced)."""
    codes = group_session_codes.c
    row = (await conn.execute(select(group_session_codes).where(codes.code_hash == code_hash,
                                                                codes.session_id == session_id))).first()
    if row is None or row.used_at is not None or row.expires_at <= at:
        return None
    spent = await conn.execute(update(group_session_codes).where(
        group_session_codes.c.code_hash == code_hash, group_session_codes.c.used_at.is_(None)).values(used_at=at))
    return row if spent.rowcount else None
