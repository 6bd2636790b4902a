"""Retention on SQLite and PostgreSQL: a fake clock moved across the boundaries, the
sweeper, legal hold, a run interrupted between chunks, the audit log's own expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.audit.service import verify_database
from server.clock import FakeClock
from server.store.schema import audit_log, data_keys, messages
from tests.helpers import world
from tests.helpers.retention import counts, seed

#: messages and attachments keep 730 days after the end of their month: January 2026's
#: bucket expires on 2028-02-01, March's on 2028-04-01; case notes (1825 days) much later.
AFTER_JANUARY_EXPIRED = datetime(2028, 2, 15, tzinfo=UTC)


async def history(client: Any, conv: str) -> list[str]:
    """The conversation's messages as the officer sees them through the HTTP API."""
    resp = await client.get(f"/api/conversations/{conv}/messages", headers=await world.login(client, "officer"))
    assert resp.status == 200, await resp.text()
    return [m["body"] for m in (await resp.json())["messages"]]


async def receipts(services: Any) -> list[str]:
    async with services.store.read("t") as conn:
        return list((await conn.execute(select(audit_log.c.details).where(
            audit_log.c.action == "retention.receipt").order_by(audit_log.c.seq))).scalars())


async def test_expired_buckets_are_shredded_and_deleted(api: Any, clock: FakeClock) -> None:
    client, services = api
    w = await world.build(services)
    seeded = await seed(services, w, clock)
    own = w.cases["own"]
    before = await counts(services, own)
    assert before["messages"] == 4 and before["attachments"] == 1 and before["case_notes"] == 1
    sweeper = services.retention.sweeper

    # One day before January's bucket expires: nothing to do.
    clock.advance(datetime(2028, 1, 31, tzinfo=UTC) - clock.now())
    assert (await sweeper.dry_run()).total_items == 0
    await sweeper.run()
    assert await counts(services, own) == before

    clock.advance(AFTER_JANUARY_EXPIRED - clock.now())
    dry = await sweeper.dry_run()
    assert dry.items == {"messages": 3, "attachments": 1, "case_notes": 0, "audit_log": 0, "checkin_records": 0,
                         "call_quality": 0, "safe_space_answers": 0, "group_attendance": 0,
                         "network_records": 0, "feedback_comments": 0}
    assert dry.total_buckets == 2 and dry.cases == {own}
    assert await counts(services, own) == before  # a dry run changes nothing
    receipt = await sweeper.run()
    assert receipt["counts"] == {"messages": 3, "attachments": 1} and receipt["buckets"] == 2

    after = await counts(services, own)
    assert after["messages"] == 1 and after["attachments"] == 0 and after["case_notes"] == 1
    # 0 keys left for the expired buckets; March's messages key and the notes key remain.
    assert after["keys"] == [("case_notes", "2026-01", True), ("messages", "2026-03", True)]
    assert await history(client, seeded.conversation) == ["March 0"]  # 0 expired rows through the API
    assert (await counts(services, w.cases["same_office"]))["case_notes"] == 1
    assert len(await receipts(services)) == 2
    # Idempotent: a second sweep removes nothing more.
    again = await sweeper.run()
    assert again["counts"] == {} and again["buckets"] == 0
    assert (await verify_database(services.store.engine)).broken is None


async def test_legal_hold_suspends_shredding(api: Any, clock: FakeClock) -> None:
    _, services = api
    w = await world.build(services)
    await seed(services, w, clock)
    own = w.cases["own"]
    await services.retention.set_hold(w.actor("senior"), own, "Appeal pending")
    before = await counts(services, own)
    clock.advance(AFTER_JANUARY_EXPIRED - clock.now())
    assert (await services.retention.sweeper.dry_run()).total_items == 0
    receipt = await services.retention.sweeper.run()
    assert receipt["counts"] == {} and await counts(services, own) == before  # 0 rows removed
    await services.retention.lift_hold(w.actor("admin"), own, "Appeal decided")
    receipt = await services.retention.sweeper.run()
    assert receipt["counts"] == {"messages": 3, "attachments": 1}
    async with services.store.read("t") as conn:
        actions = list((await conn.execute(select(audit_log.c.action).where(
            audit_log.c.action.like("retention.hold.%")).order_by(audit_log.c.seq))).scalars())
    assert actions == ["retention.hold.set", "retention.hold.lift"]


class Crash(Exception):
    pass


async def test_a_run_interrupted_between_chunks_is_finished_by_the_next(api: Any, clock: FakeClock) -> None:
    client, services = api
    w = await world.build(services)
    seeded = await seed(services, w, clock, messages_now=5)
    own = w.cases["own"]
    clock.advance(AFTER_JANUARY_EXPIRED - clock.now())
    sweeper = services.retention.sweeper
    sweeper.chunk_rows = 2
    chunks: list[str] = []

    async def crash_after_two_purges(step: str, rows: int) -> None:
        chunks.append(step)
        if chunks.count("purge") == 2:
            raise Crash

    sweeper.progress = crash_after_two_purges
    with pytest.raises(Crash):
        await sweeper.run()
    # Killed mid-purge: every expired key is already destroyed, some rows remain but none is readable.
    mid = await counts(services, own)
    assert 0 < mid["messages"] - 1 < 5
    assert ("messages", "2026-01", False) in mid["keys"]
    assert ("attachments", "2026-01", False) in mid["keys"] or ("attachments", "2026-01", True) not in mid["keys"]
    assert await history(client, seeded.conversation) == ["March 0"]
    assert await receipts(services) == []

    sweeper.progress = None
    receipt = await sweeper.run()
    after = await counts(services, own)
    assert after["messages"] == 1 and after["attachments"] == 0
    assert after["keys"] == [("case_notes", "2026-01", True), ("messages", "2026-03", True)]
    assert len(receipt["finished_interrupted_runs"]) == 1
    assert receipt["counts"]["messages"] == mid["messages"] - 1  # counts what this run removed
    async with services.store.read("t") as conn:
        left = (await conn.execute(select(func.count()).select_from(messages).join(
            data_keys, data_keys.c.id == messages.c.key_id).where(data_keys.c.bucket == "2026-01"))).scalar_one()
    assert left == 0


async def test_audit_log_prefix_expires_and_still_verifies(api: Any, clock: FakeClock) -> None:
    _, services = api
    w = await world.build(services)
    await seed(services, w, clock)
    head_before = (await verify_database(services.store.engine)).records
    # The audit log keeps 2190 days: move past it for everything seeded so far.
    clock.advance(timedelta(days=2200))
    await services.cases.add_note(w.actor("officer"), w.cases["own"], "a young record")
    receipt = await services.retention.sweeper.run()
    assert receipt["audit_records_removed"] >= head_before
    report = await verify_database(services.store.engine)
    assert report.broken is None, report.broken
    async with services.store.read("t") as conn:
        oldest = (await conn.execute(select(func.min(audit_log.c.at)))).scalar_one()
    assert oldest >= clock.now() - timedelta(days=2190)


def test_every_table_with_a_bucket_key_is_registered() -> None:
    # A table encrypted under bucket keys but missing from the registry would never be
    # deleted by the sweeper: its rows would stay (unreadable) with their key row forever.
    from server.retention.registry import HOLDERS
    from server.store.schema import metadata

    keyed = {t.name for t in metadata.sorted_tables
             if any(fk.column.table.name == "data_keys" for c in t.c for fk in c.foreign_keys)}
    assert keyed == {h.table.name for h in HOLDERS}
    for h in HOLDERS:  # each names the column that refers to its bucket key
        assert any(fk.column.table.name == "data_keys" for fk in h.col(h.key_col).foreign_keys), h.table.name
