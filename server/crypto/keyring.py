"""Bucket data keys: created on first use, cached unwrapped in memory, destroyed on shred.

A bucket is (case, category, month). ``encrypt`` finds or creates the bucket's key
inside the caller's transaction; ``decrypt`` raises ``KeyShredded`` when the key has
been destroyed, which callers treat as "this data no longer exists".

A shred anywhere (this node, another node, the CLI) is announced on the bus and every
node drops the key at once (``forget_many``). The bus stores nothing and Redis may be
down or a notice lost, so a cached key is also used only for a bounded time: ``ttl_s``
(60 s) while the bus is healthy, ``ttl_bus_down_s`` (5 s) while it is not; then the store
is asked again, and a destroyed key is gone. When the bus comes back, everything cached
is dropped (notices may have been missed meanwhile).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, bindparam, select, update
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
    def __init__(self, kek: bytes, *, cache_size: int = 4096, ttl_s: float = 60.0, ttl_bus_down_s: float = 5.0,
                 bus_healthy: Callable[[], bool] = lambda: True,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if min(ttl_s, ttl_bus_down_s) <= 0:
            raise ValueError("key cache lifetimes must be positive")
        self._wrap = envelope.derive(kek, "wrap")
        self._cache: OrderedDict[str, AESGCM] = OrderedDict()
        self._ids: dict[tuple[str, str, str], str] = {}
        self._born: dict[str, float] = {}  # key id -> when it was read from the store (monotonic)
        self._cache_size = cache_size
        self._inserted: set[str] = set()  # keys this process created (see forget_inserted)
        self.ttl_s = ttl_s
        self.ttl_bus_down_s = ttl_bus_down_s
        self._bus_healthy = bus_healthy
        self._monotonic = monotonic

    def _remember(self, key_id: str, bucket: tuple[str, str, str], key: AESGCM) -> None:
        self._cache[key_id] = key
        self._ids[bucket] = key_id
        self._born[key_id] = self._monotonic()
        while len(self._cache) > self._cache_size:
            old_id, _ = self._cache.popitem(last=False)
            self._born.pop(old_id, None)
            self._ids = {b: k for b, k in self._ids.items() if k != old_id}

    def _fresh(self, key_id: str) -> bool:
        """Whether a cached key may still be used without asking the store (a plain read)."""
        born = self._born.get(key_id)
        if born is None or key_id not in self._cache:
            return False
        ttl = self.ttl_s if self._bus_healthy() else self.ttl_bus_down_s
        return self._monotonic() - born < ttl

    def _cached_fresh(self, key_id: str) -> AESGCM | None:
        if self._fresh(key_id):
            return self._cache[key_id]
        if key_id in self._cache:
            self.forget(key_id)
        return None

    def forget_all(self) -> None:
        """Drop every cached key (the bus is back: shred notices may have been missed)."""
        self._cache.clear()
        self._ids.clear()
        self._born.clear()

    def forget(self, key_id: str) -> None:
        """Drop a key from memory (after a shred here or on another node)."""
        self.forget_many((key_id,))

    def forget_many(self, key_ids: Iterable[str]) -> None:
        """Drop keys from memory in one pass over the cache (a sweep destroys hundreds at a time)."""
        gone = set(key_ids)
        for key_id in gone:
            self._cache.pop(key_id, None)
            self._born.pop(key_id, None)
        self._ids = {b: k for b, k in self._ids.items() if k not in gone}

    def forget_inserted(self) -> None:
        """After a transaction that may have created keys rolled back: drop every key this
        process created from memory, so none points at a row that was never committed.
        Forgetting is always safe (the next use reads the key again)."""
        gone, self._inserted = self._inserted, set()
        self.forget_many(gone)

    async def _bucket_key(
        self, conn: AsyncConnection, case_id: str, category: str, bucket: str, at: datetime
    ) -> tuple[str, AESGCM]:
        ident = (case_id, category, bucket)
        key_id = self._ids.get(ident)
        if key_id is not None and (cached := self._cached_fresh(key_id)) is not None:
            self._cache.move_to_end(key_id)
            return key_id, cached
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
            self._inserted.add(new)
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

    # -- for transactions made of synchronous steps (group commit of sends) ----------------
    #
    # A batch reads the rows of the buckets it needs (``select_bucket_rows``) in one step,
    # takes keys from memory or from those committed rows (``adopt``), makes the missing ones
    # (``new_key``) and inserts them in its write step (``insert_keys``). A key made here is
    # not remembered: it is read back, committed, by a later batch.

    def knows(self, case_id: str, category: str, at: datetime) -> bool:
        """Whether the bucket's key is in memory and fresh. A plain read (no reordering), so a
        batch's step may ask it from the SQLite writer thread to skip reading keys it has. A
        batch then takes the key with ``cached``."""
        key_id = self._ids.get((case_id, category, bucket_of(at)))
        return key_id is not None and self._fresh(key_id)

    def cached(self, case_id: str, category: str, at: datetime) -> tuple[str, AESGCM] | None:
        key_id = self._ids.get((case_id, category, bucket_of(at)))
        if key_id is None or not self._fresh(key_id):
            return None  # (stale since ``knows``: the batch takes the committed row or fails and falls back)
        self._cache.move_to_end(key_id)
        return key_id, self._cache[key_id]

    def adopt(self, row: Any) -> tuple[str, AESGCM]:
        """The key of a committed ``data_keys`` row (from ``select_bucket_rows``), remembered."""
        if row.wrapped_key is None:
            raise KeyShredded(f"bucket {row.case_id}/{row.category}/{row.bucket} was shredded")
        key = self._unwrap(row.id, row.case_id, row.category, row.bucket, row.wrapped_key)
        self._remember(row.id, (row.case_id, row.category, row.bucket), key)
        return row.id, key

    def new_key(self, case_id: str, category: str, at: datetime) -> tuple[str, AESGCM, dict[str, Any]]:
        """A fresh bucket key and the ``data_keys`` row to insert for it."""
        if category not in CATEGORIES:
            raise ValueError(f"unknown data category {category!r}")
        raw, key_id, bucket = envelope.new_data_key(), new_id(), bucket_of(at)
        wrapped = envelope.encrypt(self._wrap, raw, envelope.wrap_aad(key_id, case_id, category, bucket))
        row = {"id": key_id, "case_id": case_id, "category": category, "bucket": bucket, "wrapped_key": wrapped,
               "created_at": at}
        return key_id, AESGCM(raw), row

    @staticmethod
    def seal(key_id: str, key: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt under a key from ``cached``, ``adopt`` or ``new_key`` (same layout as ``encrypt``)."""
        return envelope.encrypt(key, plaintext, key_id.encode() + b"|" + aad)

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
            raise Conflict("This data was just erased; try again in a minute", reason="store.just_erased") from None
        return key_id, self.seal(key_id, key, plaintext, aad)

    async def decrypt(self, conn: AsyncConnection, *, key_id: str, blob: bytes, aad: bytes) -> bytes:
        key = self._cached_fresh(key_id)
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


_BUCKET_ROWS = select(
    data_keys.c.id, data_keys.c.case_id, data_keys.c.category, data_keys.c.bucket, data_keys.c.wrapped_key
).where(
    data_keys.c.case_id.in_(bindparam("cases", expanding=True)),
    data_keys.c.category.in_(bindparam("categories", expanding=True)),
    data_keys.c.bucket.in_(bindparam("buckets", expanding=True)),
)


def select_bucket_rows(conn: Connection, buckets: Collection[tuple[str, str, str]]) -> list[Any]:
    """The ``data_keys`` rows of these (case, category, bucket)s (synchronous step)."""
    if not buckets:
        return []
    rows = conn.execute(_BUCKET_ROWS, {"cases": list({b[0] for b in buckets}),
                                       "categories": list({b[1] for b in buckets}),
                                       "buckets": list({b[2] for b in buckets})})
    return [r for r in rows if (r.case_id, r.category, r.bucket) in buckets]


def insert_keys(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert new bucket keys (synchronous step). A bucket another node keyed first keeps its
    key: the row is skipped, the batch's messages then miss their key and the batch fails and
    is retried send by send."""
    if rows:
        ins = (sqlite_insert if conn.dialect.name == "sqlite" else pg_insert)(data_keys)
        conn.execute(ins.on_conflict_do_nothing(), rows)
