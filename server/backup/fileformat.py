"""The backup file: a magic line, then length-prefixed MessagePack frames, then a trailer
with the SHA-256 of everything before it.

Frames, in order: one ``header``; per table a ``table`` frame (its name, columns and row
count) followed by ``rows`` frames of at most ``CHUNK_ROWS`` rows (each row a list in the
table frame's column order); one ``end`` frame. Values travel as MessagePack has them:
times as timestamps (UTC), bytes as bytes, JSON columns as maps and lists, dates as ISO
strings. A file is written to ``<name>.partial`` and renamed only once complete and
synced, so a backup that exists is whole; a reader checks the trailer before anyone uses
a row of it.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

MAGIC = b"TANDEM-BACKUP 1\n"
FORMAT = 1
CHUNK_ROWS = 500
#: A frame larger than this is corruption, not data (a chunk of 500 attachments of 5 MiB
#: each would be 2.5 GiB; attachments are chunked by bytes as well, see ``Writer.rows``).
MAX_FRAME = 256 * 1024 * 1024
_LEN = struct.Struct(">I")


class BackupFileError(Exception):
    """The file is not a whole Tandem backup (wrong magic, truncated, altered)."""


class Writer:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        # Only its owner reads a backup: it holds accounts, password hashes and case facts in the clear.
        fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh: IO[bytes] = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._enc = msgspec.msgpack.Encoder()
        self._write_raw(MAGIC)

    def _write_raw(self, data: bytes) -> None:
        self._fh.write(data)
        self._hash.update(data)

    def frame(self, value: dict[str, Any]) -> None:
        body = self._enc.encode(value)
        if len(body) > MAX_FRAME:
            raise BackupFileError(f"a frame of {len(body)} bytes is over the {MAX_FRAME}-byte limit")
        self._write_raw(_LEN.pack(len(body)) + body)

    def rows(self, rows: list[list[Any]], *, max_bytes: int = 64 * 1024 * 1024) -> None:
        """Rows of the current table, split so no frame is far over ``max_bytes``."""
        chunk: list[list[Any]] = []
        size = 0
        for row in rows:
            chunk.append(row)
            size += sum(len(v) for v in row if isinstance(v, (bytes, str)))
            if size >= max_bytes:
                self.frame({"kind": "rows", "rows": chunk})
                chunk, size = [], 0
        if chunk:
            self.frame({"kind": "rows", "rows": chunk})

    def finish(self) -> None:
        digest = self._hash.hexdigest()
        body = self._enc.encode({"kind": "end", "sha256": digest})
        self._fh.write(_LEN.pack(len(body)) + body)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.partial, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def abandon(self) -> None:
        """After a failure: no half backup is left behind under any name."""
        self._fh.close()
        self.partial.unlink(missing_ok=True)


def frames(path: Path) -> Iterator[dict[str, Any]]:
    """Every frame up to (not including) the trailer, after checking the trailer's digest.

    The file is read twice: once to check it whole, once to hand out its frames, so a
    caller never acts on the first rows of a file whose end is missing or altered."""
    verify(path)
    yield from _frames(path, check=False)


def verify(path: Path) -> dict[str, Any]:
    """Check the whole file; returns its header."""
    header: dict[str, Any] | None = None
    for frame in _frames(path, check=True):
        if header is None:
            header = frame
    assert header is not None  # _frames raises on a file with no header
    return header


def _frames(path: Path, *, check: bool) -> Iterator[dict[str, Any]]:
    dec = msgspec.msgpack.Decoder()
    digest = hashlib.sha256()
    try:
        fh = path.open("rb")
    except OSError as err:
        raise BackupFileError(f"{path}: cannot read ({err.strerror})") from None
    with fh:
        magic = fh.read(len(MAGIC))
        if magic != MAGIC:
            raise BackupFileError(f"{path}: not a Tandem backup (format {FORMAT})")
        digest.update(magic)
        first = True
        while True:
            raw_len = fh.read(_LEN.size)
            if len(raw_len) < _LEN.size:
                raise BackupFileError(f"{path}: truncated (no end frame): an interrupted or partial copy")
            (length,) = _LEN.unpack(raw_len)
            if length > MAX_FRAME:
                raise BackupFileError(f"{path}: a frame claims {length} bytes: the file is damaged")
            body = fh.read(length)
            if len(body) < length:
                raise BackupFileError(f"{path}: truncated inside a frame: an interrupted or partial copy")
            try:
                frame = dec.decode(body)
            except msgspec.DecodeError:
                raise BackupFileError(f"{path}: a frame does not decode: the file is damaged") from None
            if not isinstance(frame, dict) or "kind" not in frame:
                raise BackupFileError(f"{path}: a frame has no kind: the file is damaged")
            if frame["kind"] == "end":
                if check and frame.get("sha256") != digest.hexdigest():
                    raise BackupFileError(f"{path}: the checksum does not match: the file was altered or damaged")
                if fh.read(1):
                    raise BackupFileError(f"{path}: data after the end frame: the file was altered")
                return
            if first and (frame["kind"] != "header" or frame.get("format") != FORMAT):
                raise BackupFileError(f"{path}: no header of format {FORMAT}")
            first = False
            digest.update(raw_len + body)
            yield frame
