"""Backup-window keys: one per UTC day, created once, destroyed once older than the lifetime;
a sealed key opens only with its window's key, its window's name and its own id."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.backup.windows import KeyDir, WindowKeyError, seal, unseal, window_of

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_one_key_per_utc_day_created_once(tmp_path: Path) -> None:
    keys = KeyDir(tmp_path / "k", lifetime_days=7)
    window, key = keys.key_for_backup(NOON)
    assert window == "2026-03-10" == window_of(NOON.astimezone())
    again_window, again = keys.key_for_backup(NOON + timedelta(hours=11))
    sealed = seal(key, window, "key1", b"wrapped")
    assert again_window == window and unseal(again, window, "key1", sealed) == b"wrapped"
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "k" / "window-2026-03-10.key").stat().st_mode) == 0o600
    assert keys.key_for_backup(NOON + timedelta(hours=12))[0] == "2026-03-11"
    assert keys.windows() == ["2026-03-10", "2026-03-11"]


def test_a_sealed_key_opens_only_with_its_window_and_id(tmp_path: Path) -> None:
    keys = KeyDir(tmp_path, lifetime_days=7)
    window, key = keys.key_for_backup(NOON)
    _, other = keys.key_for_backup(NOON + timedelta(days=1))
    sealed = seal(key, window, "key1", b"wrapped")
    for args in ((other, window, "key1"), (key, "2026-03-11", "key1"), (key, window, "key2")):
        with pytest.raises(WindowKeyError):
            unseal(*args, sealed)
    with pytest.raises(WindowKeyError):
        unseal(key, window, "key1", sealed[:5])


def test_prune_destroys_keys_older_than_the_lifetime(tmp_path: Path) -> None:
    keys = KeyDir(tmp_path, lifetime_days=7)
    for day in range(3):
        keys.key_for_backup(NOON + timedelta(days=day))
    start = datetime(2026, 3, 10, tzinfo=UTC)
    assert keys.prune(start + timedelta(days=7) - timedelta(seconds=1)) == []
    assert keys.prune(start + timedelta(days=7)) == ["2026-03-10"]
    assert not (tmp_path / "window-2026-03-10.key").exists()
    with pytest.raises(WindowKeyError, match="destroyed by `tandem backup prune`"):
        keys.key("2026-03-10")
    assert keys.prune(start + timedelta(days=30)) == ["2026-03-11", "2026-03-12"]
    assert keys.windows() == []


def test_a_damaged_key_file_is_named(tmp_path: Path) -> None:
    keys = KeyDir(tmp_path, lifetime_days=7)
    (tmp_path / "window-2026-03-10.key").write_text("not base64!")
    with pytest.raises(WindowKeyError, match="unreadable"):
        keys.key("2026-03-10")
    (tmp_path / "window-2026-03-11.key").write_text("AAAA")
    with pytest.raises(WindowKeyError, match="32 bytes"):
        keys.key("2026-03-11")
    assert KeyDir(tmp_path / "absent", lifetime_days=7).windows() == []
