"""Migrations: 0002 gives cases that existed before messaging their conversations.

The old rows are written with SQL against the 0001 schema: today's action functions
write to tables 0001 does not have, so they cannot build a pre-messaging database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.store.migrate import upgrade
from tests.helpers.db import _in_thread

NOW = "2026-01-05 09:00:00+00:00"


def test_0002_backfills_conversations(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    _in_thread(lambda: upgrade(url, "0001"))
    db = sqlite3.connect(path)
    db.execute("INSERT INTO offices VALUES ('o', 'Office', ?)", (NOW,))
    for uid, role in (("cl", "client"), ("of", "officer"), ("me", "mentor"), ("pa", "partner")):
        db.execute("INSERT INTO users (id, username, display_name, role, office_id, totp_enabled, locale, is_demo, "
                   "disabled, created_at) VALUES (?, ?, ?, ?, 'o', 0, 'en', 0, 0, ?)", (uid, uid, uid, role, NOW))
    db.execute("INSERT INTO cases (id, client_id, officer_id, office_id, officer_since, domestic_violence, "
               "protected_person, low_digital_access, interpreter_needed, legal_hold, created_at) "
               "VALUES ('c', 'cl', 'of', 'o', ?, 0, 0, 0, 0, 0, ?)", (NOW, NOW))
    db.execute("INSERT INTO mentor_assignments VALUES ('m', 'me', 'cl', ?, NULL)", (NOW,))
    db.execute("INSERT INTO network_members VALUES ('n', 'c', 'pa', ?)", (NOW,))
    db.commit()
    db.close()
    _in_thread(lambda: upgrade(url))
    db = sqlite3.connect(path)
    rows = db.execute("SELECT c.kind, group_concat(m.user_id) FROM conversations c JOIN conversation_members m "
                      "ON m.conversation_id = c.id GROUP BY c.kind ORDER BY c.kind").fetchall()
    db.close()
    assert {kind: set(members.split(",")) for kind, members in rows} == {
        "case": {"cl", "of"}, "mentoring": {"cl", "me"}, "network": {"of", "pa"}}
