"""Recurrence expansion, time checks, join windows, follow-ups, reminder planning, view ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from server.scheduling import model
from server.scheduling.model import (
    BadTimes,
    Limits,
    NaiveDatetime,
    Recurrence,
    RecurrenceTooLong,
    SchedulingError,
    WindowSettings,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_one_off_is_one_occurrence() -> None:
    assert model.expand(T, T + H, None) == [(T, T + H)]


def test_weekly_by_count_and_every_n_weeks() -> None:
    got = model.expand(T, T + H, Recurrence(interval_weeks=2, count=3))
    assert [s for s, _ in got] == [T, T + timedelta(weeks=2), T + timedelta(weeks=4)]
    assert all(e - s == H for s, e in got)


def test_until_is_inclusive_of_its_day() -> None:
    got = model.expand(T, T + H, Recurrence(interval_weeks=1, until=date(2026, 1, 20)))
    assert [s.date() for s, _ in got] == [date(2026, 1, 6), date(2026, 1, 13), date(2026, 1, 20)]


def test_wall_clock_time_survives_daylight_saving() -> None:
    start = datetime(2026, 3, 24, 8, 0, tzinfo=UTC)  # 10:00 in Helsinki (UTC+2)
    got = model.expand(start, start + H, Recurrence(interval_weeks=1, count=2, timezone="Europe/Helsinki"))
    assert got[1][0] == datetime(2026, 3, 31, 7, 0, tzinfo=UTC)  # still 10:00 local, now UTC+3


def test_limits() -> None:
    with pytest.raises(RecurrenceTooLong, match="at most 52"):
        model.expand(T, T + H, Recurrence(interval_weeks=1, count=53))
    with pytest.raises(RecurrenceTooLong, match="at most 3"):
        model.expand(T, T + H, Recurrence(interval_weeks=1, until=date(2026, 3, 1)), Limits(max_occurrences=3))
    with pytest.raises(RecurrenceTooLong, match="spans at most 30 days"):
        model.expand(T, T + H, Recurrence(interval_weeks=2, count=4), Limits(max_span=timedelta(days=30)))
    with pytest.raises(BadTimes, match="ends before its first"):
        model.expand(T, T + H, Recurrence(interval_weeks=1, until=date(2026, 1, 1)))
    with pytest.raises(BadTimes):
        model.expand(T, T, None)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"interval_weeks": 0, "count": 1}, "interval_weeks"),
    ({"interval_weeks": 53, "count": 1}, "interval_weeks"),
    ({"interval_weeks": 1}, "either"),
    ({"interval_weeks": 1, "count": 2, "until": date(2026, 2, 1)}, "either"),
    ({"interval_weeks": 1, "count": 0}, "at least 1"),
    ({"interval_weeks": 1, "count": 1, "timezone": "Nowhere/Here"}, "time zone"),
    ({"interval_weeks": 1, "count": 1, "timezone": "../../etc/passwd"}, "time zone"),
])
def test_bad_recurrences(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(SchedulingError, match=words):
        Recurrence(**kwargs)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused_everywhere() -> None:
    naive = datetime(2026, 1, 6, 10, 0)
    with pytest.raises(NaiveDatetime):
        model.expand(naive, naive + H, None)
    with pytest.raises(NaiveDatetime):
        model.check_times(T, naive, NOW)
    with pytest.raises(NaiveDatetime):
        model.join_window(naive, T)
    with pytest.raises(NaiveDatetime):
        model.plan_reminders(naive, [900], NOW, [])


@pytest.mark.parametrize(("start", "end", "words"), [
    (T, T - H, "ends after it starts"),
    (T, T + timedelta(minutes=2), "lasts between"),
    (T, T + timedelta(hours=9), "lasts between"),
    (NOW - timedelta(minutes=6), NOW + H, "past"),
    (NOW + timedelta(days=800), NOW + timedelta(days=800) + H, "ahead"),
])
def test_check_times(start: datetime, end: datetime, words: str) -> None:
    with pytest.raises(BadTimes, match=words):
        model.check_times(start, end, NOW)


def test_check_times_accepts_a_start_typed_a_little_late() -> None:
    model.check_times(NOW - timedelta(minutes=4), NOW + H, NOW)


def test_join_window_and_follow_up() -> None:
    w = WindowSettings(open_before=timedelta(minutes=10), close_after=timedelta(minutes=15))
    assert model.join_window(T, T + H, w) == (T - timedelta(minutes=10), T + H + timedelta(minutes=15))
    closes = T + H + timedelta(minutes=15)
    args = {"starts_at": T, "ends_at": T + H, "settings": w}
    assert not model.needs_follow_up(status="scheduled", outcome=None, now=closes - timedelta(seconds=1), **args)
    assert model.needs_follow_up(status="scheduled", outcome=None, now=closes, **args)
    assert not model.needs_follow_up(status="scheduled", outcome="attended", now=closes, **args)
    assert not model.needs_follow_up(status="cancelled", outcome=None, now=closes, **args)


def test_outcome_may_be_recorded_once_the_window_opened() -> None:
    args = {"starts_at": T, "ends_at": T + H}
    assert model.outcome_may_be_recorded(status="scheduled", now=T - timedelta(minutes=11), **args) is not None
    assert model.outcome_may_be_recorded(status="scheduled", now=T - timedelta(minutes=10), **args) is None
    assert "cancelled" in str(model.outcome_may_be_recorded(status="cancelled", now=T, **args))


def test_reminder_plan_each_offset_in_its_time() -> None:
    offsets = (86400, 900)
    assert model.plan_reminders(T, offsets, T - timedelta(days=2), []) == model.ReminderPlan(None, ())
    assert model.plan_reminders(T, offsets, T - timedelta(hours=24), []) == model.ReminderPlan(86400, ())
    assert model.plan_reminders(T, offsets, T - timedelta(hours=1), [86400]) == model.ReminderPlan(None, ())
    assert model.plan_reminders(T, offsets, T - timedelta(minutes=15), [86400]) == model.ReminderPlan(900, ())
    assert model.plan_reminders(T, offsets, T - timedelta(minutes=1), [86400, 900]) == model.ReminderPlan(None, ())
    assert model.plan_reminders(T, offsets, T, []) == model.ReminderPlan(None, ())  # started: too late


def test_reminders_due_together_send_only_the_closest() -> None:
    assert model.plan_reminders(T, (86400, 3600, 900), T - timedelta(minutes=5), []) == \
        model.ReminderPlan(900, (3600, 86400))


def test_still_ahead_after_a_move() -> None:
    assert model.still_ahead(T, (86400, 900), T - timedelta(hours=2)) == (900,)
    assert model.still_ahead(T, (86400, 900), T - timedelta(days=2)) == (900, 86400)


@pytest.mark.parametrize(("text", "offsets"), [
    ("24h,15m", (86400, 900)), ("15m, 24h", (86400, 900)), ("2d,90s,1h,1h", (172800, 3600, 90)),
])
def test_parse_offsets(text: str, offsets: tuple[int, ...]) -> None:
    assert model.parse_offsets(text) == offsets


@pytest.mark.parametrize("text", ["", ",", "15", "m", "-5m", "0m", "31d", "1w", "1.5h", "abc"])
def test_parse_offsets_refuses(text: str) -> None:
    with pytest.raises(SchedulingError):
        model.parse_offsets(text)


def test_view_ranges() -> None:
    assert model.view_range(date(2026, 1, 8), "day", "UTC") == (datetime(2026, 1, 8, tzinfo=UTC),
                                                                datetime(2026, 1, 9, tzinfo=UTC))
    start, end = model.view_range(date(2026, 1, 8), "week", "Europe/Helsinki")  # a Thursday
    assert (start, end) == (datetime(2026, 1, 4, 22, tzinfo=UTC), datetime(2026, 1, 11, 22, tzinfo=UTC))
    start, end = model.view_range(date(2026, 3, 29), "day", "Europe/Helsinki")  # a 23-hour day
    assert end - start == timedelta(hours=23)
    with pytest.raises(SchedulingError):
        model.view_range(date(2026, 1, 8), "month", "UTC")


def test_appointment_of_a_row_and_the_frames() -> None:
    row = SimpleNamespace(id="a", case_id="c", client_id="cl", officer_id="of", kind="video", status="scheduled",
                          starts_at=T, ends_at=T + H, location="Room 1", series_id=None, outcome="late", sequence=2)
    appt = model.appointment_of(row)
    assert appt.kind is model.Kind.VIDEO and appt.outcome is model.Outcome.LATE and appt.sequence == 2
    frame = model.reminder_frame(reminder_id="r", appointment=appt, offset_s=900)
    assert frame["type"] == "reminder" and "location" not in frame and "case_id" not in frame
    assert model.reminder_push("a") == {"type": "reminder", "appointment_id": "a"}


def test_only_attending_in_person_counts_as_face_to_face() -> None:
    assert model.counts_as_face_to_face("in_person", "attended", None)
    assert model.counts_as_face_to_face("in_person", "late", "missed")
    assert not model.counts_as_face_to_face("in_person", "attended", "late")  # already counted
    assert not model.counts_as_face_to_face("in_person", "missed", None)
    assert not model.counts_as_face_to_face("video", "attended", None)
    assert not model.counts_as_face_to_face("phone", "attended", None)
