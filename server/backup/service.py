"""``tandem backup``, ``tandem backup prune`` and ``tandem restore``: backups that shredding reaches.

Design note. A backup is a logical dump made through SQLAlchemy, table by table in one
snapshot (REPEATABLE READ on PostgreSQL, one read transaction on SQLite), so one file
restores into either database. Client data in it is ciphertext under bucket keys, as in
the database; the bucket keys' wrapped copies (``data_keys.wrapped_key``) are sealed once
more under the key of the backup's window (``windows.py``), which lives outside the
database and is destroyed by ``prune`` once older than the configured lifetime. So:

* until its window key is pruned, a backup restores whole, buckets shredded since included
  (that is the exposure a backup lifetime buys, and why it may not exceed the shortest
  retention period in force);
* after that, its data keys are gone. Its rows still restore, with the key material of a
  newer backup (``--keys-from``): a bucket still live then reads in full, a bucket shredded
  in between gets a destroyed key and reads nothing, exactly as in the live database.

A restore goes only into an empty database: the file (and the key source) are checked
whole first, the schema is built by the migrations of the backup's revision, and every row
is inserted in one transaction; on any failure the target is emptied again and the error
says so (or says plainly that it is partial, if even that failed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Date, Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.backup import store
from server.backup.fileformat import CHUNK_ROWS, FORMAT, BackupFileError, Writer, frames, verify
from server.backup.windows import KeyDir, WindowKeyError, seal, unseal
from server.crypto.keyring import CATEGORIES as KEY_CATEGORIES
from server.policy.schema import RetentionConfig
from server.store.engine import make_engine
from server.store.migrate import alembic_config, upgrade_async
from server.store.schema import data_keys, metadata

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
WRAPPED = [c.name for c in data_keys.columns].index("wrapped_key")
KEY_ID = [c.name for c in data_keys.columns].index("id")
DESTROYED_AT = [c.name for c in data_keys.columns].index("destroyed_at")


class BackupRefused(Exception):
    """Nothing was done (or what was done was undone): the message says why and what to do."""


def _quiet(_line: str) -> None:
    return None


def shortest_period(config: RetentionConfig) -> tuple[str, int]:
    """The encrypted category with the shortest retention period, and that period in days."""
    return min(((c, config.categories.of(c).period_days) for c in KEY_CATEGORIES), key=lambda p: p[1])


def check_lifetime(lifetime_days: int, config: RetentionConfig) -> None:
    category, days = shortest_period(config)
    if lifetime_days > days:
        raise BackupRefused(
            f"TANDEM_BACKUP_KEY_LIFETIME_DAYS is {lifetime_days} days, longer than the shortest retention period "
            f"in force ({category}: {days} days): a backup could keep expired data readable longer than the data "
            "itself was kept. Lower the lifetime.")


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


# -- backup ---------------------------------------------------------------------------------


async def backup(engine: AsyncEngine, path: Path, keys: KeyDir, now: datetime,
                 progress: Progress = _quiet) -> dict[str, Any]:
    _check_new(path)
    window, key = keys.key_for_backup(now)
    writer = Writer(path)
    total = 0
    try:
        async with engine.connect() as conn:
            conn = await _snapshot(conn)
            async with conn.begin():
                revision = await store.revision(conn)
                if revision != head_revision():
                    raise BackupRefused(f"the database is at schema revision {revision}, this Tandem at "
                                        f"{head_revision()}: run `tandem migrate` first")
                counts = {t.name: await store.count(conn, t) for t in store.tables()}
                writer.frame({"kind": "header", "format": FORMAT, "created_at": now, "window": window,
                              "revision": revision, "dialect": conn.dialect.name, "tables": counts})
                for table in store.tables():
                    total += await _dump_table(conn, writer, table, counts[table.name], window, key, progress)
        writer.finish()
    except BaseException:
        writer.abandon()
        raise
    return {"backup": str(path), "window": window, "revision": revision, "rows": total,
            "bytes": _size(path), "key_lifetime_days": keys.lifetime_days}


def _check_new(path: Path) -> None:
    if path.exists() or path.with_name(path.name + ".partial").exists():
        raise BackupRefused(f"{path} exists: a backup never overwrites a file")
    if not path.parent.is_dir():
        raise BackupRefused(f"{path.parent}: no such directory")


def _size(path: Path) -> int:
    return path.stat().st_size


async def _snapshot(conn: AsyncConnection) -> AsyncConnection:
    """Every table read from one snapshot of the database."""
    if conn.dialect.name == "postgresql":
        return await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return await conn.execution_options(tandem_readonly=True)  # BEGIN DEFERRED: a WAL read snapshot


async def _dump_table(conn: AsyncConnection, writer: Writer, table: Table, expected: int, window: str,
                      key: Any, progress: Progress) -> int:
    writer.frame({"kind": "table", "name": str(table.name), "columns": [str(c.name) for c in table.columns],
                  "rows": expected})
    done = 0
    async for chunk in store.rows(conn, table, chunk=CHUNK_ROWS):
        if table is data_keys:
            for row in chunk:
                if row[WRAPPED] is not None:
                    row[WRAPPED] = seal(key, window, row[KEY_ID], row[WRAPPED])
        writer.rows(chunk)
        done += len(chunk)
        if expected > CHUNK_ROWS or done == expected:
            progress(f"backup: {table.name} {done}/{expected} rows")
    return done


# -- restore --------------------------------------------------------------------------------


async def restore(url: str, path: Path, keys: KeyDir, now: datetime, *, keys_from: Path | None = None,
                  progress: Progress = _quiet) -> dict[str, Any]:
    try:
        header = verify(path)
        source = verify(keys_from) if keys_from is not None else header
    except BackupFileError as err:
        raise BackupRefused(f"{err}; nothing was restored") from None
    for h, p in ((header, path), (source, keys_from or path)):
        if h.get("revision") != head_revision():
            raise BackupRefused(f"{p} is of schema revision {h.get('revision')}, this Tandem restores "
                                f"{head_revision()}: restore it with the Tandem version that made it, then migrate")
    if keys_from is not None and source["created_at"] < header["created_at"]:
        raise BackupRefused(f"--keys-from {keys_from} is older than {path}: take the key material from a newer "
                            "backup (it must know every bucket the older one had, or that it was shredded)")
    try:
        material = _key_material(keys_from or path, source["window"], keys)
    except WindowKeyError as err:
        hint = "" if keys_from else "; restore its rows with the key material of a newer backup: --keys-from NEWER"
        raise BackupRefused(f"{err}{hint}. Nothing was restored.") from None
    progress(f"restore: {path} checked, key material of window {source['window']} opened "
             f"({sum(v is not None for v in material.values())} live keys)")
    engine = make_engine(url)
    try:
        try:
            async with engine.connect() as conn:
                existing = await store.existing_tables(conn)
        except (SQLAlchemyError, OSError) as err:
            raise BackupRefused(f"cannot open the target database ({type(err).__name__}: {err}); "
                                "nothing was done") from None
        if existing:
            raise BackupRefused(f"the target database is not empty (it has {len(existing)} tables, e.g. "
                                f"{', '.join(existing[:3])}): restore only into an empty database. Nothing was done.")
        await upgrade_async(url, header["revision"])
        try:
            async with engine.begin() as conn:
                counts, restored_keys = await _load(conn, path, material, now, progress)
        except BaseException as err:
            await _undo(engine, err)
            raise
    finally:
        await engine.dispose()
    live = sum(1 for v in material.values() if v is not None)
    return {"restored": str(path), "keys_from": str(keys_from or path), "window": source["window"],
            "rows": sum(counts.values()), "tables": len(counts), "keys": restored_keys,
            "source_live_keys": live}


def _key_material(path: Path, window: str, keys: KeyDir) -> dict[str, bytes | None]:
    """key id -> its wrapped key (unsealed), or None for a key destroyed when ``path`` was taken."""
    key = keys.key(window)
    out: dict[str, bytes | None] = {}
    in_keys = False
    for frame in frames(path):
        if frame["kind"] == "table":
            in_keys = frame["name"] == data_keys.name
        elif frame["kind"] == "rows" and in_keys:
            for row in frame["rows"]:
                sealed = row[WRAPPED]
                out[row[KEY_ID]] = None if sealed is None else unseal(key, window, row[KEY_ID], sealed)
    return out


async def _load(conn: AsyncConnection, path: Path, material: dict[str, bytes | None], now: datetime,
                progress: Progress) -> tuple[dict[str, int], dict[str, int]]:
    await store.clear(conn)
    counts: dict[str, int] = {}
    kept = destroyed = 0
    table: Table | None = None
    columns: list[str] = []
    dates: list[int] = []
    expected = 0
    for frame in frames(path):
        if frame["kind"] == "table":
            table = metadata.tables.get(frame["name"])
            columns = list(frame["columns"])
            if table is None or columns != [c.name for c in table.columns]:
                raise BackupRefused(f"{path}: table {frame['name']} does not match this schema")
            dates = [i for i, c in enumerate(table.columns) if isinstance(c.type, Date)]
            expected = int(frame["rows"])
            counts[table.name] = 0
        elif frame["kind"] == "rows":
            assert table is not None
            rows = frame["rows"]
            if table is data_keys:
                for row in rows:
                    row[WRAPPED] = material.get(row[KEY_ID])
                    if row[WRAPPED] is None:
                        destroyed += 1
                        row[DESTROYED_AT] = row[DESTROYED_AT] or now  # shredded after this backup was taken
                    else:
                        kept += 1
            for row in rows:
                for i in dates:
                    if isinstance(row[i], str):
                        row[i] = date.fromisoformat(row[i])
            await store.insert(conn, table, [dict(zip(columns, row, strict=True)) for row in rows])
            counts[table.name] += len(rows)
            progress(f"restore: {table.name} {counts[table.name]}/{expected} rows")
    return counts, {"live": kept, "destroyed": destroyed}


async def _undo(engine: AsyncEngine, err: BaseException) -> None:
    try:
        async with engine.begin() as conn:
            await conn.run_sync(store.drop_all)
    except Exception:
        log.exception("could not empty the target after a failed restore")
        raise BackupRefused(f"restore failed ({err}) and the target could not be emptied again: it holds a "
                            "PARTIAL schema and no restored rows; drop the database before trying again") from err
    if isinstance(err, BackupRefused):
        raise BackupRefused(f"{err} Nothing was restored; the target is empty again.") from err
    raise BackupRefused(f"restore failed ({type(err).__name__}: {err}); nothing was restored, the target "
                        "is empty again") from err


# -- prune ----------------------------------------------------------------------------------


def prune(keys: KeyDir, config: RetentionConfig, now: datetime) -> dict[str, Any]:
    check_lifetime(keys.lifetime_days, config)
    destroyed = keys.prune(now)
    return {"destroyed_windows": destroyed, "kept_windows": keys.windows(), "key_lifetime_days": keys.lifetime_days}
