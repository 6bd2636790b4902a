"""The database's clock, in SQL: ``db_now(offset_s)`` is "now + offset" computed by the
database server in the statement itself, never by the node that sends it.

Leases between nodes (server/signalling/homes.py) are judged in this time, so that nodes whose
clocks disagree still agree on when a lease lapses. PostgreSQL: ``statement_timestamp()``
(one server clock for every node). SQLite: ``strftime(..., 'now')``, written in the format the
``UTCDateTime`` column stores (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC), so that values written
from SQL and from Python compare as the same text and read back as the same datetimes.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from server.store.types import UTCDateTime


class db_now(FunctionElement[Any]):
    """Now on the database server's clock, plus ``offset_s`` seconds (a finite float)."""

    type = UTCDateTime()
    inherit_cache = False  # the offset is rendered into the SQL text

    def __init__(self, offset_s: float = 0.0) -> None:
        if not math.isfinite(offset_s):
            raise ValueError("offset must be a finite number of seconds")
        self.offset_s = float(offset_s)
        super().__init__()


def _offset(element: db_now) -> str:
    return f"{element.offset_s:+.6f} seconds"  # a float we formatted: no input reaches the SQL text


@compiles(db_now, "postgresql")
def _pg(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    if element.offset_s == 0:
        return "statement_timestamp()"
    return f"(statement_timestamp() + interval '{_offset(element)}')"


@compiles(db_now, "sqlite")
def _sqlite(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y-%m-%d %H:%M:%f000', 'now', '{_offset(element)}')"


class lease_end(FunctionElement[Any]):
    """When a lease stored as ``until`` ends, as the database judges it: ``until``, but never before
    ``lease_s`` after the database server (re)started. While PostgreSQL is down no holder can renew,
    so a restart longer than a lease would otherwise hand every room to whichever node looked first;
    after it, every holder gets one lease length to renew. SQLite is a file, opened by each node:
    there is no server to restart, and the lease ends at ``until``."""

    type = UTCDateTime()
    inherit_cache = False  # the lease length is rendered into the SQL text

    def __init__(self, until: Any, lease_s: float) -> None:
        if not math.isfinite(lease_s) or lease_s <= 0:
            raise ValueError("a lease must last a finite number of seconds")
        self.lease_s = float(lease_s)
        super().__init__(until)


@compiles(lease_end, "postgresql")
def _pg_lease_end(element: lease_end, compiler: SQLCompiler, **kw: Any) -> str:
    until = compiler.process(element.clauses, **kw)
    return f"greatest({until}, pg_postmaster_start_time() + interval '{element.lease_s:+.6f} seconds')"


@compiles(lease_end, "sqlite")
def _sqlite_lease_end(element: lease_end, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))
