"""Migrations: 0002 gives cases that existed before messaging their conversations; 0008
gives each running mentor assignment a mentoring conversation of its own.

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


def test_0008_gives_each_running_mentor_assignment_its_own_conversation(tmp_path: Path) -> None:
    """Before 0008 a client's mentors shared one conversation and assignments were duplicated.
    The thread stays with the newest running assignment among its mentors; every other running
    assignment gets a new, empty conversation; later duplicates of a pair end at their start."""
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    _in_thread(lambda: upgrade(url, "0001"))
    db = sqlite3.connect(path)
    db.execute("INSERT INTO offices VALUES ('o', 'Office', ?)", (NOW,))
    for uid, role in (("cl", "client"), ("of", "officer"), ("m1", "mentor"), ("m2", "mentor"), ("m3", "mentor")):
        db.execute("INSERT INTO users (id, username, display_name, role, office_id, totp_enabled, locale, is_demo, "
                   "disabled, created_at) VALUES (?, ?, ?, ?, 'o', 0, 'en', 0, 0, ?)", (uid, uid, uid, role, NOW))
    db.execute("INSERT INTO cases (id, client_id, officer_id, office_id, officer_since, domestic_violence, "
               "protected_person, low_digital_access, interpreter_needed, legal_hold, created_at) "
               "VALUES ('c', 'cl', 'of', 'o', ?, 0, 0, 0, 0, 0, ?)", (NOW, NOW))
    for aid, mentor, created, ended in (("a3", "m3", "2026-01-01 09:00:00+00:00", "2026-01-02 09:00:00+00:00"),
                                        ("a1", "m1", "2026-01-03 09:00:00+00:00", None),
                                        ("a2", "m2", "2026-01-04 09:00:00+00:00", None),
                                        ("a2dup", "m2", "2026-01-05 09:00:00+00:00", None)):
        db.execute("INSERT INTO mentor_assignments VALUES (?, ?, 'cl', ?, ?)", (aid, mentor, created, ended))
    db.commit()
    db.close()
    _in_thread(lambda: upgrade(url, "0007"))
    db = sqlite3.connect(path)
    (shared,) = db.execute("SELECT id FROM conversations WHERE kind = 'mentoring'").fetchone()
    db.execute("INSERT INTO data_keys (id, case_id, category, bucket, wrapped_key, created_at) "
               "VALUES ('k', 'c', 'messages', '2026-01', x'00', ?)", (NOW,))
    db.execute("INSERT INTO messages VALUES (?, 1, 'x', 'cl', 'text', 'c', 'k', x'00', ?)", (shared, NOW))
    db.commit()
    db.close()
    _in_thread(lambda: upgrade(url))
    db = sqlite3.connect(path)
    rows = db.execute("SELECT c.id, c.mentor_assignment_id, c.closed_at, group_concat(m.user_id) FROM conversations c "
                      "JOIN conversation_members m ON m.conversation_id = c.id AND m.left_at IS NULL "
                      "WHERE c.kind = 'mentoring' GROUP BY c.id").fetchall()
    ended = dict(db.execute("SELECT id, ended_at FROM mentor_assignments").fetchall())
    left = db.execute("SELECT user_id FROM conversation_members WHERE conversation_id = ? AND left_at IS NOT NULL",
                      (shared,)).fetchall()
    db.close()
    by_assignment = {a: (cid, closed, set(members.split(","))) for cid, a, closed, members in rows}
    assert set(by_assignment) == {"a1", "a2"}
    assert by_assignment["a2"] == (shared, None, {"cl", "m2"})  # the newest running mentor keeps the thread
    assert by_assignment["a1"][0] != shared and by_assignment["a1"][1:] == (None, {"cl", "m1"})
    assert left == [("m1",)]
    assert ended["a2dup"] == "2026-01-05 09:00:00+00:00" and ended["a1"] is None and ended["a2"] is None
