"""Verifying the chain over a whole database (used by ``tandem audit verify``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from server.audit import store
from server.audit.chain import GENESIS, ChainBreak, ChainVerifier

#: The audit action that records the removal of the log's oldest records.
EXPIRE_ACTION = "audit.expire"


@dataclass(frozen=True)
class VerifyReport:
    records: int
    head_hash: str
    broken: ChainBreak | None


async def verify_database(engine: AsyncEngine) -> VerifyReport:
    # Records older than the audit log's retention period are removed from the front;
    # the anchor keeps the last removed record's seq and hash, so the chain is
    # verified from there (the removal itself is an audited record further on).
    async with engine.connect() as conn:
        start_seq, start_hash = await store.anchor(conn)
    verifier = ChainVerifier(start_hash=start_hash, start_seq=start_seq)
    named: tuple[int, str] = (0, GENESIS)  # the anchor as the newest audit.expire record names it
    async for rec in store.iter_records(engine):
        brk = verifier.feed(rec)
        if brk is not None:
            return VerifyReport(verifier.count, verifier.prev_hash, brk)
        if rec.action == EXPIRE_ACTION:
            details = json.loads(rec.details)
            named = (int(details["through_seq"]), str(details["hash"]))
    async with engine.connect() as conn:
        head_seq, _ = await store.head(conn)
    if (start_seq, start_hash) != named:
        # Records cut from the front and the anchor moved by hand: no audited expiry says so.
        return VerifyReport(verifier.count, verifier.prev_hash,
                            ChainBreak(start_seq + 1, f"the chain starts after record {start_seq}, "
                                       "but no audit.expire record names that anchor"))
    return VerifyReport(verifier.count, verifier.prev_hash, verifier.finish(head_seq))
