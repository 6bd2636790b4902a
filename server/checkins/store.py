"""Check-in SQL: the only module of the feature that talks to the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.schema import (
    appointments,
    call_quality,
    cases,
    checkin_codes,
    checkin_events,
    checkin_interpreters,
    checkins,
    safe_space_answers,
    users,
)


async def insert_checkin(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(checkins.insert().values(**values))


async def checkin(conn: AsyncConnection, checkin_id: str) -> Any:
    return (await conn.execute(select(checkins).where(checkins.c.id == checkin_id))).first()


async def meeting(conn: AsyncConnection, checkin_id: str) -> Any:
    """Who meets whom, and when: the client's and the supervising officer's ids and names, and the
    start of the check-in's appointment (None for a check-in scheduled without one)."""
    client, officer = users.alias("client"), users.alias("officer")
    query = (select(cases.c.client_id, client.c.display_name.label("client_name"), cases.c.officer_id,
                    officer.c.display_name.label("officer_name"), appointments.c.starts_at)
             .select_from(checkins.join(cases, cases.c.id == checkins.c.case_id)
                          .join(client, client.c.id == cases.c.client_id)
                          .join(officer, officer.c.id == cases.c.officer_id)
                          .outerjoin(appointments, appointments.c.id == checkins.c.appointment_id))
             .where(checkins.c.id == checkin_id))
    return (await conn.execute(query)).first()


async def checkins_of_appointment(conn: AsyncConnection, appointment_id: str) -> list[Any]:
    return list((await conn.execute(select(checkins).where(checkins.c.appointment_id == appointment_id))).all())


async def update_checkin(conn: AsyncConnection, checkin_id: str, **values: Any) -> None:
    await conn.execute(update(checkins).where(checkins.c.id == checkin_id).values(**values))


async def set_state(conn: AsyncConnection, checkin_id: str, expected: str, state: str, at: datetime) -> bool:
    """Compare-and-set, so two nodes (or two frames) never step the same state twice."""
    result = await conn.execute(update(checkins).where(checkins.c.id == checkin_id, checkins.c.state == expected)
                                .values(state=state, updated_at=at))
    return bool(result.rowcount)


async def checkins_in_scope(conn: AsyncConnection, *, officer_id: str | None, office_id: str | None,
                            client_id: str | None, interpreter_id: str | None, start: datetime | None,
                            end: datetime | None, limit: int) -> list[Any]:
    query = (select(checkins, cases.c.client_id, cases.c.officer_id, users.c.display_name.label("client_name"))
             .join(cases, cases.c.id == checkins.c.case_id).join(users, users.c.id == cases.c.client_id))
    scopes = []
    if officer_id is not None:
        scopes.append(cases.c.officer_id == officer_id)
    if office_id is not None:
        scopes.append(cases.c.office_id == office_id)
    if client_id is not None:
        scopes.append(cases.c.client_id == client_id)
    if interpreter_id is not None:
        scopes.append(checkins.c.id.in_(select(checkin_interpreters.c.checkin_id)
                                        .where(checkin_interpreters.c.user_id == interpreter_id)))
    if not scopes:
        return []
    query = query.where(or_(*scopes))
    if start is not None:
        query = query.where(checkins.c.closes_at >= start)
    if end is not None:
        query = query.where(checkins.c.opens_at < end)
    return list((await conn.execute(query.order_by(checkins.c.opens_at).limit(limit))).all())


async def insert_event(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(checkin_events.insert().values(**values))


async def events(conn: AsyncConnection, checkin_id: str) -> list[Any]:
    return list((await conn.execute(select(checkin_events).where(checkin_events.c.checkin_id == checkin_id)
                                    .order_by(checkin_events.c.at, checkin_events.c.id))).all())


async def insert_quality(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(call_quality.insert().values(**values))


async def quality(conn: AsyncConnection, checkin_id: str) -> list[Any]:
    return list((await conn.execute(select(call_quality).where(call_quality.c.checkin_id == checkin_id)
                                    .order_by(call_quality.c.at))).all())


async def insert_answers(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(safe_space_answers.insert().values(**values))


async def passed_safe_space(conn: AsyncConnection, checkin_id: str, user_id: str) -> bool:
    """Whether the user's latest safe-space check for this check-in passed (a pass and a failure
    stored at the same instant count as a pass given after the failure)."""
    rows = (await conn.execute(select(safe_space_answers.c.passed, func.max(safe_space_answers.c.at)).where(
        safe_space_answers.c.checkin_id == checkin_id, safe_space_answers.c.user_id == user_id)
        .group_by(safe_space_answers.c.passed))).all()
    last = {bool(r[0]): r[1] for r in rows}
    return True in last and (False not in last or last[True] >= last[False])


async def insert_code(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(checkin_codes.insert().values(**values))


async def use_code(conn: AsyncConnection, checkin_id: str, code_hash: str, at: datetime) -> Any:
    """Spend a code: returns its row when it was unused and unexpired (one use, even when raced)."""
    row = (await conn.execute(select(checkin_codes).where(checkin_codes.c.code_hash == code_hash,
                                                          checkin_codes.c.checkin_id == checkin_id))).first()
    if row is None or row.used_at is not None or row.expires_at <= at:
        return None
    spent = await conn.execute(update(checkin_codes).where(and_(checkin_codes.c.code_hash == code_hash,
                                                                checkin_codes.c.used_at.is_(None)))
                               .values(used_at=at))
    return row if spent.rowcount else None


async def invite_interpreter(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(checkin_interpreters.insert().values(**values))


async def is_interpreter(conn: AsyncConnection, checkin_id: str, user_id: str) -> bool:
    row = (await conn.execute(select(checkin_interpreters.c.user_id).where(
        checkin_interpreters.c.checkin_id == checkin_id, checkin_interpreters.c.user_id == user_id))).first()
    return row is not None
