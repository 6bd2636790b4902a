"""The backup file: frames come back as written; a truncated, altered, extended or foreign
file is refused before any frame is handed out; a failed write leaves nothing behind."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.backup.fileformat import FORMAT, MAGIC, BackupFileError, Writer, frames, verify

AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _write(path: Path) -> None:
    writer = Writer(path)
    writer.frame({"kind": "header", "format": FORMAT, "created_at": AT})
    writer.frame({"kind": "table", "name": "t", "columns": ["a", "b"], "rows": 3})
    writer.rows([[1, b"\x00bytes"], [2, {"json": [1, 2]}], [3, None]], max_bytes=6)
    writer.finish()


def test_frames_come_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "b.tandem"
    _write(path)
    assert not (tmp_path / "b.tandem.partial").exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    got = list(frames(path))
    assert got[0] == {"kind": "header", "format": FORMAT, "created_at": AT}
    assert verify(path) == got[0]
    rows = [r for f in got if f["kind"] == "rows" for r in f["rows"]]
    assert rows == [[1, b"\x00bytes"], [2, {"json": [1, 2]}], [3, None]]
    assert len([f for f in got if f["kind"] == "rows"]) == 2  # split once the first row passed max_bytes


@pytest.mark.parametrize("damage", ["truncate", "flip", "append", "magic", "empty"])
def test_a_damaged_file_is_refused_whole(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "b.tandem"
    _write(path)
    data = path.read_bytes()
    damaged = {"truncate": data[:-10], "flip": data[:40] + bytes([data[40] ^ 1]) + data[41:],
               "append": data + b"x", "magic": b"X" + data[1:], "empty": b""}[damage]
    path.write_bytes(damaged)
    with pytest.raises(BackupFileError):
        list(frames(path))


def test_a_file_without_a_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "b.tandem"
    writer = Writer(path)
    writer.frame({"kind": "rows", "rows": []})
    writer.finish()
    with pytest.raises(BackupFileError, match="no header"):
        verify(path)
    assert path.read_bytes().startswith(MAGIC)


def test_an_abandoned_write_leaves_nothing(tmp_path: Path) -> None:
    writer = Writer(tmp_path / "b.tandem")
    writer.frame({"kind": "header", "format": FORMAT})
    writer.abandon()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(BackupFileError, match="cannot read"):
        verify(tmp_path / "b.tandem")
