"""Named transactions. Every write of Tandem happens inside exactly one of these.

``Store.write(name)`` opens a transaction; ``Store.read(name)`` a read-only one (on
SQLite it does not take the write lock). The name appears in metrics and logs so a
slow transaction can be found.

``Store.write_in_thread(name)`` is a write transaction made of a few synchronous steps
(functions of a SQLAlchemy ``Connection``), for hot paths with many statements (group
commit of sends). On SQLite each step runs whole in one writer thread on a plain sqlite3
connection: one thread hop per step, where aiosqlite takes three or four per statement,
and on a busy machine every hop waits to be scheduled. On PostgreSQL the steps run on
the event loop through ``run_sync`` (asyncpg has no threads to hop).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Histogram
from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.errors import Conflict, Unavailable
from server.store.engine import is_sqlite, make_sqlite_writer_engine

T = TypeVar("T")


class ThreadTx:
    """One open write transaction; ``await tx.run(step, *args)`` runs ``step(connection, *args)``
    inside it (in the writer thread on SQLite)."""

    def __init__(self, run: Callable[..., Awaitable[Any]]) -> None:
        self._run = run

    async def run(self, step: Callable[..., T], *args: Any) -> T:
        result: T = await self._run(step, *args)
        return result


def _commit_close(conn: Connection) -> None:
    try:
        conn.commit()
    finally:
        conn.close()


def _rollback_close(conn: Connection) -> None:
    try:
        conn.rollback()
    finally:
        conn.close()


class Store:
    def __init__(self, engine: AsyncEngine, registry: CollectorRegistry | None = None) -> None:
        self.engine = engine
        self.sqlite = is_sqlite(str(engine.url))
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.sqlite else None
        self._thread_engine = make_sqlite_writer_engine(str(engine.url)) if self.sqlite else None
        self._thread: ThreadPoolExecutor | None = None
        self._hist = Histogram(
            "tandem_transaction_seconds",
            "Duration of named store transactions",
            ["name"],
            registry=registry,
        )

    @asynccontextmanager
    async def write(self, name: str) -> AsyncIterator[AsyncConnection]:
        async with self._named_write(name), self._writer_slot(), self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def write_in_thread(self, name: str) -> AsyncIterator[ThreadTx]:
        async with self._named_write(name), self._writer_slot():
            if self._thread_engine is None:
                async with self.engine.begin() as aconn:
                    yield ThreadTx(aconn.run_sync)
            else:
                async with self._in_thread() as tx:
                    yield tx

    @asynccontextmanager
    async def _named_write(self, name: str) -> AsyncIterator[None]:
        """Database errors of a write become Tandem's; its duration is recorded under its name."""
        start = time.perf_counter()
        try:
            yield
        except sa_exc.IntegrityError as err:
            raise Conflict(f"The change conflicts with existing data ({name})", reason="store.conflict") from err
        except (sa_exc.OperationalError, sa_exc.InterfaceError, OSError) as err:
            raise Unavailable(f"The database is unavailable ({name})") from err
        finally:
            self._hist.labels(name).observe(time.perf_counter() - start)

    @asynccontextmanager
    async def _in_thread(self) -> AsyncIterator[ThreadTx]:
        engine = self._thread_engine
        assert engine is not None
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        pool, loop = self._thread, asyncio.get_running_loop()
        opened: list[Connection] = []

        def call(step: Callable[..., Any], args: tuple[Any, ...]) -> Any:
            if not opened:
                conn = engine.connect()
                opened.append(conn)
                conn.begin()  # BEGIN IMMEDIATE (engine.py): the file's write lock until commit
            return step(opened[0], *args)

        async def run(step: Callable[..., Any], *args: Any) -> Any:
            return await loop.run_in_executor(pool, call, step, args)

        try:
            yield ThreadTx(run)
        except BaseException:
            if opened:
                await asyncio.shield(loop.run_in_executor(pool, _rollback_close, opened[0]))
            raise
        if opened:
            await asyncio.shield(loop.run_in_executor(pool, _commit_close, opened[0]))

    def close(self) -> None:
        """Stop the SQLite writer thread and its connection (at shutdown)."""
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        if self._thread_engine is not None:
            self._thread_engine.dispose()

    @asynccontextmanager
    async def _writer_slot(self) -> AsyncIterator[None]:
        """SQLite has one writer at a time. Writers queue here, on the event loop, rather than
        holding pooled connections while they wait in SQLite's busy handler, which would starve
        readers of connections. PostgreSQL writers run concurrently."""
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    @asynccontextmanager
    async def read(self, name: str) -> AsyncIterator[AsyncConnection]:
        start = time.perf_counter()
        try:
            async with self.engine.connect() as conn:
                await conn.execution_options(tandem_readonly=True)
                async with conn.begin():
                    yield conn
        except (sa_exc.OperationalError, sa_exc.InterfaceError, OSError) as err:
            raise Unavailable(f"The database is unavailable ({name})") from err
        finally:
            self._hist.labels(name).observe(time.perf_counter() - start)
