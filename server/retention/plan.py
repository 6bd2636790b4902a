"""Retention planning (pure): which buckets have expired, and the words for a report.

Design note. A bucket is one (case, category, calendar month) and has one data key.
It expires when its *newest possible* row has been kept for the category's full
period: at the end of its month plus the period (``policy/rules/retention.py``). So
on a date D every bucket whose month is before the month of ``D - period`` has
expired, and "find expired buckets" is one comparison on the ``YYYY-MM`` label,
which sorts like the months it names. Legal hold is applied by the caller: a held
case is never in a plan. Sources: GDPR art. 5(1)(e), 17; LED 2016/680 art. 5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from server.policy.rules import retention as rule
from server.policy.schema import ANONYMISABLE, CATEGORIES, RetentionConfig


def label(at: datetime) -> str:
    start = rule.bucket_start(at)
    return f"{start.year:04d}-{start.month:02d}"


def label_start(bucket: str) -> datetime:
    start = datetime.fromisoformat(f"{bucket}-01T00:00:00+00:00")
    return start


def expired_before(config: RetentionConfig, category: str, now: datetime) -> str:
    """Buckets of ``category`` with a label below this one have expired at ``now``."""
    return label(now - rule.period(config, category))


def bucket_expiry(config: RetentionConfig, category: str, bucket: str) -> datetime:
    return rule.expiry_for(config, category, label_start(bucket))


def audit_cutoff(config: RetentionConfig, now: datetime) -> datetime:
    """Audit records older than this may go (the log is kept ``audit_log`` days)."""
    return now - rule.period(config, "audit_log")


@dataclass
class Report:
    """What a sweep removes (or would remove) on one date."""

    on: datetime
    policy_version: int
    items: dict[str, int] = field(default_factory=dict)  # category -> rows
    buckets: dict[str, int] = field(default_factory=dict)  # category -> buckets (keys)
    cases: set[str] = field(default_factory=set)

    def add(self, category: str, *, items: int = 0, buckets: int = 0) -> None:
        self.items[category] = self.items.get(category, 0) + items
        self.buckets[category] = self.buckets.get(category, 0) + buckets

    @property
    def total_items(self) -> int:
        return sum(self.items.values())

    @property
    def total_buckets(self) -> int:
        return sum(self.buckets.values())

    def sentence(self) -> str:
        return (f"On {self.on.date().isoformat()} this would remove {self.total_items} items "
                f"in {self.total_buckets} buckets of {len(self.cases)} cases")

    def to_json(self) -> dict[str, object]:
        return {"on": self.on.isoformat(), "policy_version": self.policy_version, "items": dict(self.items),
                "buckets": dict(self.buckets), "cases": len(self.cases), "total_items": self.total_items,
                "total_buckets": self.total_buckets, "summary": self.sentence()}


#: A century: a longer period is a typing mistake, and dates beyond it do not compute.
MAX_DAYS = 36_500


class CategoryError(ValueError):
    """A proposed retention change names a category or value that cannot be; ``key`` says where."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def merged_categories(current: RetentionConfig, changes: Mapping[str, Mapping[str, object]]) -> dict[str, object]:
    """The full ``categories`` table after applying ``changes``; unknown categories and keys
    are refused here, with their dotted key, before the schema sees them."""
    out: dict[str, dict[str, object]] = {
        c: {"period_days": current.categories.of(c).period_days, "action": current.categories.of(c).action}
        for c in CATEGORIES}
    for category, values in changes.items():
        if category not in CATEGORIES:
            raise CategoryError(f"categories.{category}", "unknown category; expected one of " + ", ".join(CATEGORIES))
        for key, value in values.items():
            if key not in ("period_days", "action"):
                raise CategoryError(f"categories.{category}.{key}", "unknown key; expected period_days or action")
            if key == "period_days" and (not isinstance(value, int) or isinstance(value, bool)
                                         or not 1 <= value <= MAX_DAYS):
                raise CategoryError(f"categories.{category}.period_days",
                                    f"must be a whole number of days from 1 to {MAX_DAYS}, got {value!r}")
            if key == "action" and value not in ("shred", "anonymise"):
                raise CategoryError(f"categories.{category}.action", f"must be shred or anonymise, got {value!r}")
            if key == "action" and value == "anonymise" and category not in ANONYMISABLE:
                raise CategoryError(f"categories.{category}.action",
                                    "only " + " and ".join(ANONYMISABLE) + " may be anonymised")
            out[category][key] = value
    return dict(out)


