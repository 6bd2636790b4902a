"""Backup-window keys: what seals a backup's key material, kept outside the database.

Design note. A database backup holds the wrapped data keys of every bucket live when it
was taken, and the KEK unwraps them: a backup restored with the KEK would read buckets
shredded since (GDPR art. 5(1)(e), 17 reach backups only if that copy dies too). So
``tandem backup`` seals every wrapped key once more, with AES-256-GCM under the key of the
*window* (the UTC day) the backup was taken in. Window keys live in a directory of their
own (``TANDEM_BACKUP_KEY_DIR``), never in the database or in a backup, and ``prune``
destroys every window key older than the configured lifetime (its window's start plus
``lifetime_days``). From then on no backup of that window can give back any data key,
whatever else survives: a shred at time S reaches every backup at the first prune at or
after the start of S's UTC day plus the lifetime. The lifetime may not exceed the
shortest retention period in force (checked by the callers that know the policy).

Destroying a key file overwrites it with zeros and syncs before unlinking it. Whether the
old blocks are gone from the disk is the file system's business (copy-on-write or
journalling file systems and SSDs may keep them): keep the directory on storage whose
deletion you trust, and out of every backup.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
_NAME = re.compile(r"^window-(\d{4}-\d{2}-\d{2})\.key$")


class WindowKeyError(Exception):
    """A window key is missing (destroyed by a prune, or never here), unreadable or wrong."""


def window_of(at: datetime) -> str:
    """The window (UTC day) a backup taken at ``at`` belongs to."""
    return at.astimezone(UTC).date().isoformat()


def window_start(window: str) -> datetime:
    return datetime.fromisoformat(f"{window}T00:00:00+00:00")


def _aad(window: str, key_id: str) -> bytes:
    return f"tandem-backup|{window}|{key_id}".encode()


def seal(key: AESGCM, window: str, key_id: str, wrapped: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + key.encrypt(nonce, wrapped, _aad(window, key_id))


def unseal(key: AESGCM, window: str, key_id: str, sealed: bytes) -> bytes:
    try:
        return key.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(window, key_id))
    except (InvalidTag, ValueError):
        raise WindowKeyError(f"the sealed key {key_id} does not open with window {window}'s key") from None


@dataclass(frozen=True)
class KeyDir:
    """The directory of window keys, one file per window: ``window-YYYY-MM-DD.key``."""

    path: Path
    lifetime_days: int

    def _file(self, window: str) -> Path:
        return self.path / f"window-{window}.key"

    def windows(self) -> list[str]:
        if not self.path.is_dir():
            return []
        return sorted(m.group(1) for p in self.path.iterdir() if (m := _NAME.match(p.name)))

    def expired(self, window: str, now: datetime) -> bool:
        return window_start(window) + timedelta(days=self.lifetime_days) <= now

    def key_for_backup(self, now: datetime) -> tuple[str, AESGCM]:
        """The key of ``now``'s window, created on first use (two backups the same day share it)."""
        window = window_of(now)
        path = self._file(window)
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(base64.b64encode(os.urandom(KEY_BYTES)).decode() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        return window, self.key(window)

    def key(self, window: str) -> AESGCM:
        path = self._file(window)
        try:
            raw = base64.b64decode(path.read_text().strip(), validate=True)
        except FileNotFoundError:
            raise WindowKeyError(f"the key of backup window {window} is not in {self.path}: it was destroyed by "
                                 "`tandem backup prune` (or the directory is not the one the backup was made with)"
                                 ) from None
        except (binascii.Error, ValueError, OSError) as err:
            raise WindowKeyError(f"{path}: unreadable window key ({err})") from None
        if len(raw) != KEY_BYTES:
            raise WindowKeyError(f"{path}: a window key is {KEY_BYTES} bytes, this one is {len(raw)}")
        return AESGCM(raw)

    def prune(self, now: datetime) -> list[str]:
        """Destroy every window key older than the lifetime; returns the windows destroyed."""
        gone = []
        for window in self.windows():
            if self.expired(window, now):
                _destroy(self._file(window))
                gone.append(window)
        return gone


def _destroy(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.write(b"\0" * size)
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
