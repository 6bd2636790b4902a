"""SQL for retention: expired keys, chunked deletes, runs, legal holds, data requests.

Every function runs inside the caller's transaction; the runner keeps each one short.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, literal_column, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnClause

from server.retention.registry import Holder
from server.store.schema import (
    cases,
    data_keys,
    data_requests,
    face_to_face_meetings,
    legal_holds,
    remote_exceptions,
    retention_runs,
    users,
)
from server.store.tx import Store


def held_cases() -> Select[Any]:
    """The ids of cases under legal hold, as a subquery."""
    return select(cases.c.id).where(cases.c.legal_hold.is_(True))


def _live_expired(category: str, before: str, case_id: str | None = None) -> list[Any]:
    conds = [data_keys.c.category == category, data_keys.c.bucket < before, data_keys.c.wrapped_key.is_not(None),
             data_keys.c.case_id.not_in(held_cases())]
    if case_id is not None:
        conds.append(data_keys.c.case_id == case_id)
    return conds


async def expired_keys(conn: AsyncConnection, category: str, before: str, *, limit: int) -> list[Any]:
    """Live keys of ``category`` in buckets before ``before``, of cases not under legal hold."""
    return list((await conn.execute(
        select(data_keys.c.id, data_keys.c.case_id, data_keys.c.bucket)
        .where(*_live_expired(category, before)).order_by(data_keys.c.bucket, data_keys.c.id).limit(limit))).all())


async def live_keys_of_case(conn: AsyncConnection, case_id: str, categories: list[str]) -> list[Any]:
    return list((await conn.execute(
        select(data_keys.c.id, data_keys.c.category, data_keys.c.bucket).where(
            data_keys.c.case_id == case_id, data_keys.c.category.in_(categories),
            data_keys.c.wrapped_key.is_not(None)))).all())


async def destroy_keys(conn: AsyncConnection, key_ids: list[str], at: datetime) -> int:
    """Destroy the wrapped keys (the shred). Only still-live keys count."""
    result = await conn.execute(
        update(data_keys).where(data_keys.c.id.in_(key_ids), data_keys.c.wrapped_key.is_not(None))
        .values(wrapped_key=None, destroyed_at=at))
    return int(result.rowcount)


async def destroyed_keys(conn: AsyncConnection, categories: list[str], exclude: list[str], *,
                         limit: int) -> list[Any]:
    """Keys already destroyed whose rows may remain: the durable to-do list of a purge."""
    conds = [data_keys.c.wrapped_key.is_(None), data_keys.c.category.in_(categories)]
    if exclude:
        conds.append(data_keys.c.id.not_in(exclude))
    return list((await conn.execute(
        select(data_keys.c.id, data_keys.c.category).where(*conds)
        .order_by(data_keys.c.destroyed_at, data_keys.c.id).limit(limit))).all())


async def keys_by_id(conn: AsyncConnection, key_ids: list[str]) -> list[Any]:
    return list((await conn.execute(select(data_keys.c.id, data_keys.c.category).where(
        data_keys.c.id.in_(key_ids), data_keys.c.wrapped_key.is_(None)))).all())


async def delete_chunk(conn: AsyncConnection, holder: Holder, key_ids: list[str], *, limit: int) -> int:
    """Delete up to ``limit`` rows encrypted under any of ``key_ids``."""
    if conn.dialect.name == "sqlite":
        # By rowid: the key_id index covers the choice and each delete is an integer-key lookup.
        rowid: ColumnClause[int] = literal_column("rowid")
        chosen_ids = select(rowid).select_from(holder.table).where(holder.col(holder.key_col).in_(key_ids))
        return int((await conn.execute(delete(holder.table).where(
            rowid.in_(chosen_ids.limit(limit).scalar_subquery())))).rowcount)
    pk = holder.pk
    chosen = select(*pk).where(holder.col(holder.key_col).in_(key_ids)).limit(limit)
    if len(pk) == 1:
        stmt = delete(holder.table).where(pk[0].in_(chosen.scalar_subquery()))
    else:
        stmt = delete(holder.table).where(tuple_(*pk).in_(chosen))
    return int((await conn.execute(stmt)).rowcount)


async def anonymise_chunk(conn: AsyncConnection, holder: Holder, key_ids: list[str], *, limit: int) -> int:
    cols = [holder.col(c) for c in holder.anonymise_nulls]
    pk = holder.pk
    chosen = select(*pk).where(holder.col(holder.key_col).in_(key_ids),
                               or_(*[c.is_not(None) for c in cols])).limit(limit)
    stmt = update(holder.table).where(tuple_(*pk).in_(chosen)).values({c.name: None for c in cols})
    return int((await conn.execute(stmt)).rowcount)


async def drop_keys(conn: AsyncConnection, key_ids: list[str]) -> None:
    await conn.execute(delete(data_keys).where(data_keys.c.id.in_(key_ids), data_keys.c.wrapped_key.is_(None)))


async def count_expired(conn: AsyncConnection, holder: Holder, before: str) -> int:
    return int((await conn.execute(
        select(func.count()).select_from(holder.table.join(data_keys, data_keys.c.id == holder.col(holder.key_col)))
        .where(*_live_expired(holder.category, before)))).scalar_one())


async def expired_buckets_by_case(conn: AsyncConnection, category: str, before: str) -> list[Any]:
    """(owner, buckets, is a case) per bucket owner: a case, or a cohort for staff feedback comments."""
    return list((await conn.execute(
        select(data_keys.c.case_id, func.count(), func.count(cases.c.id))
        .select_from(data_keys.outerjoin(cases, cases.c.id == data_keys.c.case_id))
        .where(*_live_expired(category, before))
        .group_by(data_keys.c.case_id))).all())


# -- runs ----------------------------------------------------------------------------


async def insert_run(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(retention_runs.insert().values(**values))


async def run_row(conn: AsyncConnection, run_id: str) -> Any:
    return (await conn.execute(select(retention_runs).where(retention_runs.c.id == run_id))).first()


async def set_run(conn: AsyncConnection, run_id: str, **values: Any) -> None:
    await conn.execute(update(retention_runs).where(retention_runs.c.id == run_id).values(**values))


async def unfinished_runs(conn: AsyncConnection, but: str) -> list[Any]:
    return list((await conn.execute(select(retention_runs).where(
        retention_runs.c.finished_at.is_(None), retention_runs.c.id != but))).all())


async def recent_runs(conn: AsyncConnection, *, limit: int) -> list[Any]:
    return list((await conn.execute(
        select(retention_runs).order_by(retention_runs.c.started_at.desc()).limit(limit))).all())


# -- legal holds ---------------------------------------------------------------------


async def active_hold(conn: AsyncConnection, case_id: str) -> Any:
    return (await conn.execute(select(legal_holds).where(
        legal_holds.c.case_id == case_id, legal_holds.c.lifted_at.is_(None)))).first()


async def insert_hold(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(legal_holds.insert().values(**values))


async def lift_hold(conn: AsyncConnection, hold_id: str, **values: Any) -> None:
    await conn.execute(update(legal_holds).where(legal_holds.c.id == hold_id).values(**values))


async def set_case_hold(conn: AsyncConnection, case_id: str, held: bool) -> None:
    await conn.execute(update(cases).where(cases.c.id == case_id).values(legal_hold=held))


# -- data-subject requests -------------------------------------------------------------


async def insert_request(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(data_requests.insert().values(**values))


async def request_row(conn: AsyncConnection, request_id: str, *, lock: bool = False) -> Any:
    query = select(data_requests).where(data_requests.c.id == request_id)
    return (await conn.execute(query.with_for_update() if lock else query)).first()


async def requests(conn: AsyncConnection, *, case_id: str | None = None, limit: int = 200) -> list[Any]:
    query = select(data_requests).order_by(data_requests.c.created_at.desc()).limit(limit)
    if case_id is not None:
        query = query.where(data_requests.c.case_id == case_id)
    return list((await conn.execute(query)).all())


async def decide_request(conn: AsyncConnection, request_id: str, **values: Any) -> None:
    await conn.execute(update(data_requests).where(data_requests.c.id == request_id).values(**values))


# -- what an export reads ----------------------------------------------------------------


async def holder_rows(conn: AsyncConnection, holder: Holder, case_id: str, *, limit: int) -> list[Any]:
    """The case's rows of ``holder`` that hold a sealed value (a case record's: every row)."""
    conds = [holder.col(holder.case_col) == case_id]
    if not holder.case_record:
        conds.append(holder.col(holder.key_col).is_not(None))
    return list((await conn.execute(select(holder.table).where(*conds)
                                    .order_by(holder.col(holder.at_col)).limit(limit))).all())


async def erase_case_records(conn: AsyncConnection, holder: Holder, case_id: str) -> int:
    """A granted erasure: delete the case's rows of a case-record table (faces with the comments)."""
    return int((await conn.execute(delete(holder.table).where(holder.col(holder.case_col) == case_id))).rowcount)


async def case_keys(conn: AsyncConnection, case_id: str) -> list[Any]:
    return list((await conn.execute(select(data_keys.c.category, data_keys.c.bucket).where(
        data_keys.c.case_id == case_id, data_keys.c.wrapped_key.is_not(None)))).all())


async def rows_of_case(conn: AsyncConnection, table_name: str, case_id: str) -> list[Any]:
    """Plain (unencrypted) case records an export lists: meetings, exceptions, holds, requests."""
    table = {t.name: t for t in (face_to_face_meetings, remote_exceptions, legal_holds, data_requests)}[table_name]
    return list((await conn.execute(select(table).where(table.c.case_id == case_id))).all())


async def names(conn: AsyncConnection, user_ids: set[str]) -> dict[str, tuple[str, str]]:
    """user id -> (display name, role)."""
    if not user_ids:
        return {}
    rows = await conn.execute(select(users.c.id, users.c.display_name, users.c.role).where(users.c.id.in_(user_ids)))
    return {r.id: (r.display_name, r.role) for r in rows}


async def checkpoint(store_: Store) -> None:
    """A passive WAL checkpoint (SQLite): copies what it can without waiting for anyone. On a
    connection of its own, in a thread: a pooled connection may hold a statement open."""
    path = store_.engine.url.database
    if path:
        await asyncio.to_thread(_checkpoint, path)


async def scrub_keys(store_: Store) -> bool:
    """After keys were destroyed: leave no copy of their wrapped bytes in the database's files.

    SQLite overwrites deleted content with zeros (``secure_delete``, every connection), but the
    write-ahead log still holds the pages as they were: a TRUNCATE checkpoint copies the pages
    back and empties it. PostgreSQL keeps the old row version of an UPDATE or DELETE in the
    table's file until a VACUUM prunes it: the key table is vacuumed. Returns whether it could
    (a busy SQLite or a vacuum refused is retried after the next sweep)."""
    if store_.sqlite:
        path = store_.engine.url.database
        if not path:
            return True  # an in-memory database has no files
        return await asyncio.to_thread(_truncate_wal, path)
    async with store_.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM data_keys"))
    return True


def _truncate_wal(path: str) -> bool:
    db = sqlite3.connect(path, timeout=2)
    try:
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()


def _checkpoint(path: str) -> None:
    db = sqlite3.connect(path, timeout=0.05)
    try:
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.OperationalError:
        pass  # busy: the next one will do
    finally:
        db.close()
