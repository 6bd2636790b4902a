"""SQL for mentoring periods: assignments as periods, activities, outcomes (issue 16)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.schema import cases, conversations, mentor_assignments, users
from server.store.schema_mentoring import mentoring_activities, mentoring_outcomes

_mentor = users.alias("mentor")
_client = users.alias("client")


def _periods() -> Any:
    """Assignments with their case, office, and the names of the mentor and the mentee."""
    return (
        select(mentor_assignments, cases.c.id.label("case_id"), cases.c.office_id,
               _mentor.c.display_name.label("mentor_name"), _client.c.display_name.label("client_name"))
        .join(cases, cases.c.client_id == mentor_assignments.c.client_id)
        .join(_mentor, _mentor.c.id == mentor_assignments.c.mentor_id)
        .join(_client, _client.c.id == mentor_assignments.c.client_id)
    )


async def period(conn: AsyncConnection, assignment_id: str) -> Any:
    return (await conn.execute(_periods().where(mentor_assignments.c.id == assignment_id))).first()


async def periods_of_mentor(conn: AsyncConnection, mentor_id: str, *, since: datetime) -> list[Any]:
    """The mentor's assignments not ended before ``since`` (running ones, and the recently ended
    whose outcome may still be recorded), soonest end first."""
    return list((await conn.execute(
        _periods().where(mentor_assignments.c.mentor_id == mentor_id,
                         (mentor_assignments.c.ended_at.is_(None)) | (mentor_assignments.c.ended_at >= since))
        .order_by(mentor_assignments.c.ends_on, mentor_assignments.c.created_at)
    )).all())


async def periods_of_client(conn: AsyncConnection, client_id: str) -> list[Any]:
    return list((await conn.execute(
        _periods().where(mentor_assignments.c.client_id == client_id).order_by(mentor_assignments.c.created_at.desc())
    )).all())


async def set_end(conn: AsyncConnection, assignment_id: str, ends_on: date, access_ends_at: datetime) -> None:
    """Move a period's last day, and with it its conversation's access end."""
    await conn.execute(update(mentor_assignments).where(mentor_assignments.c.id == assignment_id)
                       .values(ends_on=ends_on))
    await conn.execute(update(conversations).where(conversations.c.mentor_assignment_id == assignment_id)
                       .values(access_ends_at=access_ends_at))


async def insert_activity(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(mentoring_activities.insert().values(**values))


async def activity_rows(conn: AsyncConnection, assignment_ids: list[str]) -> list[Any]:
    if not assignment_ids:
        return []
    return list((await conn.execute(
        select(mentoring_activities).where(mentoring_activities.c.assignment_id.in_(assignment_ids))
        .order_by(mentoring_activities.c.done_on.desc(), mentoring_activities.c.created_at.desc())
    )).all())


async def insert_outcome(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(mentoring_outcomes.insert().values(**values))


async def outcome_of(conn: AsyncConnection, assignment_id: str, party: str) -> Any:
    return (await conn.execute(select(mentoring_outcomes.c.id).where(
        mentoring_outcomes.c.assignment_id == assignment_id, mentoring_outcomes.c.party == party))).first()


async def outcome_rows(conn: AsyncConnection, assignment_ids: list[str]) -> list[Any]:
    if not assignment_ids:
        return []
    return list((await conn.execute(
        select(mentoring_outcomes).where(mentoring_outcomes.c.assignment_id.in_(assignment_ids))
        .order_by(mentoring_outcomes.c.created_at)
    )).all())
