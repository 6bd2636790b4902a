"""`tandem retention run` really killed mid-sweep (SIGKILL), on SQLite and PostgreSQL:
every expired key is already destroyed and the rows left cannot be read; the next run
finishes the job and its receipt names the run it finished."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from server.audit.service import verify_database
from server.clock import FakeClock
from server.crypto.keyring import Keyring, KeyShredded
from server.messaging.model import aad as _aad
from server.settings import REPO_ROOT
from server.store.schema import data_keys, messages
from tests.conftest import TEST_KEK
from tests.helpers import world
from tests.helpers.retention import case_conversation

SENT = 40


@pytest.fixture
def clock() -> FakeClock:
    # Long enough ago that January 2024's messages (730 days after the month) have expired today.
    return FakeClock(datetime(2024, 1, 5, 9, 0, tzinfo=UTC))


def tandem(db_url: str, tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    full = {**os.environ, "DATABASE_URL": db_url, "TANDEM_KEK": base64.b64encode(TEST_KEK).decode(),
            "TANDEM_DATA_DIR": str(tmp_path), "TANDEM_KEK_FILE": "", "TANDEM_DEMO": "", "REDIS_URL": "", **env}
    return subprocess.Popen([sys.executable, "-m", "server.cli", "retention", "run", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full, cwd=REPO_ROOT)


async def state(services: Any) -> tuple[int, int, int]:
    """(messages left, January keys still live, January keys destroyed)."""
    async with services.store.read("t") as conn:
        left = (await conn.execute(select(func.count()).select_from(messages))).scalar_one()
        keys = (await conn.execute(select(data_keys.c.wrapped_key).where(data_keys.c.category == "messages"))).all()
    return left, sum(k.wrapped_key is not None for k in keys), sum(k.wrapped_key is None for k in keys)


async def test_killed_sweep_is_finished_by_the_next_run(api: Any, db_url: str, tmp_path: Path) -> None:
    _, services = api
    w = await world.build(services)
    conv = await case_conversation(services, w)
    for i in range(SENT):
        await services.messaging.send(w.actor("officer"), conv, f"m{i}", f"message {i}")
    # One row per chunk and a long rest after each: the run is slow enough to be caught mid-purge.
    proc = tandem(db_url, tmp_path, TANDEM_RETENTION_CHUNK_ROWS="1", TANDEM_RETENTION_PAUSE_RATIO="50")
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            left, live, destroyed = await state(services)
            if destroyed and 0 < left < SENT - 2:
                break
            assert proc.poll() is None, f"the run ended before it could be killed: {proc.communicate()}"
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the sweep never got going")
    finally:
        proc.kill()  # SIGKILL: no cleanup of any kind
        proc.communicate()
    left, live, destroyed = await state(services)
    assert 0 < left < SENT and live == 0 and destroyed == 1
    # Nothing half-readable: the rows left cannot be decrypted with the key store.
    keyring = Keyring(TEST_KEK)
    async with services.store.read("t") as conn:
        for row in (await conn.execute(select(messages))).all():
            with pytest.raises(KeyShredded):
                await keyring.decrypt(conn, key_id=row.key_id, blob=row.body, aad=_aad(row.conversation_id, row.seq))

    rerun = tandem(db_url, tmp_path)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    receipt = json.loads(out.strip().splitlines()[-1])
    assert receipt["counts"]["messages"] == left and len(receipt["finished_interrupted_runs"]) == 1
    assert await state(services) == (0, 0, 0)  # 0 rows, 0 keys for the bucket
    assert (await verify_database(services.store.engine)).broken is None


async def test_dry_run_answers_for_a_date(api: Any, db_url: str, tmp_path: Path) -> None:
    """``--dry-run --as-of DATE``: nothing has expired by the end of January 2024, everything by 2100;
    a date that is not one, or ``--as-of`` on a real run, is refused and changes nothing."""
    _, services = api
    w = await world.build(services)
    conv = await case_conversation(services, w)
    for i in range(3):
        await services.messaging.send(w.actor("officer"), conv, f"m{i}", f"message {i}")

    def dry(*args: str) -> tuple[int, str, str]:
        proc = tandem(db_url, tmp_path, *args)
        out, err = proc.communicate(timeout=120)
        return proc.returncode, out, err

    code, out, err = dry("--dry-run", "--as-of", "2024-01-31")
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["on"].startswith("2024-01-31") and report["items"].get("messages", 0) == 0
    code, out, err = dry("--dry-run", "--as-of", "2100-01-01")
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["on"].startswith("2100-01-01") and report["items"]["messages"] == 3
    assert report["buckets"]["messages"] == 1
    for bad in ("2024-13-01", "tomorrow", "2999-01-01"):
        code, _, err = dry("--dry-run", "--as-of", bad)
        assert code == 2 and "--as-of" in err, err
    code, _, err = dry("--as-of", "2100-01-01")
    assert code == 2 and "--dry-run" in err
    assert await state(services) == (3, 1, 0)  # nothing was shredded
