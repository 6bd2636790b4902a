"""Migration 0012 (case networks): policy versions stored before it load after it, with the
networks rule and the network_records category at their defaults; members keep their rows."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command

from server.policy.loader import load_dir, parse_documents
from server.settings import REPO_ROOT
from server.store.migrate import alembic_config, upgrade
from tests.helpers import db
from tests.helpers.db import _in_thread
from tests.helpers.services import PG_URL, require_postgres

NOW = "2026-01-05 09:00:00+00:00"


def test_0012_completes_stored_policy_versions(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    _in_thread(lambda: upgrade(url, "0011"))
    defaults = load_dir(REPO_ROOT / "policies").to_documents()
    old = {rule: text for rule, text in defaults.items() if rule != "networks"}
    old["retention"] = re.sub(r"\n\[retention\.categories\.network_records\]\n[^\[]*", "\n", old["retention"])
    assert "network_records" not in old["retention"]
    db = sqlite3.connect(path)
    db.execute("INSERT INTO policy_versions VALUES (1, ?, NULL, 'defaults', ?)", (json.dumps(old), NOW))
    db.commit()
    db.close()
    _in_thread(lambda: upgrade(url))
    db = sqlite3.connect(path)
    (stored,) = db.execute("SELECT documents FROM policy_versions WHERE version = 1").fetchone()
    db.close()
    policies = parse_documents(json.loads(stored), version=1)
    assert policies.networks.victim_protection_flags == ("protected_person",)
    assert policies.networks.max_access_days == 365
    assert policies.retention.categories.network_records.period_days == 1825
    _in_thread(lambda: command.downgrade(alembic_config(url), "0011"))  # and back: the documents as they were
    db = sqlite3.connect(path)
    (stored,) = db.execute("SELECT documents FROM policy_versions WHERE version = 1").fetchone()
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert "networks" not in json.loads(stored) and "network_records" not in json.loads(stored)["retention"]
    assert "networks" not in tables


def test_0012_on_postgresql() -> None:
    require_postgres()
    name = f"{db.pg_name()}_m0012"
    _in_thread(lambda: asyncio.run(db._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
    _in_thread(lambda: asyncio.run(db._admin(f'CREATE DATABASE "{name}"')))
    url = f"{PG_URL}/{name}"
    try:
        _in_thread(lambda: upgrade(url, "0011"))
        old = {"scope": "x", "retention": "[retention.categories.audit_log]\nperiod_days = 1000\n"}

        async def run(sql: str, *args: object) -> list[Any]:
            conn = await asyncpg.connect(db._raw(url))
            try:
                return list(await conn.fetch(sql, *args))
            finally:
                await conn.close()

        _in_thread(lambda: asyncio.run(run(
            "INSERT INTO policy_versions VALUES (1, $1::json, NULL, 'defaults', now())", json.dumps(old))))
        _in_thread(lambda: upgrade(url))
        (row,) = _in_thread(lambda: asyncio.run(run("SELECT documents::text AS d FROM policy_versions")))
        docs = json.loads(row["d"])
        assert docs["scope"] == "x" and '[networks]' in docs["networks"]
        # An audit log kept shorter than five years bounds the new category (it must outlive it).
        assert "[retention.categories.network_records]\nperiod_days = 1000\n" in docs["retention"]
    finally:
        _in_thread(lambda: asyncio.run(db._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
