"""SQL for case networks: the network document of a case, and its members' rows.

The members' rows (``network_members``, shared with ``cases``) mirror the current process's
members in clear, so a partner's list of networks, the case's relation facts and the
network conversation need no decryption; the document is the truth.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.cases import store as cases_store
from server.ids import new_id
from server.networks.model import Process, Stage
from server.store.schema import cases, network_members, networks
from server.store.schema_networks import network_meeting_reminders, network_meetings, network_tasks


def body_aad(network_id: str, case_id: str) -> bytes:
    """The associated data a network document is sealed with: it opens only as itself."""
    return f"network|{network_id}|{case_id}".encode()


async def network_of_case(conn: AsyncConnection, case_id: str) -> Any:
    return (await conn.execute(select(networks).where(networks.c.case_id == case_id))).first()


async def network_by_id(conn: AsyncConnection, network_id: str) -> Any:
    return (await conn.execute(select(networks).where(networks.c.id == network_id))).first()


async def insert_network(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(networks.insert().values(**values))


async def update_network(conn: AsyncConnection, network_id: str, revision: int, **values: Any) -> bool:
    """Write a new revision over ``revision``; False when another write got there first."""
    result = await conn.execute(
        update(networks)
        .where(networks.c.id == network_id, networks.c.revision == revision)
        .values(revision=revision + 1, **values)
    )
    return bool(result.rowcount)


async def upsert_member(conn: AsyncConnection, *, case_id: str, user_id: str, kind: str, agency: str,
                        ends_on: date, at: datetime) -> None:
    """The member's row, created or renewed (a member of an earlier process invited again)."""
    found = await conn.execute(
        update(network_members)
        .where(network_members.c.case_id == case_id, network_members.c.user_id == user_id)
        .values(kind=kind, agency=agency, ends_on=ends_on, ended_at=None)
    )
    if not found.rowcount:
        await cases_store.insert_network_member(conn, id=new_id(), case_id=case_id, user_id=user_id, created_at=at,
                                                kind=kind, agency=agency, ends_on=ends_on, ended_at=None)


async def end_members(conn: AsyncConnection, case_id: str, user_ids: tuple[str, ...], at: datetime) -> None:
    if user_ids:
        await conn.execute(
            update(network_members)
            .where(network_members.c.case_id == case_id, network_members.c.user_id.in_(user_ids),
                   network_members.c.ended_at.is_(None))
            .values(ended_at=at)
        )


async def membership_rows(conn: AsyncConnection, user_id: str) -> list[Any]:
    """The networks a user is a member of (ended or not), with their case's office."""
    return list((await conn.execute(
        select(networks.c.id, networks.c.case_id, networks.c.stage, network_members.c.ends_on,
               network_members.c.ended_at, network_members.c.agency, network_members.c.kind, cases.c.office_id)
        .join(network_members, network_members.c.case_id == networks.c.case_id)
        .join(cases, cases.c.id == networks.c.case_id)
        .where(network_members.c.user_id == user_id)
        .order_by(networks.c.updated_at.desc())
    )).all())


async def led_rows(conn: AsyncConnection, *, officer_id: str | None, office_id: str | None,
                   stages: tuple[str, ...]) -> list[Any]:
    """Networks in ``stages`` of an officer's caseload (or of an office)."""
    query = (select(networks).join(cases, cases.c.id == networks.c.case_id)
             .where(networks.c.stage.in_(stages)).order_by(networks.c.stage_since))
    if officer_id is not None:
        query = query.where(cases.c.officer_id == officer_id)
    if office_id is not None:
        query = query.where(cases.c.office_id == office_id)
    return list((await conn.execute(query)).all())


# -- meetings and their reminders -----------------------------------------------------


async def insert_meeting(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(network_meetings.insert().values(**values))


async def meetings_starting_between(conn: AsyncConnection, start: datetime, end: datetime, limit: int,
                                    after: tuple[datetime, str] | None = None) -> list[Any]:
    """Meetings starting in (start, end], in (starts_at, id) order, from after ``after``."""
    conds = [network_meetings.c.starts_at > start, network_meetings.c.starts_at <= end]
    if after is not None:
        conds.append(or_(network_meetings.c.starts_at > after[0],
                         and_(network_meetings.c.starts_at == after[0], network_meetings.c.id > after[1])))
    return list((await conn.execute(select(network_meetings).where(*conds).order_by(
        network_meetings.c.starts_at, network_meetings.c.id).limit(limit))).all())


async def meetings_reminded(conn: AsyncConnection, meeting_ids: list[str]) -> dict[tuple[str, str], set[int]]:
    """(meeting, user) -> offsets already recorded."""
    out: dict[tuple[str, str], set[int]] = {}
    if meeting_ids:
        rows = await conn.execute(select(network_meeting_reminders.c.meeting_id, network_meeting_reminders.c.user_id,
                                         network_meeting_reminders.c.offset_s)
                                  .where(network_meeting_reminders.c.meeting_id.in_(meeting_ids)))
        for r in rows:
            out.setdefault((r.meeting_id, r.user_id), set()).add(int(r.offset_s))
    return out


async def claim_meeting_reminder(conn: AsyncConnection, *, is_sqlite: bool, **values: Any) -> bool:
    """Record a reminder unless another node or an earlier run did; True when this call did."""
    dialect_insert = sqlite.insert if is_sqlite else postgresql.insert
    stmt = dialect_insert(network_meeting_reminders).values(**values).on_conflict_do_nothing(
        index_elements=["meeting_id", "user_id", "offset_s"])
    return bool((await conn.execute(stmt)).rowcount == 1)


# -- the current plan's tasks in clear (for the evaluation) ----------------------------


async def replace_tasks(conn: AsyncConnection, network_id: str, case_id: str, current: Process) -> None:
    """The network's ``network_tasks`` rows made the current plan's tasks (owner, due date,
    state), or none when the process is not in stage 4."""
    await conn.execute(delete(network_tasks).where(network_tasks.c.network_id == network_id))
    plan = current.plan
    if current.stage is not Stage.COORDINATED_CASE_MANAGEMENT or plan is None:
        return
    await conn.execute(network_tasks.insert(), [
        {"id": new_id(), "network_id": network_id, "case_id": case_id, "process": current.number,
         "plan_version": plan.version, "task_id": t.id, "owner_id": t.owner_id, "due_on": t.due_on,
         "state": t.state} for t in plan.tasks])


async def unindexed_networks(conn: AsyncConnection, limit: int) -> list[Any]:
    """Networks in stage 4 without task rows: written before ``network_tasks`` existed."""
    return list((await conn.execute(
        select(networks.c.id, networks.c.case_id).where(
            networks.c.stage == Stage.COORDINATED_CASE_MANAGEMENT.value,
            ~exists().where(network_tasks.c.network_id == networks.c.id))
        .order_by(networks.c.id).limit(limit))).all())


async def has_tasks(conn: AsyncConnection, network_id: str) -> bool:
    return (await conn.execute(select(network_tasks.c.id).where(network_tasks.c.network_id == network_id)
                               .limit(1))).first() is not None
