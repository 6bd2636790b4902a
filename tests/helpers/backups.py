"""Backups in tests: empty target databases, what each encrypted row decrypts to, and the
constraints a database has (to compare a restored one with a migrated one)."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.crypto.keyring import Keyring, KeyShredded
from server.retention.registry import HOLDERS
from server.store.engine import make_engine
from tests.conftest import TEST_KEK
from tests.helpers.db import _admin
from tests.helpers.services import PG_URL

_counter = itertools.count()


@asynccontextmanager
async def empty_database(dialect: str, tmp_path: Path) -> AsyncIterator[str]:
    """A new, empty database (no tables at all) of ``dialect``, dropped after."""
    if dialect == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / f'restored-{next(_counter)}.db'}"
        return
    name = f"tandem_restore_{os.getpid()}_{next(_counter)}"
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_URL}/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


Plain = dict[tuple[str, str], bytes | None]


async def decrypted(url: str) -> Plain:
    """(table, primary key) -> plaintext, or None when its key is shredded, for every encrypted
    row of the database at ``url``, read by a fresh process's keyring (nothing cached)."""
    engine = make_engine(url)
    keyring = Keyring(TEST_KEK)
    out: Plain = {}
    try:
        async with engine.connect() as conn:
            for holder in HOLDERS:
                for row in (await conn.execute(select(holder.table))).all():
                    key_id, body = getattr(row, holder.key_col), getattr(row, holder.body_col)
                    if key_id is None or body is None:
                        continue
                    pk = "|".join(str(getattr(row, c.name)) for c in holder.pk)
                    try:
                        out[(holder.table.name, pk)] = await keyring.decrypt(conn, key_id=key_id, blob=body,
                                                                           aad=holder.aad(row))
                    except KeyShredded:
                        out[(holder.table.name, pk)] = None
    finally:
        await engine.dispose()
    return out


def _constraints(sync: Any) -> dict[str, Any]:
    insp = inspect(sync)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        out[table] = {
            "columns": sorted((c["name"], c["nullable"]) for c in insp.get_columns(table)),
            "pk": sorted(insp.get_pk_constraint(table)["constrained_columns"]),
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]),
                           (f.get("options") or {}).get("ondelete") or "")
                          for f in insp.get_foreign_keys(table)),
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
            "indexes": sorted((i["name"], tuple(c or "" for c in i["column_names"]), bool(i["unique"]))
                              for i in insp.get_indexes(table)),
            "checks": sorted(c["name"] or "" for c in insp.get_check_constraints(table)),
        }
    return out


async def constraints(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await _run(conn)
    finally:
        await engine.dispose()


async def _run(conn: AsyncConnection) -> dict[str, Any]:
    result: dict[str, Any] = await conn.run_sync(_constraints)
    return result
