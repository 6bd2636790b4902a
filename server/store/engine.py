"""Creating the async engine for SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        # A fixed pool: overflow connections would be opened and closed under bursts, each
        # a new aiosqlite thread plus its PRAGMAs. Writers queue in Store, not here.
        engine = create_async_engine(
            url, connect_args={"timeout": 30}, pool_size=pool_size, max_overflow=0, pool_timeout=30
        )
        _sqlite_events(engine.sync_engine)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def make_sqlite_writer_engine(url: str) -> Engine | None:
    """A synchronous engine (plain sqlite3) on the same file, for transactions that run whole
    in one worker thread (``Store.write_in_thread``): one thread hop per step instead of
    several per statement. None for an in-memory database, which another engine cannot see."""
    sync_url = make_url(url).set(drivername="sqlite")
    if sync_url.database in (None, "", ":memory:"):
        return None
    engine = create_engine(
        sync_url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=1, max_overflow=0
    )
    _sqlite_events(engine)
    return engine


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # WAL lets readers run beside the one writer; foreign keys are off by default.
        # synchronous=NORMAL: a commit is durable against a crash of the process, and the
        # last commits before a power loss or OS crash may be lost (docs/operations.md).
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        # Deleted content is overwritten with zeros, so a shredded key's bytes do not linger in
        # free space of the database file (issue 15; the sweeper also empties the WAL after a shred).
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Writers take the write lock at BEGIN so two of them never deadlock on a
        # lock upgrade; read-only transactions stay DEFERRED and run beside them.
        readonly = conn.get_execution_options().get("tandem_readonly", False)
        conn.exec_driver_sql("BEGIN DEFERRED" if readonly else "BEGIN IMMEDIATE")

    # pysqlite's own transaction handling must be off for BEGIN IMMEDIATE to work.
    @event.listens_for(engine, "connect")
    def _no_autobegin(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
