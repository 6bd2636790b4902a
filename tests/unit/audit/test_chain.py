from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from server.audit.chain import GENESIS, AuditRecord, ChainVerifier, canonical_details, record_hash, verify


def chain(n: int) -> list[AuditRecord]:
    out: list[AuditRecord] = []
    prev = GENESIS
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for seq in range(1, n + 1):
        details = canonical_details({"n": seq, "ä": "ü"})
        fields = {"seq": seq, "at": at + timedelta(seconds=seq), "actor_id": "u", "action": "case.read",
                  "target_type": "case", "target_id": "c", "case_id": "c", "details": details}
        digest = record_hash(prev, **fields)  # type: ignore[arg-type]
        out.append(AuditRecord(prev_hash=prev, hash=digest, **fields))  # type: ignore[arg-type]
        prev = digest
    return out


def test_intact_chain_verifies() -> None:
    assert verify(chain(10)) is None
    assert verify([]) is None


def test_altered_record_is_named() -> None:
    records = chain(10)
    records[4] = replace(records[4], details='{"n":99}')
    brk = verify(records)
    assert brk is not None and brk.seq == 5 and "altered" in brk.reason


def test_removed_record_is_named() -> None:
    records = chain(10)
    del records[3]
    brk = verify(records)
    assert brk is not None and brk.seq == 4 and "missing" in brk.reason


def test_relinked_record_is_named() -> None:
    records = chain(5)
    records[2] = replace(records[2], prev_hash="f" * 64)
    brk = verify(records)
    assert brk is not None and brk.seq == 3 and "prev_hash" in brk.reason


def test_every_field_is_covered_by_the_hash() -> None:
    base = chain(1)[0]
    for change in ({"actor_id": "x"}, {"action": "x"}, {"target_type": "x"}, {"target_id": "x"},
                   {"case_id": "x"}, {"at": base.at + timedelta(microseconds=1)}):
        assert verify([replace(base, **change)]) is not None, change  # type: ignore[arg-type]


def test_finish_detects_truncated_tail() -> None:
    v = ChainVerifier()
    for rec in chain(3):
        assert v.feed(rec) is None
    assert v.finish(3) is None
    brk = v.finish(4)
    assert brk is not None and brk.seq == 4


def test_canonical_details_is_order_independent() -> None:
    assert canonical_details({"b": 1, "a": 2}) == canonical_details({"a": 2, "b": 1}) == '{"a":2,"b":1}'
