"""SQL for cases, face-to-face meetings, exceptions, mentors, networks and notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.schema import (
    case_notes,
    cases,
    face_to_face_meetings,
    mentor_assignments,
    network_members,
    remote_exceptions,
    users,
)


async def insert_case(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(cases.insert().values(**values))


async def case_by_id(conn: AsyncConnection, case_id: str) -> Any:
    return (await conn.execute(select(cases).where(cases.c.id == case_id))).first()


async def case_by_client(conn: AsyncConnection, client_id: str) -> Any:
    return (await conn.execute(select(cases).where(cases.c.client_id == client_id))).first()


async def update_case(conn: AsyncConnection, case_id: str, **values: Any) -> None:
    await conn.execute(update(cases).where(cases.c.id == case_id).values(**values))


async def mentor_ids(conn: AsyncConnection, client_id: str) -> frozenset[str]:
    rows = await conn.execute(
        select(mentor_assignments.c.mentor_id).where(
            mentor_assignments.c.client_id == client_id, mentor_assignments.c.ended_at.is_(None)
        )
    )
    return frozenset(r.mentor_id for r in rows)


async def partner_ids(conn: AsyncConnection, case_id: str) -> frozenset[str]:
    rows = await conn.execute(select(network_members.c.user_id).where(network_members.c.case_id == case_id))
    return frozenset(r.user_id for r in rows)


async def face_to_face_counts(conn: AsyncConnection, case_id: str, officer_id: str) -> tuple[int, int, datetime | None]:
    """(meetings with this officer, meetings in all, last meeting time)."""
    row = (
        await conn.execute(
            select(
                func.count().filter(face_to_face_meetings.c.officer_id == officer_id),
                func.count(),
                func.max(face_to_face_meetings.c.met_at),
            ).where(face_to_face_meetings.c.case_id == case_id)
        )
    ).one()
    last = row[2]
    if isinstance(last, str):
        last = datetime.fromisoformat(last)
    return int(row[0]), int(row[1]), last


async def active_exception_until(
    conn: AsyncConnection, case_id: str, officer_id: str, now: datetime
) -> datetime | None:
    value = (
        await conn.execute(
            select(func.max(remote_exceptions.c.expires_at)).where(
                remote_exceptions.c.case_id == case_id,
                remote_exceptions.c.officer_id == officer_id,
                remote_exceptions.c.revoked_at.is_(None),
                remote_exceptions.c.starts_at <= now,
                remote_exceptions.c.expires_at > now,
            )
        )
    ).scalar()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value  # type: ignore[no-any-return]


async def insert_face_to_face(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(face_to_face_meetings.insert().values(**values))


async def insert_exception(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(remote_exceptions.insert().values(**values))


async def insert_mentor_assignment(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(mentor_assignments.insert().values(**values))


async def insert_network_member(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(network_members.insert().values(**values))


async def caseload_rows(conn: AsyncConnection, *, officer_id: str | None, office_id: str | None) -> list[Any]:
    """Cases with client and officer names; filtered by officer, or by office, or neither."""
    client = users.alias("client")
    officer = users.alias("officer")
    query = (
        select(cases, client.c.display_name.label("client_name"), officer.c.display_name.label("officer_name"))
        .join(client, client.c.id == cases.c.client_id)
        .join(officer, officer.c.id == cases.c.officer_id)
        .order_by(client.c.display_name)
    )
    conds = []
    if officer_id is not None:
        conds.append(cases.c.officer_id == officer_id)
    if office_id is not None:
        conds.append(cases.c.office_id == office_id)
    if conds:
        query = query.where(or_(*conds) if len(conds) > 1 else and_(*conds))
    return list((await conn.execute(query)).all())


async def mentee_rows(conn: AsyncConnection, mentor_id: str) -> list[Any]:
    return list(
        (
            await conn.execute(
                select(users.c.id, users.c.display_name)
                .join(mentor_assignments, mentor_assignments.c.client_id == users.c.id)
                .where(mentor_assignments.c.mentor_id == mentor_id, mentor_assignments.c.ended_at.is_(None))
                .order_by(users.c.display_name)
            )
        ).all()
    )


async def insert_note(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(case_notes.insert().values(**values))


async def note_rows(conn: AsyncConnection, case_id: str, *, limit: int) -> list[Any]:
    return list(
        (
            await conn.execute(
                select(case_notes)
                .where(case_notes.c.case_id == case_id)
                .order_by(case_notes.c.created_at.desc())
                .limit(limit)
            )
        ).all()
    )
