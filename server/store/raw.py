"""Core statements compiled once per dialect and run at the driver level (hot paths).

Design note. SQLAlchemy Core spends Python time on every row it binds or fetches:
parameter dicts, bind and result processors, cache-key lookups. On the group commit of
sends (``messaging/pipeline.py``) the SQLite writer thread held the GIL 43 % of the time,
most of it in that work; at the driver level it is 27 % (py-spy over bench/messaging.py,
which also counts the rest of the batch's steps). A ``Statement`` keeps the SQL written once, in Core
(dialect-neutral, next to the schema), compiles it once per dialect to the driver's own
SQL text, and then runs it on the DBAPI cursor of the same connection, inside the same
transaction: values go in as positional tuples already in the driver's form
(``Driver.ts`` for timestamps, ``Driver.set_of`` for sets), rows come back as plain
tuples. Nothing else of SQLAlchemy runs per row.

A set of values is one parameter, ``any_of(column, name)``: ``IN (SELECT value FROM
json_each(?))`` on SQLite and ``= ANY($n)`` on PostgreSQL, so a statement compiles once
whatever the set's size.

Only hot statements belong here; everything else stays plain Core.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ARRAY, Column, Connection, String, any_, bindparam, func, literal_column, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

#: How UTCDateTime + SQLite's DATETIME store a timestamp (naive UTC text); parsing it back is
#: datetime.fromisoformat, as UTCDateTime does.
SQLITE_TS = "%Y-%m-%d %H:%M:%S.%f"


def driver_ts(value: datetime, *, sqlite: bool) -> Any:
    """A timezone-aware timestamp in the driver's form (what UTCDateTime would bind)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return value.astimezone(UTC).strftime(SQLITE_TS) if sqlite else value


def any_of(column: Column[Any] | ColumnElement[Any], name: str, *, sqlite: bool) -> ColumnElement[bool]:
    """``column`` is one of the set bound as ``name`` (pass ``Driver.set_of(values)``)."""
    if sqlite:
        return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name))))
    return column == any_(bindparam(name, type_=ARRAY(String)))


class Statement:
    """``build(sqlite)`` returns the Core statement; it is compiled on first use per dialect.
    ``params`` names the positional order in which callers give values."""

    __slots__ = ("_build", "_compiled", "params")

    def __init__(self, build: Callable[[bool], ClauseElement], params: Sequence[str]) -> None:
        self._build = build
        self.params = tuple(params)
        self._compiled: dict[str, tuple[str, tuple[int, ...] | None]] = {}

    def compiled(self, dialect: Dialect) -> tuple[str, tuple[int, ...] | None]:
        """The driver's SQL text and, when its placeholders are not in ``params`` order, the
        index in ``params`` of each placeholder (a name used twice appears twice on SQLite)."""
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = cast(SQLCompiler, self._build(dialect.name == "sqlite").compile(dialect=dialect))
            order = tuple(compiled.positiontup or ())
            unknown = set(order) - set(self.params)
            if unknown:
                raise ValueError(f"statement binds {sorted(unknown)} not declared in params {self.params}")
            index = tuple(self.params.index(name) for name in order)
            found = (str(compiled), None if index == tuple(range(len(self.params))) else index)
            self._compiled[dialect.name] = found
        return found


class Driver:
    """The DBAPI connection under a SQLAlchemy ``Connection`` (sync: the SQLite writer thread
    or ``run_sync`` on the async engines), for ``Statement``s. Same transaction."""

    __slots__ = ("_dbapi", "_error", "dialect", "sqlite")
    _dbapi: Any

    def __init__(self, conn: Connection) -> None:
        self.dialect = conn.dialect
        self.sqlite = conn.dialect.name == "sqlite"
        dbapi = conn.connection.dbapi_connection
        if dbapi is None:
            raise RuntimeError("the connection is closed")
        self._dbapi = dbapi
        self._error: type[Exception] = conn.dialect.loaded_dbapi.Error

    def ts(self, value: datetime) -> Any:
        return driver_ts(value, sqlite=self.sqlite)

    def set_of(self, values: Iterable[str]) -> Any:
        return json.dumps(list(values)) if self.sqlite else list(values)

    def rows(self, stmt: Statement, values: Sequence[Any] = ()) -> list[Sequence[Any]]:
        sql, index = stmt.compiled(self.dialect)
        cur = self._dbapi.cursor()
        try:
            cur.execute(sql, _ordered(values, index))
            return list(cur.fetchall()) if cur.description else []
        except self._error as err:
            raise _wrapped(sql, err, self._error) from err
        finally:
            cur.close()

    def run(self, stmt: Statement, values: Sequence[Any] = ()) -> None:
        self.rows(stmt, values)

    def many(self, stmt: Statement, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for all the rows (asyncpg pipelines them in one round trip)."""
        if not rows:
            return
        sql, index = stmt.compiled(self.dialect)
        cur = self._dbapi.cursor()
        try:
            cur.executemany(sql, rows if index is None else [_ordered(r, index) for r in rows])
        except self._error as err:
            raise _wrapped(sql, err, self._error) from err
        finally:
            cur.close()


def _wrapped(sql: str, err: Exception, base: type[Exception]) -> Exception:
    """The driver's error as SQLAlchemy would raise it (IntegrityError, OperationalError...),
    so callers (``Store``'s named transactions) map it the same way."""
    return sa_exc.DBAPIError.instance(sql, None, err, base)


def _ordered(values: Sequence[Any], index: tuple[int, ...] | None) -> Sequence[Any]:
    return values if index is None else tuple(values[i] for i in index)


def parse_ts(value: Any) -> datetime:
    """A timestamp read through a ``Statement`` (text on SQLite), as UTCDateTime reads it."""
    parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
