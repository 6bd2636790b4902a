"""SQL of backups and restores: read a table in one snapshot, write it back into an empty
database. Tables come from the schema's metadata in foreign-key order, so a restore never
inserts a row before the row it refers to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Connection, Table, delete, func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.schema import metadata

VERSION_TABLE = "alembic_version"


def tables() -> list[Table]:
    """Every table of the schema, each after the tables it refers to."""
    return list(metadata.sorted_tables)


async def revision(conn: AsyncConnection) -> str | None:
    if VERSION_TABLE not in await existing_tables(conn):
        return None
    return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()


async def existing_tables(conn: AsyncConnection) -> list[str]:
    return await conn.run_sync(lambda sync: sorted(inspect(sync).get_table_names()))


async def count(conn: AsyncConnection, table: Table) -> int:
    return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def rows(conn: AsyncConnection, table: Table, *, chunk: int) -> AsyncIterator[list[list[Any]]]:
    """The table's rows in primary-key order, ``chunk`` at a time, as lists in column order."""
    result = await conn.stream(select(table).order_by(*table.primary_key.columns))
    async for part in result.partitions(chunk):
        yield [list(r) for r in part]


async def clear(conn: AsyncConnection) -> None:
    """Remove the rows the migrations themselves insert (a freshly migrated database is empty of data)."""
    for table in reversed(tables()):
        await conn.execute(delete(table))


async def insert(conn: AsyncConnection, table: Table, batch: list[dict[str, Any]]) -> None:
    if batch:
        await conn.execute(table.insert(), batch)


def drop_all(conn: Connection) -> None:
    """Put a database a failed restore had migrated back to empty."""
    metadata.drop_all(conn)
    conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
