"""Databases for tests: SQLite from a migrated template file, PostgreSQL from a
per-run database migrated once and truncated between tests."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import asyncpg

from server.store.migrate import upgrade
from server.store.schema import metadata
from tests.helpers.services import PG_URL

T = TypeVar("T")


def sqlite_template(dir_: Path) -> Path:
    path = dir_ / "template.db"
    if not path.exists():
        _in_thread(lambda: upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


def sqlite_copy(template: Path, dest_dir: Path) -> str:
    dest = dest_dir / "tandem.db"
    shutil.copyfile(template, dest)
    return f"sqlite+aiosqlite:///{dest}"


def _raw(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_raw(PG_URL) + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _in_thread(fn: Callable[[], T]) -> T:
    # Fixtures may be set up from inside a running loop; asyncio.run needs a thread of its own.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def create_pg_database(name: str) -> str:
    url = f"{PG_URL}/{name}"

    def make() -> None:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        upgrade(url)

    _in_thread(make)
    return url


def drop_pg_database(name: str) -> None:
    _in_thread(lambda: asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))


async def truncate_pg(url: str) -> None:
    conn = await asyncpg.connect(_raw(url))
    try:
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        await conn.execute(f"TRUNCATE {tables} CASCADE")
    finally:
        await conn.close()


def pg_name() -> str:
    return f"tandem_test_{os.getpid()}"
