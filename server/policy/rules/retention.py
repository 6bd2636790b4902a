"""Retention: how long each data category lives, and when its key bucket is shredded.

GDPR art. 5(1)(e) (storage limitation) and art. 17 (erasure); Law Enforcement
Directive 2016/680 art. 5 (time limits for storage and review). Data is encrypted
under one key per (case, category, calendar month); a bucket's key is destroyed only
once the *newest* row it can hold has been kept for the full period, i.e. at the end
of the month plus the period. Legal hold is the caller's check: a held case is never
shredded, whatever this module says. The rule refuses no action.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from server.policy.decision import Decision
from server.policy.facts import PolicyRequest
from server.policy.schema import RetentionConfig

RULE_ID = "retention"


def period(config: RetentionConfig, category: str) -> timedelta:
    """How long data of ``category`` is kept; KeyError for an unknown category."""
    return timedelta(days=config.categories.of(category).period_days)


def expiry_action(config: RetentionConfig, category: str) -> Literal["shred", "anonymise"]:
    return config.categories.of(category).action


def bucket_start(at: datetime) -> datetime:
    """First instant (UTC) of the calendar-month bucket holding ``at``."""
    if at.utcoffset() is None:
        raise ValueError("bucket times must be timezone-aware")
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def bucket_end(start: datetime) -> datetime:
    """First instant of the month after the bucket that ``start`` falls in."""
    first = bucket_start(start)
    return datetime(first.year + first.month // 12, first.month % 12 + 1, 1, tzinfo=UTC)


def expiry_for(config: RetentionConfig, category: str, bucket_start: datetime) -> datetime:
    """When the month bucket beginning at ``bucket_start`` may be shredded."""
    return bucket_end(bucket_start) + period(config, category)


def evaluate(config: RetentionConfig, request: PolicyRequest, version: int) -> Decision | None:
    del config, request, version  # retention plans deletions; it refuses no request
    return None
