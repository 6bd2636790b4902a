"""SQL for cases, face-to-face meetings, exceptions, mentors, networks and notes."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter

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


# -- what a policy decision needs to know about cases, many at once ----------------------
# Synchronous (set-based) so they also run as steps of Store.write_in_thread; async callers
# go through CaseService.views_of (run_sync).


# Built once: a batch runs them with new ids, not new statements (``ids`` expands to IN (...)).
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_CASES = select(cases).where(cases.c.id.in_(_IDS))
_MENTORS = select(mentor_assignments.c.client_id, mentor_assignments.c.mentor_id).where(
    mentor_assignments.c.client_id.in_(_IDS), mentor_assignments.c.ended_at.is_(None)
)
_PARTNERS = select(network_members.c.case_id, network_members.c.user_id).where(network_members.c.case_id.in_(_IDS))
_MEETINGS = (
    select(
        face_to_face_meetings.c.case_id,
        func.count().filter(face_to_face_meetings.c.officer_id == cases.c.officer_id),
        func.count(),
        func.max(face_to_face_meetings.c.met_at),
    )
    .join(cases, cases.c.id == face_to_face_meetings.c.case_id)
    .where(face_to_face_meetings.c.case_id.in_(_IDS))
    .group_by(face_to_face_meetings.c.case_id)
)
_EXCEPTIONS = (
    select(remote_exceptions.c.case_id, func.max(remote_exceptions.c.expires_at))
    .join(
        cases,
        and_(cases.c.id == remote_exceptions.c.case_id, cases.c.officer_id == remote_exceptions.c.officer_id),
    )
    .where(
        remote_exceptions.c.case_id.in_(_IDS),
        remote_exceptions.c.revoked_at.is_(None),
        remote_exceptions.c.starts_at <= bindparam("now"),
        remote_exceptions.c.expires_at > bindparam("now"),
    )
    .group_by(remote_exceptions.c.case_id)
)


def cases_by_ids(conn: Connection, case_ids: Collection[str]) -> list[Any]:
    return list(conn.execute(_CASES, {"ids": list(case_ids)}).all())


def mentor_ids(conn: Connection, client_ids: Collection[str]) -> dict[str, frozenset[str]]:
    """Current mentors of each client (set-based: one query for many cases)."""
    rows = conn.execute(_MENTORS, {"ids": list(client_ids)})
    return _grouped((r.client_id, r.mentor_id) for r in rows)


def partner_ids(conn: Connection, case_ids: Collection[str]) -> dict[str, frozenset[str]]:
    rows = conn.execute(_PARTNERS, {"ids": list(case_ids)})
    return _grouped((r.case_id, r.user_id) for r in rows)


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for key, value in pairs:
        out.setdefault(key, set()).add(value)
    return {k: frozenset(v) for k, v in out.items()}


def _utc(value: Any) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value  # type: ignore[no-any-return]


def face_to_face_counts(
    conn: Connection, case_ids: Collection[str]
) -> dict[str, tuple[int, int, datetime | None]]:
    """Per case: (meetings with its current officer, meetings in all, last meeting time).
    Cases without meetings are absent."""
    rows = conn.execute(_MEETINGS, {"ids": list(case_ids)})
    return {r[0]: (int(r[1]), int(r[2]), _utc(r[3])) for r in rows}


def active_exceptions_until(
    conn: Connection, case_ids: Collection[str], now: datetime
) -> dict[str, datetime]:
    """Per case: when the latest active exception for its current officer expires (absent: none)."""
    rows = conn.execute(_EXCEPTIONS, {"ids": list(case_ids), "now": now})
    out: dict[str, datetime] = {}
    for case_id, until in rows:
        value = _utc(until)
        if value is not None:
            out[case_id] = value
    return out


ViewFacts = tuple[
    dict[str, tuple[int, int, datetime | None]], dict[str, frozenset[str]], dict[str, frozenset[str]],
    dict[str, datetime],
]


def view_facts(conn: Connection, rows: Sequence[Any], now: datetime) -> ViewFacts:
    """Meetings, mentors, partners and active exceptions of these cases: four queries."""
    ids = [row.id for row in rows]
    return (
        face_to_face_counts(conn, ids),
        mentor_ids(conn, [row.client_id for row in rows]),
        partner_ids(conn, ids),
        active_exceptions_until(conn, ids, now),
    )


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
