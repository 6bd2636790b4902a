"""Migration 0014 (mentoring periods): policy versions stored before it load after it, with the
mentoring rule at its defaults; assignments made before it keep no end, and their mentoring
conversations stay open until an officer sets one; and back down again."""

from __future__ import annotations

import asyncio
import json
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
BEFORE = "0013"  # the revision 0014 follows


def test_0014_completes_stored_policy_versions_and_keeps_assignments_open_ended(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    _in_thread(lambda: upgrade(url, BEFORE))
    old = {rule: text for rule, text in load_dir(REPO_ROOT / "policies").to_documents().items() if rule != "mentoring"}
    con = sqlite3.connect(path)
    con.execute("INSERT INTO policy_versions VALUES (1, ?, NULL, 'defaults', ?)", (json.dumps(old), NOW))
    con.execute("INSERT INTO offices (id, name, created_at) VALUES ('o', 'Office', ?)", (NOW,))
    for uid, role in (("m", "mentor"), ("c", "client")):
        con.execute("INSERT INTO users (id, username, display_name, role, office_id, password_hash, disabled, "
                    "totp_enabled, locale, is_demo, created_at) VALUES (?, ?, ?, ?, 'o', NULL, 0, 0, 'en', 0, ?)",
                    (uid, uid, uid, role, NOW))
    con.execute("INSERT INTO mentor_assignments (id, mentor_id, client_id, created_at) VALUES ('a', 'm', 'c', ?)",
                (NOW,))
    con.commit()
    con.close()
    _in_thread(lambda: upgrade(url))
    con = sqlite3.connect(path)
    (stored,) = con.execute("SELECT documents FROM policy_versions WHERE version = 1").fetchone()
    assignment = con.execute("SELECT starts_on, ends_on FROM mentor_assignments WHERE id = 'a'").fetchone()
    con.close()
    policies = parse_documents(json.loads(stored), version=1)
    assert (policies.mentoring.default_period_days, policies.mentoring.max_period_days,
            policies.mentoring.outcome_days) == (240, 730, 30)
    assert assignment == (None, None)
    _in_thread(lambda: command.downgrade(alembic_config(url), BEFORE))  # and back: the documents as they were
    con = sqlite3.connect(path)
    (stored,) = con.execute("SELECT documents FROM policy_versions WHERE version = 1").fetchone()
    tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    con.close()
    assert json.loads(stored) == old
    assert not tables & {"mentoring_activities", "mentoring_outcomes"}


def test_0014_on_postgresql() -> None:
    require_postgres()
    name = f"{db.pg_name()}_m0014"
    _in_thread(lambda: asyncio.run(db._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
    _in_thread(lambda: asyncio.run(db._admin(f'CREATE DATABASE "{name}"')))
    url = f"{PG_URL}/{name}"
    try:
        _in_thread(lambda: upgrade(url, BEFORE))

        async def run(sql: str, *args: object) -> list[Any]:
            conn = await asyncpg.connect(db._raw(url))
            try:
                return list(await conn.fetch(sql, *args))
            finally:
                await conn.close()

        _in_thread(lambda: asyncio.run(run(
            "INSERT INTO policy_versions VALUES (1, $1::json, NULL, 'defaults', now())", json.dumps({"scope": "x"}))))
        _in_thread(lambda: upgrade(url))
        (row,) = _in_thread(lambda: asyncio.run(run("SELECT documents::text AS d FROM policy_versions")))
        docs = json.loads(row["d"])
        assert docs["scope"] == "x" and "[mentoring]" in docs["mentoring"]
        _in_thread(lambda: command.downgrade(alembic_config(url), BEFORE))
        (row,) = _in_thread(lambda: asyncio.run(run("SELECT documents::text AS d FROM policy_versions")))
        assert json.loads(row["d"]) == {"scope": "x"}
    finally:
        _in_thread(lambda: asyncio.run(db._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
