"""SQL for cohorts and their members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.schema import cohort_members, cohorts, conversations, users


async def insert_cohort(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(cohorts.insert().values(**values))


async def cohort(conn: AsyncConnection, cohort_id: str) -> Any:
    return (await conn.execute(select(cohorts).where(cohorts.c.id == cohort_id))).first()


async def members(conn: AsyncConnection, cohort_id: str) -> list[Any]:
    """Current members with their names, facilitators first."""
    rows = await conn.execute(
        select(cohort_members, users.c.display_name)
        .join(users, users.c.id == cohort_members.c.user_id)
        .where(cohort_members.c.cohort_id == cohort_id, cohort_members.c.left_at.is_(None))
        .order_by(cohort_members.c.role, users.c.display_name)
    )
    return list(rows.all())


async def office_facilitators(conn: AsyncConnection, office_id: str) -> list[Any]:
    """The office's facilitators who may sign in, by name (those a group may add)."""
    rows = await conn.execute(
        select(users.c.id, users.c.display_name, users.c.role)
        .where(users.c.office_id == office_id, users.c.role == "facilitator", users.c.disabled.is_(False))
        .order_by(users.c.display_name)
    )
    return list(rows.all())


async def member(conn: AsyncConnection, cohort_id: str, user_id: str) -> Any:
    return (
        await conn.execute(
            select(cohort_members).where(cohort_members.c.cohort_id == cohort_id, cohort_members.c.user_id == user_id)
        )
    ).first()


async def add_member(conn: AsyncConnection, *, cohort_id: str, user_id: str, role: str, case_id: str | None,
                     at: datetime) -> None:
    if await member(conn, cohort_id, user_id) is None:
        await conn.execute(cohort_members.insert().values(cohort_id=cohort_id, user_id=user_id, role=role,
                                                          case_id=case_id, joined_at=at, left_at=None))
    else:
        await conn.execute(
            update(cohort_members)
            .where(cohort_members.c.cohort_id == cohort_id, cohort_members.c.user_id == user_id)
            .values(role=role, case_id=case_id, joined_at=at, left_at=None)
        )


async def remove_member(conn: AsyncConnection, cohort_id: str, user_id: str, at: datetime) -> None:
    await conn.execute(
        update(cohort_members)
        .where(cohort_members.c.cohort_id == cohort_id, cohort_members.c.user_id == user_id)
        .values(left_at=at)
    )


async def cohorts_of(conn: AsyncConnection, user_id: str) -> list[Any]:
    rows = await conn.execute(
        select(cohorts, cohort_members.c.role)
        .join(cohort_members, cohort_members.c.cohort_id == cohorts.c.id)
        .where(cohort_members.c.user_id == user_id, cohort_members.c.left_at.is_(None))
        .order_by(cohorts.c.created_at)
    )
    return list(rows.all())


async def cohorts_of_office(conn: AsyncConnection, office_id: str) -> list[Any]:
    rows = await conn.execute(select(cohorts).where(cohorts.c.office_id == office_id).order_by(cohorts.c.created_at))
    return list(rows.all())


async def conversation_id(conn: AsyncConnection, cohort_id: str) -> str | None:
    row = (await conn.execute(select(conversations.c.id).where(conversations.c.cohort_id == cohort_id))).first()
    return None if row is None else str(row.id)


async def set_member_names(conn: AsyncConnection, cohort_id: str, member_names: str) -> None:
    await conn.execute(update(cohorts).where(cohorts.c.id == cohort_id).values(member_names=member_names))
