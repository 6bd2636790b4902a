"""A shred leaves no wrapped key in the database's files (issue 15).

After a sweep, the bytes of every destroyed wrapped key are searched for in the files the
database keeps: on SQLite the database file and its write-ahead log (``secure_delete`` on
every connection, the WAL emptied after a shred); on PostgreSQL the key table's relation
file (the table is vacuumed after a shred; read with ``pg_read_binary_file`` after a
CHECKPOINT, which the test role may do as a superuser). The keys still live are found
in the same bytes: the search would see a key if one were there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select

from server.clock import FakeClock
from server.store.schema import data_keys
from tests.helpers import world
from tests.helpers.db import _raw
from tests.helpers.retention import seed
from tests.integration.test_retention import AFTER_JANUARY_EXPIRED


async def _wrapped(services: Any) -> dict[str, bytes]:
    async with services.store.read("test.keys") as conn:
        rows = (await conn.execute(select(data_keys.c.id, data_keys.c.wrapped_key))).all()
    return {r.id: r.wrapped_key for r in rows if r.wrapped_key is not None}


def _sqlite_files(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def _files(db_url: str) -> bytes:
    if db_url.startswith("sqlite"):
        return _sqlite_files(Path(db_url.split(":///", 1)[1]))
    conn = await asyncpg.connect(_raw(db_url))
    try:
        await conn.execute("CHECKPOINT")  # the table's pages as they are now, in its file
        stats = await conn.fetchrow("SELECT n_dead_tup, vacuum_count FROM pg_stat_user_tables "
                                    "WHERE relname = 'data_keys'")
        assert stats is not None and stats["vacuum_count"] >= 1
        data: bytes = await conn.fetchval("SELECT pg_read_binary_file(pg_relation_filepath('data_keys'))")
        return data
    finally:
        await conn.close()


async def test_no_destroyed_key_is_left_in_the_database_files(api: Any, clock: FakeClock, db_url: str) -> None:
    _, services = api
    w = await world.build(services)
    await seed(services, w, clock)
    before = await _wrapped(services)
    clock.advance(AFTER_JANUARY_EXPIRED - clock.now())
    receipt = await services.retention.sweeper.run()
    live = await _wrapped(services)
    destroyed = {k: v for k, v in before.items() if k not in live}
    assert len(destroyed) == receipt["buckets"] >= 2 and live
    files = await _files(db_url)
    assert all(v in files for v in live.values())  # the search finds keys that are there
    left = [k for k, v in destroyed.items() if v in files]
    assert left == [], f"{len(left)} destroyed wrapped keys still in the database files"
