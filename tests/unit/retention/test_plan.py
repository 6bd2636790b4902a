"""Retention planning (pure): expiry boundaries, the report, merging an admin's change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.policy.loader import load_dir
from server.retention import plan

CONFIG = load_dir(Path(__file__).resolve().parents[3] / "policies", version=1).retention


def test_labels_sort_like_months() -> None:
    assert plan.label(datetime(2026, 1, 31, 23, 59, tzinfo=UTC)) == "2026-01"
    assert plan.label_start("2026-02") == datetime(2026, 2, 1, tzinfo=UTC)
    assert "2025-12" < "2026-01" < "2026-10"


@pytest.mark.parametrize(("now", "expired"), [
    (datetime(2028, 1, 31, 23, 59, tzinfo=UTC), False),  # one minute before the end of month + 730 days
    (datetime(2028, 2, 1, tzinfo=UTC), True),  # exactly 2026-02-01 + 730 days
])
def test_a_bucket_expires_at_the_end_of_its_month_plus_the_period(now: datetime, expired: bool) -> None:
    assert plan.bucket_expiry(CONFIG, "messages", "2026-01") == datetime(2026, 2, 1, tzinfo=UTC) + timedelta(730)
    assert (plan.expired_before(CONFIG, "messages", now) > "2026-01") is expired


def test_audit_cutoff_is_the_audit_period_back() -> None:
    now = datetime(2030, 6, 1, tzinfo=UTC)
    assert plan.audit_cutoff(CONFIG, now) == now - timedelta(days=2190)


def test_report_sentence_and_json() -> None:
    report = plan.Report(datetime(2026, 4, 15, tzinfo=UTC), 3)
    report.add("messages", items=3, buckets=1)
    report.add("messages", items=2)
    report.add("case_notes", buckets=2)
    report.cases.update({"a", "b"})
    assert report.sentence() == "On 2026-04-15 this would remove 5 items in 3 buckets of 2 cases"
    assert report.to_json()["items"] == {"messages": 5, "case_notes": 0}


def test_merged_categories_applies_a_partial_change() -> None:
    merged = plan.merged_categories(CONFIG, {"messages": {"period_days": 30}, "call_quality": {"action": "anonymise"}})
    assert merged["messages"] == {"period_days": 30, "action": "shred"}
    assert merged["call_quality"] == {"period_days": 90, "action": "anonymise"}
    assert merged["audit_log"] == {"period_days": 2190, "action": "shred"}


@pytest.mark.parametrize(("changes", "key"), [
    ({"emails": {"period_days": 1}}, "categories.emails"),
    ({"messages": {"colour": 1}}, "categories.messages.colour"),
    ({"messages": {"period_days": 0}}, "categories.messages.period_days"),
    ({"messages": {"period_days": True}}, "categories.messages.period_days"),
    ({"messages": {"period_days": "7"}}, "categories.messages.period_days"),
    ({"messages": {"action": "burn"}}, "categories.messages.action"),
    ({"messages": {"action": "anonymise"}}, "categories.messages.action"),
])
def test_merged_categories_names_the_bad_key(changes: dict[str, dict[str, object]], key: str) -> None:
    with pytest.raises(plan.CategoryError) as err:
        plan.merged_categories(CONFIG, changes)
    assert err.value.key == key and str(err.value).startswith(key + ": ")
