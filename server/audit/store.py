"""Appending to and reading the audit log. Only SQL for the audit package lives here.

``append`` runs inside the caller's transaction, so the audit row commits or rolls
back with the change it describes. Appends serialise on the single ``audit_head`` row
(row lock on PostgreSQL, the write lock on SQLite) so the chain never forks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.audit.chain import GENESIS, AuditRecord, canonical_details, record_hash
from server.store.raw import Driver, Statement
from server.store.schema import audit_anchor, audit_head, audit_log


@dataclass(frozen=True)
class AuditEntry:
    """One record to append; ``append_many`` gives it its seq and hashes."""

    at: datetime
    actor_id: str | None
    action: str
    target_type: str
    target_id: str | None = None
    case_id: str | None = None
    details: Mapping[str, object] | None = None


async def append(
    conn: AsyncConnection,
    *,
    at: datetime,
    actor_id: str | None,
    action: str,
    target_type: str,
    target_id: str | None = None,
    case_id: str | None = None,
    details: Mapping[str, object] | None = None,
) -> int:
    entry = AuditEntry(at, actor_id, action, target_type, target_id, case_id, details)
    return (await conn.run_sync(append_many, [entry]))[0]


_THE_HEAD = audit_head.c.id == literal_column("1")  # one row; a literal, so the statements bind nothing else
_HEAD = Statement(lambda _: select(audit_head.c.seq, audit_head.c.hash).where(_THE_HEAD).with_for_update(), [])
_AUDIT_COLUMNS = (
    "seq",
    "at",
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "case_id",
    "details",
    "prev_hash",
    "hash",
)
_INSERT = Statement(lambda _: audit_log.insert().values({c: bindparam(c) for c in _AUDIT_COLUMNS}), _AUDIT_COLUMNS)
_SET_HEAD = Statement(
    lambda _: update(audit_head).where(_THE_HEAD).values(seq=bindparam("seq"), hash=bindparam("hash")),
    ["seq", "hash"],
)


def append_many(conn: Connection, entries: Sequence[AuditEntry]) -> list[int]:
    """Append the entries in order under one lock of the head: one INSERT for all of them and
    one head update, whatever their number (group commit of sends). Returns their seqs.
    Synchronous, so it also runs as a step of ``Store.write_in_thread``; async callers use
    ``append``. Driver-level statements (server/store/raw.py): every write appends here."""
    if not entries:
        return []
    db = Driver(conn)
    head = db.rows(_HEAD)
    if not head:
        conn.execute(audit_head.insert().values(id=1, seq=0, hash=GENESIS))
        seq, prev_hash = 0, GENESIS
    else:
        seq, prev_hash = int(head[0][0]), str(head[0][1])
    first = seq + 1
    rows: list[tuple[object, ...]] = []
    at_of: dict[datetime, object] = {}  # a batch's entries share their timestamp: convert it once
    for e in entries:
        seq += 1
        text = canonical_details(e.details or {})
        digest = record_hash(
            prev_hash,
            seq=seq,
            at=e.at.astimezone(UTC),  # as stored and read back by verification, whatever offset it came with
            actor_id=e.actor_id,
            action=e.action,
            target_type=e.target_type,
            target_id=e.target_id,
            case_id=e.case_id,
            details=text,
        )
        at = at_of.get(e.at)
        if at is None:
            at = at_of[e.at] = db.ts(e.at)
        rows.append((seq, at, e.actor_id, e.action, e.target_type, e.target_id, e.case_id, text, prev_hash, digest))
        prev_hash = digest
    db.many(_INSERT, rows)
    db.run(_SET_HEAD, (seq, prev_hash))
    return list(range(first, seq + 1))


def _record(row: object) -> AuditRecord:
    return AuditRecord(
        seq=int(row.seq),  # type: ignore[attr-defined]
        at=row.at,  # type: ignore[attr-defined]
        actor_id=row.actor_id,  # type: ignore[attr-defined]
        action=row.action,  # type: ignore[attr-defined]
        target_type=row.target_type,  # type: ignore[attr-defined]
        target_id=row.target_id,  # type: ignore[attr-defined]
        case_id=row.case_id,  # type: ignore[attr-defined]
        details=row.details,  # type: ignore[attr-defined]
        prev_hash=row.prev_hash,  # type: ignore[attr-defined]
        hash=row.hash,  # type: ignore[attr-defined]
    )


async def iter_records(engine: AsyncEngine, *, batch: int = 5000) -> AsyncIterator[AuditRecord]:
    """All records in order, read in batches so a long log never sits in memory."""
    last = 0
    while True:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(audit_log).where(audit_log.c.seq > last).order_by(audit_log.c.seq).limit(batch)
                )
            ).all()
        if not rows:
            return
        for row in rows:
            yield _record(row)
        last = int(rows[-1].seq)


async def for_case(conn: AsyncConnection, case_id: str, *, limit: int = 200) -> list[AuditRecord]:
    rows = (
        await conn.execute(
            select(audit_log).where(audit_log.c.case_id == case_id).order_by(audit_log.c.seq.desc()).limit(limit)
        )
    ).all()
    return [_record(r) for r in rows]


async def head(conn: AsyncConnection) -> tuple[int, str]:
    row = (await conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1))).first()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))


# -- expiring the oldest records (retention of the audit log itself, issue 5) ----------


async def anchor(conn: AsyncConnection) -> tuple[int, str]:
    """(seq, hash) of the last removed record: where verification starts. (0, GENESIS) if none."""
    row = (
        await conn.execute(select(audit_anchor.c.through_seq, audit_anchor.c.hash).where(audit_anchor.c.id == 1))
    ).first()
    return (0, GENESIS) if row is None else (int(row.through_seq), str(row.hash))


async def expirable_through(conn: AsyncConnection, before: datetime, held_case_ids: Select[Any]) -> int:
    """The highest seq that may go: every record up to it is older than ``before``, and none
    before it belongs to a case under legal hold (a prefix cannot skip records)."""
    first_young = (await conn.execute(select(func.min(audit_log.c.seq)).where(audit_log.c.at >= before))).scalar()
    first_held = (
        await conn.execute(select(func.min(audit_log.c.seq)).where(audit_log.c.case_id.in_(held_case_ids)))
    ).scalar()
    head_seq, _ = await head(conn)
    limits = [head_seq + 1] + [int(v) for v in (first_young, first_held) if v is not None]
    return min(limits) - 1


async def expire_through(conn: AsyncConnection, through_seq: int, at: datetime) -> int:
    """Remove records up to ``through_seq`` and move the anchor to it, in the caller's transaction."""
    row = (await conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == through_seq))).first()
    if row is None:
        return 0
    removed = (await conn.execute(delete(audit_log).where(audit_log.c.seq <= through_seq))).rowcount
    values = {"through_seq": through_seq, "hash": str(row.hash), "at": at}
    if (await conn.execute(update(audit_anchor).where(audit_anchor.c.id == 1).values(**values))).rowcount == 0:
        await conn.execute(audit_anchor.insert().values(id=1, **values))
    return int(removed)
