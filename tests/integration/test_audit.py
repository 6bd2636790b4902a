"""The audit chain over a real database, and `tandem audit verify` finding tampering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import delete, update

from server.audit.service import verify_database
from server.store.schema import audit_log
from tests.helpers.world import build


def run_verify(db_url: str, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "DATABASE_URL": db_url, "TANDEM_KEK_FILE": str(tmp_path / "kek.key"),
           "TANDEM_DATA_DIR": str(tmp_path)}
    (tmp_path / "kek.key").write_text("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
    proc = subprocess.run([sys.executable, "-m", "server.cli", "audit", "verify"], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


async def test_intact_chain_verifies(api: Any, db_url: str, tmp_path: Path) -> None:
    _, services = api
    await build(services)
    report = await verify_database(services.store.engine)
    assert report.broken is None and report.records > 20
    code, out = run_verify(db_url, tmp_path)
    assert code == 0 and out["ok"] is True and out["records"] == report.records


async def test_tampered_record_is_found_by_cli(api: Any, db_url: str, tmp_path: Path) -> None:
    _, services = api
    await build(services)
    async with services.store.write("tamper") as conn:
        await conn.execute(update(audit_log).where(audit_log.c.seq == 7).values(details='{"forged":true}'))
    code, out = run_verify(db_url, tmp_path)
    assert code == 1 and out["first_bad_seq"] == 7 and "altered" in out["reason"]


async def test_removed_record_is_found(api: Any) -> None:
    _, services = api
    await build(services)
    async with services.store.write("tamper") as conn:
        await conn.execute(delete(audit_log).where(audit_log.c.seq == 5))
    report = await verify_database(services.store.engine)
    assert report.broken is not None and report.broken.seq == 5


async def test_truncated_tail_is_found(api: Any) -> None:
    _, services = api
    await build(services)
    report = await verify_database(services.store.engine)
    async with services.store.write("tamper") as conn:
        await conn.execute(delete(audit_log).where(audit_log.c.seq == report.records))
    report2 = await verify_database(services.store.engine)
    assert report2.broken is not None and report2.broken.seq == report.records


async def test_failed_write_leaves_no_audit_row(api: Any) -> None:
    _, services = api
    await build(services)
    before = await verify_database(services.store.engine)
    # A duplicate username fails inside the transaction: no user and no audit row.
    from server.errors import Conflict
    from server.identity.model import Role

    try:
        await services.identity.create_user(None, username="officer", display_name="dup", role=Role.OFFICER,
                                            office_id=None, password="long-enough-pw")
        raise AssertionError("duplicate created")
    except Conflict:
        pass
    after = await verify_database(services.store.engine)
    assert after.records == before.records and after.broken is None
