"""Backups are covered: a copy of the database taken before a sweep (a SQLite file copy;
a PostgreSQL ``pg_dump`` restored into another database) keeps the expired rows, but
after the sweep they cannot be decrypted with the live key store, while the rows that
have not expired still can."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.clock import FakeClock
from server.crypto.keyring import Keyring, KeyShredded
from server.messaging.model import aad as _aad
from server.store.engine import make_engine
from server.store.schema import messages
from tests.conftest import TEST_KEK
from tests.helpers import world
from tests.helpers.db import _admin
from tests.helpers.retention import seed
from tests.integration.test_retention import AFTER_JANUARY_EXPIRED


async def _copy(db_url: str, tmp_path: Path) -> tuple[str, str | None]:
    """A backup of the live database: (its URL, the PostgreSQL database to drop after)."""
    if db_url.startswith("sqlite"):
        src = sqlite3.connect(db_url.split(":///", 1)[1])
        dest_path = tmp_path / "backup.db"
        dest = sqlite3.connect(dest_path)
        src.backup(dest)
        src.close()
        dest.close()
        return f"sqlite+aiosqlite:///{dest_path}", None
    base, name = db_url.rsplit("/", 1)
    copy = f"{name}_backup"
    raw = base.replace("postgresql+asyncpg://", "postgresql://")
    await _admin(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{copy}"')
    dump = await asyncio.to_thread(subprocess.run, ["pg_dump", "--no-owner", f"{raw}/{name}"],
                                   capture_output=True, check=True)
    await asyncio.to_thread(subprocess.run, ["psql", "-q", "-v", "ON_ERROR_STOP=1", f"{raw}/{copy}"],
                            input=dump.stdout, capture_output=True, check=True)
    return f"{base}/{copy}", copy


async def _readable(backup_url: str, live: Any) -> dict[str, bool]:
    """Each message in the backup: can it be decrypted with the live key store?"""
    engine = make_engine(backup_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(messages))).all()
    finally:
        await engine.dispose()
    keyring = Keyring(TEST_KEK)  # a fresh process: nothing cached
    out: dict[str, bool] = {}
    async with live.store.read("test.backup") as conn:
        for row in rows:
            try:
                await keyring.decrypt(conn, key_id=row.key_id, blob=row.body, aad=_aad(row.conversation_id, row.seq))
                out[row.id] = True
            except KeyShredded:
                out[row.id] = False
    return out


async def test_a_backup_taken_before_the_sweep_is_unreadable_after_it(
        api: Any, clock: FakeClock, db_url: str, tmp_path: Path) -> None:
    _, services = api
    w = await world.build(services)
    await seed(services, w, clock)
    clock.advance(AFTER_JANUARY_EXPIRED - clock.now())
    backup_url, drop = await _copy(db_url, tmp_path)
    try:
        assert await _readable(backup_url, services) == {"jan-0": True, "jan-1": True, "jan-2": True, "mar-0": True}
        await services.retention.sweeper.run()
        assert await _readable(backup_url, services) == {"jan-0": False, "jan-1": False, "jan-2": False,
                                                         "mar-0": True}
    finally:
        if drop is not None:
            await _admin(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
