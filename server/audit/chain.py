"""The audit chain (pure).

Design note. The audit log is how a probation service shows who saw and changed a
client's data. Each record's ``hash`` is SHA-256 over the previous record's hash and
the record's own canonical fields, so altering, removing or reordering any stored
record breaks every hash after it. ``verify`` walks the chain and names the first
record that does not match. The chain proves integrity of what is stored; it cannot
stop an attacker with write access from rewriting the whole chain, which is why the
head hash is also exported (``tandem audit verify`` prints it) for off-site anchoring.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

GENESIS = "0" * 64


# Built once: json.dumps with any non-default option builds an encoder per call, which was a
# visible part of every send (two per audit record). Same options, same output.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def canonical_details(details: Mapping[str, object]) -> str:
    return _CANONICAL.encode(details)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: datetime
    actor_id: str | None
    action: str
    target_type: str
    target_id: str | None
    case_id: str | None
    details: str  # canonical JSON
    prev_hash: str
    hash: str


def record_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime,
    actor_id: str | None,
    action: str,
    target_type: str,
    target_id: str | None,
    case_id: str | None,
    details: str,
) -> str:
    body = _COMPACT.encode(
        [seq, at.isoformat(timespec="microseconds"), actor_id, action, target_type, target_id, case_id, details]
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


class ChainVerifier:
    """Feeds records one at a time, so a long log is checked without holding it."""

    def __init__(self, *, start_hash: str = GENESIS, start_seq: int = 0) -> None:
        self.prev_hash = start_hash
        self.count = start_seq

    def feed(self, rec: AuditRecord) -> ChainBreak | None:
        expected_seq = self.count + 1
        if rec.seq != expected_seq:
            return ChainBreak(expected_seq, f"record {expected_seq} is missing (next found is {rec.seq})")
        if rec.prev_hash != self.prev_hash:
            return ChainBreak(rec.seq, "prev_hash does not match the previous record")
        actual = record_hash(
            rec.prev_hash,
            seq=rec.seq,
            at=rec.at,
            actor_id=rec.actor_id,
            action=rec.action,
            target_type=rec.target_type,
            target_id=rec.target_id,
            case_id=rec.case_id,
            details=rec.details,
        )
        if actual != rec.hash:
            return ChainBreak(rec.seq, "contents do not match the stored hash (record altered)")
        self.prev_hash = rec.hash
        self.count = rec.seq
        return None

    def finish(self, head_seq: int) -> ChainBreak | None:
        """Compare with the stored head: catches records cut from the end."""
        if head_seq != self.count:
            return ChainBreak(
                self.count + 1, f"head says {head_seq} records, found {self.count} (records removed from the end)"
            )
        return None


def verify(records: Iterable[AuditRecord], *, start_hash: str = GENESIS, start_seq: int = 0) -> ChainBreak | None:
    """The first record that breaks the chain, or None when it is intact."""
    verifier = ChainVerifier(start_hash=start_hash, start_seq=start_seq)
    for rec in records:
        brk = verifier.feed(rec)
        if brk is not None:
            return brk
    return None
