from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.policy.facts import PolicyRequest
from server.policy.loader import PolicySet
from server.policy.rules.retention import (
    bucket_end,
    bucket_start,
    evaluate,
    expiry_action,
    expiry_for,
    period,
)
from server.policy.schema import CATEGORIES, RetentionConfig


@pytest.fixture
def config(policies: PolicySet) -> RetentionConfig:
    return policies.retention


def test_every_category_has_its_default_period(config: RetentionConfig) -> None:
    assert {c: period(config, c).days for c in CATEGORIES} == {
        "messages": 730,
        "attachments": 730,
        "checkin_records": 1095,
        "safe_space_answers": 180,
        "call_quality": 90,
        "group_attendance": 1095,
        "case_notes": 1825,
        "network_records": 1825,
        "feedback_comments": 30,
        "audit_log": 2190,
    }
    assert {expiry_action(config, c) for c in CATEGORIES} == {"shred"}


def test_an_unknown_category_is_a_key_error(config: RetentionConfig) -> None:
    with pytest.raises(KeyError):
        period(config, "photos")


def test_buckets_are_utc_calendar_months() -> None:
    plus_two = timezone(timedelta(hours=2))
    # 1 April 01:00 at +02:00 is still 31 March in UTC.
    assert bucket_start(datetime(2025, 4, 1, 1, 0, tzinfo=plus_two)) == datetime(2025, 3, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        bucket_start(datetime(2025, 4, 1))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)),
        (datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        (datetime(2025, 12, 17, 5, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_bucket_ends_at_the_next_month(start: datetime, end: datetime) -> None:
    assert bucket_end(start) == end


def test_a_bucket_expires_when_its_newest_row_has_had_its_period(
    config: RetentionConfig,
) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert expiry_for(config, "call_quality", start) == datetime(2025, 2, 1, tzinfo=UTC) + timedelta(days=90)


def test_retention_refuses_no_request(config: RetentionConfig, request_for: Callable[..., PolicyRequest]) -> None:
    assert evaluate(config, request_for("read_case", category="messages"), 1) is None
