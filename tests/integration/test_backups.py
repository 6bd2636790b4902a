"""Backups that shredding reaches (issue 15): ``server/backup``.

Back up, let January's buckets expire and be shredded, prune the window keys, restore into
another database: with the backup's own key material gone, its rows restore with a newer
backup's, and January decrypts nothing while everything else decrypts in full. Restores
run on SQLite and PostgreSQL (and across them) with every constraint the migrations make;
bad input leaves the target untouched."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from server.app import create_app
from server.audit.service import verify_database
from server.backup import service as backup
from server.backup.fileformat import MAGIC
from server.backup.windows import KeyDir, window_of
from server.clock import FakeClock
from server.settings import REPO_ROOT
from server.store.engine import make_engine
from tests.conftest import TEST_KEK, make_settings
from tests.helpers import world
from tests.helpers.backups import constraints, decrypted, empty_database
from tests.helpers.retention import seed
from tests.integration.test_retention import AFTER_JANUARY_EXPIRED


def dialect(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


async def verified(url: str) -> bool:
    engine = make_engine(url)
    try:
        return (await verify_database(engine)).broken is None
    finally:
        await engine.dispose()


async def test_a_shred_reaches_a_backup_once_its_window_key_is_pruned(
        api: Any, clock: FakeClock, db_url: str, tmp_path: Path) -> None:
    _, services = api
    w = await world.build(services)
    await seed(services, w, clock)
    keys = KeyDir(tmp_path / "window-keys", lifetime_days=7)
    before = await decrypted(db_url)
    first = tmp_path / "first.tandem"
    report = await backup.backup(services.store.engine, first, keys, clock.now())
    assert report["window"] == window_of(clock.now()) and report["rows"] > 0

    clock.advance(AFTER_JANUARY_EXPIRED - clock.now())
    receipt = await services.retention.sweeper.run()
    assert receipt["buckets"] >= 2  # January's messages and attachments
    after = await decrypted(db_url)  # the live database: what a shred left
    shredded = {k for k in before if k not in after}
    assert shredded and all(v is not None for v in after.values())
    second = tmp_path / "second.tandem"
    await backup.backup(services.store.engine, second, keys, clock.now())
    config = services.policy.engine.policies.retention

    async with empty_database(dialect(db_url), tmp_path) as target:
        # Before the prune: the first backup restores whole, January included. This is the
        # exposure the key lifetime bounds.
        await backup.restore(target, first, keys, clock.now())
        assert await decrypted(target) == before
        assert await verified(target)

    pruned = backup.prune(keys, config, clock.now())
    assert pruned["destroyed_windows"] == [report["window"]]
    assert pruned["kept_windows"] == [window_of(clock.now())]

    async with empty_database(dialect(db_url), tmp_path) as target:
        with pytest.raises(backup.BackupRefused, match="--keys-from"):
            await backup.restore(target, first, keys, clock.now())
        assert await constraints(target) == {}  # untouched: not even a table
        result = await backup.restore(target, first, keys, clock.now(), keys_from=second)
        restored = await decrypted(target)
        assert set(restored) == set(before)  # every row of the first backup is back...
        assert {k for k, v in restored.items() if v is None} == shredded  # ...January reads nothing
        assert {k: v for k, v in restored.items() if v is not None} == after  # the rest in full
        assert result["keys"]["destroyed"] >= 2
        assert await verified(target)

    async with empty_database(dialect(db_url), tmp_path) as target:
        await backup.restore(target, second, keys, clock.now())
        assert await decrypted(target) == after


@pytest.mark.parametrize("into", ["sqlite", "postgresql"])
async def test_restore_brings_back_every_constraint_on_either_database(
        api: Any, clock: FakeClock, db_url: str, tmp_path: Path, into: str, sqlite_template: Path) -> None:
    """A backup restores into SQLite and PostgreSQL alike (whichever it came from), with the
    tables, keys, foreign keys, unique constraints, indexes and checks the migrations make."""
    if into == "postgresql":
        from tests.helpers.services import require_postgres

        require_postgres()
    _, services = api
    w = await world.build(services)
    await seed(services, w, clock)
    keys = KeyDir(tmp_path / "window-keys", lifetime_days=7)
    path = tmp_path / "b.tandem"
    await backup.backup(services.store.engine, path, keys, clock.now())
    reference = db_url if dialect(db_url) == into else (
        f"sqlite+aiosqlite:///{sqlite_template}" if into == "sqlite" else services_pg_reference())
    async with empty_database(into, tmp_path) as target:
        lines: list[str] = []
        await backup.restore(target, path, keys, clock.now(), progress=lines.append)
        assert await constraints(target) == await constraints(reference)
        assert any(line.startswith("restore: messages 4/4") for line in lines), lines
        assert await decrypted(target) == await decrypted(db_url)
        assert await verified(target)


def services_pg_reference() -> str:
    """The per-run PostgreSQL test database: migrated, so it has every constraint."""
    from tests.helpers.db import pg_name
    from tests.helpers.services import PG_URL

    return f"{PG_URL}/{pg_name()}"


async def test_bad_input_leaves_the_target_untouched(api: Any, clock: FakeClock, db_url: str,
                                                     tmp_path: Path) -> None:
    _, services = api
    w = await world.build(services)
    await seed(services, w, clock)
    keys = KeyDir(tmp_path / "window-keys", lifetime_days=7)
    good = tmp_path / "good.tandem"
    await backup.backup(services.store.engine, good, keys, clock.now())
    with pytest.raises(backup.BackupRefused, match="never overwrites"):
        await backup.backup(services.store.engine, good, keys, clock.now())
    data = good.read_bytes()
    broken = {
        "truncated": data[: len(data) // 2],
        "altered": data[:-200] + bytes([data[-200] ^ 1]) + data[-199:],
        "not a backup": b"PGDMP" + data[5:],
        "empty": b"",
        "magic only": MAGIC,
    }
    async with empty_database(dialect(db_url), tmp_path) as target:
        for name, content in broken.items():
            path = tmp_path / f"{name.replace(' ', '_')}.tandem"
            path.write_bytes(content)
            with pytest.raises(backup.BackupRefused, match="nothing was restored"):
                await backup.restore(target, path, keys, clock.now())
            assert await constraints(target) == {}, name
        # Key material from an older backup than the data: refused before anything is done.
        newer = tmp_path / "newer.tandem"
        clock.advance(timedelta(days=1))
        await backup.backup(services.store.engine, newer, keys, clock.now())
        with pytest.raises(backup.BackupRefused, match="older"):
            await backup.restore(target, newer, keys, clock.now(), keys_from=good)
        assert await constraints(target) == {}
    # Into a database that is not empty (the live one): refused, nothing changed.
    before = await decrypted(db_url)
    with pytest.raises(backup.BackupRefused, match="not empty"):
        await backup.restore(db_url, good, keys, clock.now())
    assert await decrypted(db_url) == before


async def test_a_key_lifetime_longer_than_a_retention_period_is_refused(api: Any, tmp_path: Path) -> None:
    _, services = api
    config = services.policy.engine.policies.retention
    category, days = backup.shortest_period(config)
    assert (category, days) == ("feedback_comments", 30)
    keys = KeyDir(tmp_path / "window-keys", lifetime_days=31)
    with pytest.raises(backup.BackupRefused, match="feedback_comments: 30 days"):
        backup.prune(keys, config, services.clock.now())
    backup.check_lifetime(30, config)


def cli(*args: str, db_url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "DATABASE_URL": db_url, "TANDEM_KEK": base64.b64encode(TEST_KEK).decode(),
            "TANDEM_DATA_DIR": str(tmp_path), "TANDEM_KEK_FILE": "", "TANDEM_DEMO": "", "REDIS_URL": "",
            "TANDEM_BACKUP_KEY_DIR": str(tmp_path / "cli-keys"), **env}
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, env=full,
                          cwd=REPO_ROOT, timeout=120, check=False)


async def test_the_commands(api: Any, clock: FakeClock, db_url: str, tmp_path: Path) -> None:
    """``tandem backup FILE`` (progress on stderr, a JSON report), ``tandem backup prune``,
    ``tandem restore FILE`` into the empty database of DATABASE_URL; a key lifetime longer
    than the shortest retention period is refused by the commands and by the server."""
    _, services = api
    w = await world.build(services)
    await seed(services, w, clock)
    path = tmp_path / "cli.tandem"
    done = await asyncio.to_thread(cli, "backup", str(path), db_url=db_url, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["backup"] == str(path) and report["key_lifetime_days"] == 7
    assert "backup: messages 4/4 rows" in done.stderr
    assert (tmp_path / "cli-keys" / f"window-{report['window']}.key").exists()
    pruned = await asyncio.to_thread(cli, "backup", "prune", db_url=db_url, tmp_path=tmp_path)
    assert pruned.returncode == 0 and json.loads(pruned.stdout)["kept_windows"] == [report["window"]]
    async with empty_database(dialect(db_url), tmp_path) as target:
        done = await asyncio.to_thread(cli, "restore", str(path), db_url=target, tmp_path=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "restore: messages 4/4 rows" in done.stderr
        assert await decrypted(target) == await decrypted(db_url)
        again = await asyncio.to_thread(cli, "restore", str(path), db_url=target, tmp_path=tmp_path)
        assert again.returncode == 1 and "not empty" in again.stderr
    for args in (("backup", str(tmp_path / "long.tandem")), ("backup", "prune")):
        refused = await asyncio.to_thread(cli, *args, db_url=db_url, tmp_path=tmp_path,
                                          TANDEM_BACKUP_KEY_LIFETIME_DAYS="91")
        assert refused.returncode == 1 and "shortest retention period" in refused.stderr, refused.stderr
    assert not (tmp_path / "long.tandem").exists()
    app = create_app(make_settings(db_url, tmp_path, backup_key_lifetime_days=91), clock=clock)
    runner = web.AppRunner(app)
    with pytest.raises(backup.BackupRefused, match="shortest retention period"):
        await runner.setup()
    await runner.cleanup()


async def test_a_target_that_cannot_be_opened_is_named(api: Any, clock: FakeClock, db_url: str,
                                                       tmp_path: Path) -> None:
    _, services = api
    keys = KeyDir(tmp_path / "window-keys", lifetime_days=7)
    path = tmp_path / "b.tandem"
    await backup.backup(services.store.engine, path, keys, clock.now())
    with pytest.raises(backup.BackupRefused, match="cannot open the target database"):
        await backup.restore(f"sqlite+aiosqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", path, keys, clock.now())
