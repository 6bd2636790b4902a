"""Verifying the chain over a whole database (used by ``tandem audit verify``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from server.audit import store
from server.audit.chain import ChainBreak, ChainVerifier


@dataclass(frozen=True)
class VerifyReport:
    records: int
    head_hash: str
    broken: ChainBreak | None


async def verify_database(engine: AsyncEngine) -> VerifyReport:
    verifier = ChainVerifier()
    async for rec in store.iter_records(engine):
        brk = verifier.feed(rec)
        if brk is not None:
            return VerifyReport(verifier.count, verifier.prev_hash, brk)
    async with engine.connect() as conn:
        head_seq, _ = await store.head(conn)
    return VerifyReport(verifier.count, verifier.prev_hash, verifier.finish(head_seq))
