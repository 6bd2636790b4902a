"""SQL for cases, face-to-face meetings, exceptions, mentors, networks and notes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter

from server.store.raw import Driver, Statement, any_of
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
# One set-based query for any number of cases. Synchronous, so it also runs as a step of
# Store.write_in_thread (group commit of sends); async callers go through
# CaseService.views_of (run_sync).

_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_met = face_to_face_meetings
_exc = remote_exceptions
_COMMA: Any = literal_column("','")  # a literal separator: the statement binds only now and ids


def _fact_columns() -> list[Any]:
    """What the policy needs beside the case's own columns, one scalar subquery each."""
    return [
        select(func.count())
        .where(_met.c.case_id == cases.c.id, _met.c.officer_id == cases.c.officer_id)
        .scalar_subquery()
        .label("met_with_officer"),
        select(func.count()).where(_met.c.case_id == cases.c.id).scalar_subquery().label("met_total"),
        select(func.max(_met.c.met_at)).where(_met.c.case_id == cases.c.id).scalar_subquery().label("last_met_at"),
        select(func.max(_exc.c.expires_at))
        .where(
            _exc.c.case_id == cases.c.id,
            _exc.c.officer_id == cases.c.officer_id,
            _exc.c.revoked_at.is_(None),
            _exc.c.starts_at <= bindparam("now"),
            _exc.c.expires_at > bindparam("now"),
        )
        .scalar_subquery()
        .label("exception_until"),
        # Ids never contain commas (server/ids.py): a joined list is one column on both databases.
        select(func.aggregate_strings(mentor_assignments.c.mentor_id, _COMMA))
        .where(mentor_assignments.c.client_id == cases.c.client_id, mentor_assignments.c.ended_at.is_(None))
        .scalar_subquery()
        .label("mentor_ids"),
        select(func.aggregate_strings(network_members.c.user_id, _COMMA))
        # A member whose network process closed is no longer a partner of the case.
        .where(network_members.c.case_id == cases.c.id, network_members.c.ended_at.is_(None))
        .scalar_subquery()
        .label("partner_ids"),
    ]


_FACT_COLUMNS = len(_fact_columns())
_CASE_FACTS = select(cases, *_fact_columns()).where(cases.c.id.in_(_IDS))


@dataclass(frozen=True, slots=True)
class CaseFactsRow:
    """A cases row with what the policy rules need to know about it."""

    row: Any
    met_with_officer: int
    met_total: int
    last_met_at: datetime | None
    exception_until: datetime | None
    mentor_ids: frozenset[str]
    partner_ids: frozenset[str]


def _with_facts(row: Any, facts: Sequence[Any]) -> CaseFactsRow:
    """``row`` with the values of ``_fact_columns`` (in their order) as a CaseFactsRow."""
    met_with_officer, met_total, last_met_at, exception_until, mentor_ids, partner_ids = facts
    return CaseFactsRow(row, int(met_with_officer), int(met_total), _utc(last_met_at), _utc(exception_until),
                        _id_set(mentor_ids), _id_set(partner_ids))


def _id_set(joined: str | None) -> frozenset[str]:
    return frozenset(joined.split(",")) if joined else frozenset()


def _utc(value: Any) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value  # type: ignore[no-any-return]


def case_facts(conn: Connection, case_ids: Collection[str], now: datetime) -> dict[str, CaseFactsRow]:
    """The cases (missing ones absent) with their face-to-face meetings, active exception,
    mentors and network partners: one query."""
    if not case_ids:
        return {}
    out: dict[str, CaseFactsRow] = {}
    for r in conn.execute(_CASE_FACTS, {"ids": list(case_ids), "now": now}):
        out[r.id] = _with_facts(r, r[-_FACT_COLUMNS:])
    return out


class PolicyCaseRow(NamedTuple):
    """The columns of a case that policy decisions read (``build_view``), nothing else."""

    id: str
    client_id: str
    officer_id: str
    office_id: str
    domestic_violence: bool
    protected_person: bool
    low_digital_access: bool
    interpreter_needed: bool
    language: str | None
    legal_hold: bool


_POLICY_FACTS = Statement(
    lambda sqlite: select(*(cases.c[name] for name in PolicyCaseRow._fields), *_fact_columns()).where(
        any_of(cases.c.id, "ids", sqlite=sqlite)
    ),
    ["now", "ids"],
)


def policy_fact_rows(db: Driver, case_ids: Collection[str], now: datetime) -> list[tuple[Any, ...]]:
    """``case_facts`` for a policy decision on a hot path (group commit of sends): the same
    subqueries, run at the driver level, with only the case columns the rules read. Plain
    tuples (hashable: a caller may keep what it built from one, ``policy_facts_of``)."""
    if not case_ids:
        return []
    return [tuple(r) for r in db.rows(_POLICY_FACTS, (db.ts(now), db.set_of(case_ids)))]


def policy_facts_of(r: tuple[Any, ...]) -> CaseFactsRow:
    """A row of ``policy_fact_rows`` as ``case_facts`` gives it (flags as bools on SQLite too)."""
    case_id, client_id, officer_id, office_id, dv, protected, low_access, interpreter, language, hold = r[:10]
    row = PolicyCaseRow(case_id, client_id, officer_id, office_id, bool(dv), bool(protected), bool(low_access),
                        bool(interpreter), language, bool(hold))
    return _with_facts(row, r[10:])


async def insert_face_to_face(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(face_to_face_meetings.insert().values(**values))


async def insert_exception(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(remote_exceptions.insert().values(**values))


async def insert_mentor_assignment(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(mentor_assignments.insert().values(**values))


async def mentor_assignment(conn: AsyncConnection, assignment_id: str) -> Any:
    return (await conn.execute(select(mentor_assignments).where(mentor_assignments.c.id == assignment_id))).first()


async def running_assignment(conn: AsyncConnection, mentor_id: str, client_id: str) -> Any:
    return (
        await conn.execute(
            select(mentor_assignments).where(
                mentor_assignments.c.mentor_id == mentor_id,
                mentor_assignments.c.client_id == client_id,
                mentor_assignments.c.ended_at.is_(None),
            )
        )
    ).first()


async def end_mentor_assignment(conn: AsyncConnection, assignment_id: str, at: datetime) -> bool:
    """End a running assignment; False when it had already ended."""
    result = await conn.execute(
        update(mentor_assignments)
        .where(mentor_assignments.c.id == assignment_id, mentor_assignments.c.ended_at.is_(None))
        .values(ended_at=at)
    )
    return bool(result.rowcount)


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


async def mentee_rows(conn: AsyncConnection, mentor_id: str, today: date) -> list[Any]:
    """The mentor's mentees whose period runs today (its last day not passed)."""
    return list(
        (
            await conn.execute(
                select(users.c.id, users.c.display_name)
                .join(mentor_assignments, mentor_assignments.c.client_id == users.c.id)
                .where(mentor_assignments.c.mentor_id == mentor_id, mentor_assignments.c.ended_at.is_(None),
                       or_(mentor_assignments.c.ends_on.is_(None), mentor_assignments.c.ends_on >= today))
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


# -- the case page (staff) ------------------------------------------------------------------


async def face_to_face_rows(conn: AsyncConnection, case_id: str, *, limit: int) -> list[Any]:
    """The case's in-person meetings, newest first, with the officer who met the client."""
    return list((await conn.execute(
        select(face_to_face_meetings.c.id, face_to_face_meetings.c.met_at, face_to_face_meetings.c.location,
               face_to_face_meetings.c.officer_id, users.c.display_name.label("officer_name"))
        .join(users, users.c.id == face_to_face_meetings.c.officer_id)
        .where(face_to_face_meetings.c.case_id == case_id)
        .order_by(face_to_face_meetings.c.met_at.desc())
        .limit(limit)
    )).all())


async def network_rows(conn: AsyncConnection, case_id: str) -> list[Any]:
    return list((await conn.execute(
        select(users.c.id, users.c.display_name)
        .join(network_members, network_members.c.user_id == users.c.id)
        .where(network_members.c.case_id == case_id)
        .order_by(users.c.display_name)
    )).all())


async def active_mentor_rows(conn: AsyncConnection, client_id: str) -> list[Any]:
    """The client's mentors now, with their assignment (its id ends it) and its planned end."""
    return list((await conn.execute(
        select(users.c.id, users.c.display_name, mentor_assignments.c.id.label("assignment_id"),
               mentor_assignments.c.ends_on)
        .join(mentor_assignments, mentor_assignments.c.mentor_id == users.c.id)
        .where(mentor_assignments.c.client_id == client_id, mentor_assignments.c.ended_at.is_(None))
        .order_by(users.c.display_name)
    )).all())


async def staff_rows(conn: AsyncConnection, *, office_id: str, roles: Collection[str],
                     office_less: bool = False) -> list[Any]:
    """Enabled accounts of ``roles`` in ``office_id`` (and, with ``office_less``, those of no office)."""
    where_office = users.c.office_id == office_id
    if office_less:
        where_office = or_(where_office, users.c.office_id.is_(None))
    return list((await conn.execute(
        select(users.c.id, users.c.display_name, users.c.role)
        .where(users.c.role.in_(list(roles)), users.c.disabled.is_(False), where_office)
        .order_by(users.c.display_name)
    )).all())
