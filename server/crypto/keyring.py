"""Bucket data keys: created on first use, cached unwrapped in memory, destroyed on shred.

A bucket is (case, category, month). ``encrypt`` finds or creates the bucket's key
inside the caller's transaction; ``decrypt`` raises ``KeyShredded`` when the key has
been destroyed, which callers treat as "this data no longer exists".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from server.crypto import envelope
from server.errors import Conflict
from server.ids import new_id
from server.policy.schema import CATEGORIES as RETENTION_CATEGORIES
from server.store.schema import data_keys

#: Categories whose data is encrypted under bucket keys: every retention category
#: except the audit log, which is hash-chained rather than encrypted.
CATEGORIES = tuple(c for c in RETENTION_CATEGORIES if c != "audit_log")


class KeyShredded(Exception):
    """The bucket's key was destroyed: its data is gone for good."""


def bucket_of(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


class Keyring:
    def __init__(self, kek: bytes, *, cache_size: int = 4096) -> None:
        self._wrap = envelope.derive(kek, "wrap")
        self._cache: OrderedDict[str, AESGCM] = OrderedDict()
        self._ids: dict[tuple[str, str, str], str] = {}
        self._cache_size = cache_size

    def _remember(self, key_id: str, bucket: tuple[str, str, str], key: AESGCM) -> None:
        self._cache[key_id] = key
        self._ids[bucket] = key_id
        while len(self._cache) > self._cache_size:
            old_id, _ = self._cache.popitem(last=False)
            self._ids = {b: k for b, k in self._ids.items() if k != old_id}

    def forget(self, key_id: str) -> None:
        """Drop a key from memory (after a shred here or on another node)."""
        self.forget_many((key_id,))

    def forget_many(self, key_ids: Iterable[str]) -> None:
        """Drop keys from memory in one pass over the cache (a sweep destroys hundreds at a time)."""
        gone = set(key_ids)
        for key_id in gone:
            self._cache.pop(key_id, None)
        self._ids = {b: k for b, k in self._ids.items() if k not in gone}

    async def _bucket_key(
        self, conn: AsyncConnection, case_id: str, category: str, bucket: str, at: datetime
    ) -> tuple[str, AESGCM]:
        ident = (case_id, category, bucket)
        key_id = self._ids.get(ident)
        if key_id is not None and key_id in self._cache:
            self._cache.move_to_end(key_id)
            return key_id, self._cache[key_id]
        row = await self._select(conn, case_id, category, bucket)
        if row is None:
            raw = envelope.new_data_key()
            new = new_id()
            wrapped = envelope.encrypt(self._wrap, raw, envelope.wrap_aad(new, case_id, category, bucket))
            values = {
                "id": new,
                "case_id": case_id,
                "category": category,
                "bucket": bucket,
                "wrapped_key": wrapped,
                "created_at": at,
            }
            ins = (sqlite_insert if conn.dialect.name == "sqlite" else pg_insert)(data_keys)
            await conn.execute(ins.values(**values).on_conflict_do_nothing())
            row = await self._select(conn, case_id, category, bucket)
            assert row is not None
        if row.wrapped_key is None:
            raise KeyShredded(f"bucket {case_id}/{category}/{bucket} was shredded")
        key = self._unwrap(row.id, case_id, category, bucket, row.wrapped_key)
        self._remember(row.id, ident, key)
        return row.id, key

    async def _select(self, conn: AsyncConnection, case_id: str, category: str, bucket: str):  # type: ignore[no-untyped-def]
        return (
            await conn.execute(
                select(data_keys.c.id, data_keys.c.wrapped_key).where(
                    data_keys.c.case_id == case_id, data_keys.c.category == category, data_keys.c.bucket == bucket
                )
            )
        ).first()

    def _unwrap(self, key_id: str, case_id: str, category: str, bucket: str, wrapped: bytes) -> AESGCM:
        raw = envelope.decrypt(self._wrap, wrapped, envelope.wrap_aad(key_id, case_id, category, bucket))
        return AESGCM(raw)

    async def encrypt(
        self, conn: AsyncConnection, *, case_id: str, category: str, at: datetime, plaintext: bytes, aad: bytes
    ) -> tuple[str, bytes]:
        if category not in CATEGORIES:
            raise ValueError(f"unknown data category {category!r}")
        try:
            key_id, key = await self._bucket_key(conn, case_id, category, bucket_of(at), at)
        except KeyShredded:
            # This month's bucket was erased a moment ago (a granted erasure request) and its rows
            # are still being deleted; once they are, the bucket gets a new key.
            raise Conflict("This data was just erased; try again in a minute") from None
        return key_id, envelope.encrypt(key, plaintext, key_id.encode() + b"|" + aad)

    async def decrypt(self, conn: AsyncConnection, *, key_id: str, blob: bytes, aad: bytes) -> bytes:
        key = self._cache.get(key_id)
        if key is None:
            row = (
                await conn.execute(
                    select(
                        data_keys.c.case_id, data_keys.c.category, data_keys.c.bucket, data_keys.c.wrapped_key
                    ).where(data_keys.c.id == key_id)
                )
            ).first()
            if row is None or row.wrapped_key is None:
                raise KeyShredded(f"key {key_id} was shredded")
            key = self._unwrap(key_id, row.case_id, row.category, row.bucket, row.wrapped_key)
            self._remember(key_id, (row.case_id, row.category, row.bucket), key)
        return envelope.decrypt(key, blob, key_id.encode() + b"|" + aad)

    async def shred(
        self, conn: AsyncConnection, *, case_id: str, category: str, bucket: str, at: datetime
    ) -> str | None:
        """Destroy one bucket's key. Returns its id, or None when the bucket had no key."""
        row = await self._select(conn, case_id, category, bucket)
        if row is None:
            return None
        await conn.execute(update(data_keys).where(data_keys.c.id == row.id).values(wrapped_key=None, destroyed_at=at))
        self.forget(row.id)
        return str(row.id)
