from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.checkins.outcomes import Evidence, Outcome, Quality, Sample, suggest, summarise

OPENS = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
GOOD = summarise([Sample(rtt_ms=80, loss_pct=0.5, bitrate_kbps=900)] * 3)
POOR = summarise([Sample(rtt_ms=900, loss_pct=12, bitrate_kbps=60)] * 3)


def evidence(**changes: object) -> Evidence:
    base: dict[str, object] = {"opens_at": OPENS, "client_arrived_at": OPENS + timedelta(minutes=1),
                               "client_connected": True, "dropped": False, "cant_talk": False, "quality": GOOD}
    base.update(changes)
    return Evidence(**base)  # type: ignore[arg-type]


def test_summarise_takes_medians() -> None:
    q = summarise([Sample(rtt_ms=r, loss_pct=loss, bitrate_kbps=b) for r, loss, b in
                   [(50, 0, 1000), (100, 1, 800), (3000, 50, 10)]])
    assert (q.samples, q.median_rtt_ms, q.median_loss_pct, q.median_bitrate_kbps, q.poor) == (3, 100, 1, 800, False)
    assert summarise([]) == Quality(samples=0)


@pytest.mark.parametrize(("sample", "poor"), [
    (Sample(rtt_ms=799, loss_pct=4.9, bitrate_kbps=100), False),
    (Sample(rtt_ms=800, loss_pct=0, bitrate_kbps=500), True),
    (Sample(rtt_ms=10, loss_pct=5, bitrate_kbps=500), True),
    (Sample(rtt_ms=10, loss_pct=0, bitrate_kbps=99.9), True),
])
def test_quality_thresholds(sample: Sample, poor: bool) -> None:
    assert summarise([sample]).poor is poor


def test_a_dropped_call_with_bad_quality_is_a_technical_failure_never_missed() -> None:
    s = suggest(evidence(dropped=True, quality=POOR))
    assert s.outcome is Outcome.TECHNICAL_FAILURE
    assert "Call quality was poor" in s.reasons
    assert any("not non-attendance" in r for r in s.reasons)


def test_a_dropped_call_even_before_the_client_connected() -> None:
    assert suggest(evidence(dropped=True, client_connected=False)).outcome is Outcome.TECHNICAL_FAILURE


def test_nobody_came_is_missed() -> None:
    assert suggest(evidence(client_arrived_at=None, client_connected=False)).outcome is Outcome.MISSED


def test_waiting_but_never_connected_is_technical_failure() -> None:
    assert suggest(evidence(client_connected=False)).outcome is Outcome.TECHNICAL_FAILURE


def test_cant_talk_wins() -> None:
    assert suggest(evidence(cant_talk=True, dropped=True)).outcome is Outcome.NOT_SAFE_TO_TALK


def test_late_after_ten_minutes() -> None:
    assert suggest(evidence(client_arrived_at=OPENS + timedelta(minutes=10))).outcome is Outcome.ATTENDED
    late = suggest(evidence(client_arrived_at=OPENS + timedelta(minutes=11), quality=POOR))
    assert late.outcome is Outcome.LATE
    assert late.reasons == ("The client arrived 11 minutes after the window opened", "Call quality was poor")


def test_attended() -> None:
    assert suggest(evidence()).reasons == ("The client joined and the call took place",)


def test_a_call_taken_over_by_another_server_and_resumed_is_attended_with_a_note() -> None:
    s = suggest(evidence(interrupted=True))
    assert s.outcome is Outcome.ATTENDED
    assert "The call was interrupted when its server changed over, and resumed" in s.reasons


def test_a_takeover_nobody_came_back_from_is_a_drop() -> None:
    s = suggest(evidence(interrupted=True, dropped=True))
    assert s.outcome is Outcome.TECHNICAL_FAILURE
    assert not any("resumed" in r for r in s.reasons)
