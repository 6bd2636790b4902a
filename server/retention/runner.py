"""The sweeper: carries out the retention policy (GDPR art. 5(1)(e), 17).

Design note. A run has four steps, each made of short transactions of its own so
live traffic (a message send waits for SQLite's one writer) never waits for more
than one chunk:

1. *Shred*: for every category, destroy the keys of expired buckets of cases not
   under legal hold, a batch of keys per transaction with an audit row inside. From
   this commit on, the bucket's rows cannot be decrypted (every node is told to drop its
   cached copy); copies in ``tandem backup`` files follow when their window key is pruned
   (``server/backup/windows.py``).
2. *Purge*: for every destroyed key, delete its rows from each registered table
   (``registry.py``) in chunks, then the key row itself. The destroyed keys are the
   durable to-do list: a run killed at any point leaves keys destroyed (so nothing is
   half-readable) and the next run finishes their rows. Each chunk adds its count to
   the run's row in the same transaction, so a receipt never over- or under-counts.
   Then the key table is scrubbed: no destroyed key's bytes stay in the database
   files (SQLite's WAL emptied; PostgreSQL's key table vacuumed).
3. *Audit log*: records older than its period go from the front of the chain; the
   anchor (last removed seq and hash) is moved in the same transaction and an
   ``audit.expire`` record names it, so ``tandem audit verify`` still proves the rest.
4. *Receipt*: one ``retention.receipt`` audit record with counts per category, the
   buckets destroyed, the policy version, and any earlier run this one finished.

A dry run counts what step 1-3 would remove and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.audit.service import EXPIRE_ACTION
from server.bus.base import Bus
from server.clock import Clock
from server.crypto.keyring import CATEGORIES as KEY_CATEGORIES
from server.crypto.keyring import Keyring
from server.errors import Conflict, Unavailable
from server.ids import new_id
from server.policy.schema import RetentionConfig
from server.policy.service import PolicyService
from server.retention import plan, store
from server.retention.registry import Holder, holders_of
from server.store.tx import Store

log = logging.getLogger(__name__)
#: Other nodes drop shredded keys from their in-memory caches when told on this channel.
SHRED_CHANNEL = "retention.shredded"

Progress = Callable[[str, int], Awaitable[None]]
#: Full purge chunks between two passive WAL checkpoints on SQLite.
CHECKPOINT_EVERY = 20
#: The smallest chunk the sweeper shrinks to when chunks run over their time budget.
MIN_CHUNK_ROWS = 10


class Sweeper:
    def __init__(self, store_: Store, clock: Clock, keyring: Keyring, policy: PolicyService, bus: Bus, *,
                 chunk_rows: int = 500, chunk_keys: int = 200, audit_chunk: int = 2000,
                 pause_ratio: float = 1.0, chunk_budget_s: float = 0.02) -> None:
        if min(chunk_rows, chunk_keys, audit_chunk) < 1:
            raise ValueError("chunk sizes must be positive")
        self.store = store_
        self.clock = clock
        self.keyring = keyring
        self.policy = policy
        self.bus = bus
        self.chunk_rows = chunk_rows
        self.chunk_keys = chunk_keys
        self.audit_chunk = audit_chunk
        self.pause_ratio = pause_ratio
        self.chunk_budget_s = chunk_budget_s
        self._rows = chunk_rows  # the chunk size in use: at most chunk_rows, less when chunks run long
        self._chunks_done = 0
        self._keys_touched = False  # this run destroyed or dropped a key: scrub the files after
        self.longest_hold_s = 0.0
        self.longest_by_name: dict[str, float] = {}
        #: Called after each committed chunk with (step, rows); may raise to stop the run
        #: (tests use it to interrupt a run between chunks, as a crash would).
        self.progress: Progress | None = None

    @asynccontextmanager
    async def _write(self, name: str) -> AsyncIterator[AsyncConnection]:
        """A write transaction of the sweeper's, timed: ``longest_hold_s`` is the longest any
        live write can have waited for the sweeper (SQLite has one writer at a time)."""
        started = time.perf_counter()
        try:
            async with self.store.write(name) as conn:
                yield conn
        finally:
            took = time.perf_counter() - started
            self.longest_hold_s = max(self.longest_hold_s, took)
            self.longest_by_name[name] = max(self.longest_by_name.get(name, 0.0), took)

    def _config(self) -> tuple[RetentionConfig, int]:
        return self.policy.engine.policies.retention, self.policy.meta.version

    # -- dry run --------------------------------------------------------------------

    async def dry_run(self, config: RetentionConfig | None = None, *, on: datetime | None = None,
                      version: int | None = None) -> plan.Report:
        """What a sweep on ``on`` (default now) under ``config`` (default the live one) would remove."""
        live, live_version = self._config()
        config = config or live
        now = on or self.clock.now()
        report = plan.Report(now, version if version is not None else live_version)
        async with self.store.read("retention.dry_run") as conn:
            for category in KEY_CATEGORIES:
                before = plan.expired_before(config, category, now)
                for owner, n, is_case in await store.expired_buckets_by_case(conn, category, before):
                    report.add(category, buckets=int(n))
                    if is_case:  # not a cohort (staff feedback comments are sealed under their cohort)
                        report.cases.add(str(owner))
                for holder in holders_of(category):
                    report.add(category, items=await store.count_expired(conn, holder, before))
            through = await audit.expirable_through(conn, plan.audit_cutoff(config, now), store.held_cases())
            first, _ = await audit.anchor(conn)
            report.add("audit_log", items=max(0, through - first))
        return report

    # -- the run ------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        config, version = self._config()
        now = self.clock.now()
        run_id = new_id()
        self._rows = self.chunk_rows
        async with self._write("retention.run.start") as conn:
            await store.insert_run(conn, id=run_id, started_at=now, finished_at=None, policy_version=version,
                                   counts={}, buckets=0)
        self._keys_touched = False
        await self._shred(config, run_id)
        await self._purge(config, run_id)
        if self._keys_touched:
            await self._scrub()
        audit_removed = await self._expire_audit(config, run_id)
        return await self._receipt(run_id, version, audit_removed)

    async def _step(self, name: str, rows: int) -> None:
        if self.progress is not None:
            await self.progress(name, rows)

    async def _shred(self, config: RetentionConfig, run_id: str) -> None:
        for category in KEY_CATEGORIES:
            before = plan.expired_before(config, category, self.clock.now())
            while True:
                async with self._write("retention.shred") as conn:
                    keys = await store.expired_keys(conn, category, before, limit=self.chunk_keys)
                    if not keys:
                        break
                    ids = [str(k.id) for k in keys]
                    destroyed = await store.destroy_keys(conn, ids, self.clock.now())
                    self._keys_touched = True
                    await self._add_buckets(conn, run_id, destroyed)
                    await audit.append(conn, at=self.clock.now(), actor_id=None, action="retention.shred",
                                       target_type="data_keys", target_id=run_id,
                                       details={"category": category, "keys": destroyed,
                                                "before_bucket": before, "run_id": run_id})
                await self.forget(ids)
                await self._step("shred", destroyed)

    async def forget(self, key_ids: list[str]) -> None:
        """Drop destroyed keys from this node's cache and tell the other nodes to (after commit)."""
        self.keyring.forget_many(key_ids)
        if not key_ids:
            return
        try:
            await self.bus.publish(SHRED_CHANNEL, ",".join(key_ids).encode())
        except Unavailable:
            # The shred is committed whatever the bus does: other nodes stop using these keys when
            # their cached copies age out (the key cache's short lifetime while their bus is down).
            log.warning("shred notice not published: the bus is down", extra={"keys": len(key_ids)})

    async def _add_buckets(self, conn: AsyncConnection, run_id: str, n: int) -> None:
        row = await store.run_row(conn, run_id)
        await store.set_run(conn, run_id, buckets=int(row.buckets) + n)

    async def _add_count(self, conn: AsyncConnection, run_id: str, category: str, n: int) -> None:
        row = await store.run_row(conn, run_id)
        counts = dict(row.counts)
        counts[category] = int(counts.get(category, 0)) + n
        await store.set_run(conn, run_id, counts=counts)

    async def _purge(self, config: RetentionConfig, run_id: str) -> None:
        shredding = [c for c in KEY_CATEGORIES if config.categories.of(c).action == "shred"]
        anonymising = [c for c in KEY_CATEGORIES if c not in shredding]
        stuck: list[str] = []
        while keys := await self._destroyed(anonymising, stuck):
            for key in keys:
                for holder in holders_of(key.category):
                    if holder.anonymise_nulls:
                        await self._chunks(run_id, key.category, partial(
                            store.anonymise_chunk, holder=holder, key_ids=[key.id]))
                stuck.append(key.id)  # anonymised rows stay, and so does their (destroyed) key
        while keys := await self._destroyed(shredding, stuck):
            by_category: dict[str, list[str]] = {}
            for key in keys:
                by_category.setdefault(key.category, []).append(str(key.id))
            for category, ids in by_category.items():
                for holder in holders_of(category):
                    await self._chunks(run_id, category, partial(_shred_chunk(holder), holder=holder, key_ids=ids))
            await self._drop_keys([str(k.id) for k in keys], stuck)

    async def purge_keys(self, key_ids: list[str]) -> None:
        """Delete now the rows and key rows of keys just destroyed outside a sweep (a granted
        erasure), so their buckets take new keys at once. A crash here is finished by a sweep."""
        async with self.store.read("retention.purge_keys") as conn:
            rows = await store.keys_by_id(conn, key_ids)
        for category in {str(r.category) for r in rows}:
            ids = [str(r.id) for r in rows if r.category == category]
            for holder in holders_of(category):
                await self._chunks(None, category, partial(_shred_chunk(holder), holder=holder, key_ids=ids))
        await self._drop_keys([str(r.id) for r in rows], [])
        await self._scrub()

    async def _scrub(self) -> None:
        """No destroyed key's bytes left in the database files (SQLite WAL, PostgreSQL dead rows)."""
        try:
            if not await store.scrub_keys(self.store):
                log.warning("could not empty the write-ahead log after a shred; the next sweep tries again")
        except Exception:
            log.exception("vacuuming the key table after a shred failed; the next sweep tries again")

    async def _drop_keys(self, ids: list[str], stuck: list[str]) -> None:
        """Delete the key rows whose data rows are all gone (one transaction; key by key when
        a table outside the registry still refers to one of them)."""
        self._keys_touched = True
        try:
            async with self._write("retention.drop_keys") as conn:
                await store.drop_keys(conn, ids)
            return
        except Conflict:
            pass
        for key_id in ids:
            try:
                async with self._write("retention.drop_key") as conn:
                    await store.drop_keys(conn, [key_id])
            except Conflict:
                # A table not (yet) in the registry still holds rows under this key: they are
                # unreadable (the key is destroyed); the key row stays as their record.
                log.warning("destroyed key still referenced by an unregistered table", extra={"key_id": key_id})
                stuck.append(key_id)

    async def _destroyed(self, categories: list[str], exclude: list[str]) -> list[Any]:
        if not categories:
            return []
        async with self.store.read("retention.destroyed") as conn:
            return await store.destroyed_keys(conn, categories, exclude, limit=self.chunk_keys)

    async def _chunks(self, run_id: str | None, category: str,
                      chunk: Callable[..., Awaitable[int]]) -> None:
        """Run ``chunk(conn, limit=rows)`` in transactions of its own until it comes back short.

        The number of rows adapts so a chunk takes about ``chunk_budget_s``: on a large table whose
        pages are not cached, 500 deletes can hold SQLite's one writer for far longer than on a
        small one, and a live send waits for at most one chunk."""
        while True:
            limit = self._rows
            started = time.perf_counter()
            async with self._write("retention.purge") as conn:
                n = await chunk(conn, limit=limit)
                if n and run_id is not None:
                    await self._add_count(conn, run_id, category, n)
            took = time.perf_counter() - started
            if took > self.chunk_budget_s:
                self._rows = max(min(MIN_CHUNK_ROWS, self.chunk_rows), limit // 2)
            elif took < self.chunk_budget_s / 2:
                self._rows = min(self.chunk_rows, limit * 2)
            if n:
                await self._step("purge", n)
            if n < limit:
                return  # a short chunk was the last: no need for an empty one to prove it
            await self._yield(took)

    async def _yield(self, took: float) -> None:
        """Leave the store to live traffic for a while after each full chunk: the sweeper takes at
        most 1 / (1 + pause_ratio) of the writer's time. On SQLite, also fold the write-ahead log
        back into the database now and then, so no live commit pays for a large checkpoint."""
        self._chunks_done += 1
        if self.store.sqlite and self._chunks_done % CHECKPOINT_EVERY == 0:
            await store.checkpoint(self.store)
        await asyncio.sleep(took * self.pause_ratio)

    async def _expire_audit(self, config: RetentionConfig, run_id: str) -> int:
        removed = 0
        cutoff = plan.audit_cutoff(config, self.clock.now())
        while True:
            async with self._write("retention.audit_expire") as conn:
                through = await audit.expirable_through(conn, cutoff, store.held_cases())
                first, _ = await audit.anchor(conn)
                if through <= first:
                    break
                through = min(through, first + self.audit_chunk)
                n = await audit.expire_through(conn, through, self.clock.now())
                seq, digest = await audit.anchor(conn)
                await audit.append(conn, at=self.clock.now(), actor_id=None, action=EXPIRE_ACTION,
                                   target_type="audit_log", target_id=str(seq),
                                   details={"through_seq": seq, "hash": digest, "removed": n, "run_id": run_id})
                await self._add_count(conn, run_id, "audit_log", n)
            removed += n
            await self._step("audit", n)
        return removed

    async def _receipt(self, run_id: str, version: int, audit_removed: int) -> dict[str, Any]:
        now = self.clock.now()
        async with self._write("retention.receipt") as conn:
            row = await store.run_row(conn, run_id)
            finished = [str(r.id) for r in await store.unfinished_runs(conn, run_id)]
            for other in finished:
                await store.set_run(conn, other, finished_at=now)
            await store.set_run(conn, run_id, finished_at=now)
            receipt = {"run_id": run_id, "policy_version": version, "counts": dict(row.counts),
                       "buckets": int(row.buckets), "finished_interrupted_runs": finished,
                       "audit_records_removed": audit_removed}
            await audit.append(conn, at=now, actor_id=None, action="retention.receipt", target_type="retention_run",
                               target_id=run_id, details=receipt)
        log.info("retention run finished", extra={"run_id": run_id, "buckets": receipt["buckets"]})
        return receipt



def _shred_chunk(holder: Holder) -> Callable[..., Awaitable[int]]:
    """Rows under a destroyed key are deleted; a note inside a row that outlives it is cleared."""
    return store.anonymise_chunk if holder.clear_only else store.delete_chunk
