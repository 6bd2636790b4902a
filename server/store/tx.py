"""Named transactions. Every write of Tandem happens inside exactly one of these.

``Store.write(name)`` opens a transaction; ``Store.read(name)`` a read-only one (on
SQLite it does not take the write lock). The name appears in metrics and logs so a
slow transaction can be found.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry, Histogram
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.errors import Conflict, Unavailable
from server.store.engine import is_sqlite


class Store:
    def __init__(self, engine: AsyncEngine, registry: CollectorRegistry | None = None) -> None:
        self.engine = engine
        self.sqlite = is_sqlite(str(engine.url))
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.sqlite else None
        self._hist = Histogram(
            "tandem_transaction_seconds",
            "Duration of named store transactions",
            ["name"],
            registry=registry,
        )

    @asynccontextmanager
    async def write(self, name: str) -> AsyncIterator[AsyncConnection]:
        start = time.perf_counter()
        try:
            async with self._writer_slot(), self.engine.begin() as conn:
                yield conn
        except sa_exc.IntegrityError as err:
            raise Conflict(f"The change conflicts with existing data ({name})") from err
        except (sa_exc.OperationalError, sa_exc.InterfaceError, OSError) as err:
            raise Unavailable(f"The database is unavailable ({name})") from err
        finally:
            self._hist.labels(name).observe(time.perf_counter() - start)

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
