"""Appointments (pure): kinds, outcomes, recurrence, join windows, reminders, follow-ups.

Design note. Every occurrence of a series is its own row, so one occurrence can be
moved, cancelled or given its outcome without touching the others; the series is only
a shared ``series_id`` and an order. Weekly recurrence is computed in the wall-clock
time of a named time zone, so "every Tuesday at 10:00 in Helsinki" stays at 10:00 when
the clocks change; the store keeps UTC. Every limit (occurrences, span, length) is a
parameter with a safe default and fails with a named error, never a silent cut.

Outcomes live on the appointment. A window that ended with nothing recorded is listed
for follow-up as "unrecorded", never marked as non-attendance by the machine: a missed
check-in may be a dropped call, and non-attendance can lead to breach proceedings (CEP
practice recommendations 2024, checklist; rule ``alternatives``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Kind(StrEnum):
    IN_PERSON = "in_person"
    VIDEO = "video"
    PHONE = "phone"


class Status(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    ATTENDED = "attended"
    LATE = "late"
    MISSED = "missed"
    TECHNICAL_FAILURE = "technical_failure"
    NOT_SAFE_TO_TALK = "not_safe_to_talk"
    EXCUSED = "excused"


class Scope(StrEnum):
    """Which occurrences of a series an edit or a cancellation touches."""

    ONE = "one"
    FOLLOWING = "following"  # this one and every later one of its series


class SchedulingError(ValueError):
    """Bad scheduling input; the message says what and why in English, ``code`` and ``params``
    say the same for a client to word in the person's language (issue 13)."""

    def __init__(self, message: str, code: str = "invalid", **params: str | int) -> None:
        super().__init__(message)
        self.code = f"scheduling.{code}"
        self.params = params


class NaiveDatetime(SchedulingError):
    pass


class BadTimes(SchedulingError):
    pass


class RecurrenceTooLong(SchedulingError):
    pass


@dataclass(frozen=True)
class Limits:
    max_occurrences: int = 52  # a year of weekly meetings
    max_span: timedelta = timedelta(days=366)  # first to last occurrence
    max_length: timedelta = timedelta(hours=8)  # one appointment
    min_length: timedelta = timedelta(minutes=5)
    max_ahead: timedelta = timedelta(days=2 * 366)  # how far ahead the first one may be
    past_grace: timedelta = timedelta(minutes=5)  # "now" typed a little late is still now


@dataclass(frozen=True)
class Recurrence:
    """Every ``interval_weeks`` weeks, ``count`` times or until ``until`` (inclusive), at the
    same wall-clock time in ``timezone``."""

    interval_weeks: int
    count: int | None = None
    until: date | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if not 1 <= self.interval_weeks <= 52:
            raise SchedulingError("interval_weeks is between 1 and 52", "interval_weeks", min=1, max=52)
        if (self.count is None) == (self.until is None):
            raise SchedulingError("A recurrence ends either after a count or on a date, not both or neither",
                                  "count_or_until")
        if self.count is not None and self.count < 1:
            raise SchedulingError("count is at least 1", "count_too_small", min=1)
        zone(self.timezone)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SchedulingError(f"Unknown time zone {name!r}", "unknown_time_zone", zone=name) from None


def require_aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetime(f"{name} needs a time zone (e.g. 2026-01-05T09:00:00Z)", "needs_time_zone", field=name)
    return value.astimezone(UTC)


def check_times(starts_at: datetime, ends_at: datetime, now: datetime, limits: Limits = Limits()) -> None:
    """One occurrence: aware, ends after it starts, a sane length, not in the past, not absurdly far."""
    starts_at, ends_at = require_aware("starts_at", starts_at), require_aware("ends_at", ends_at)
    if ends_at <= starts_at:
        raise BadTimes("An appointment ends after it starts", "ends_before_start")
    length = ends_at - starts_at
    if length < limits.min_length or length > limits.max_length:
        raise BadTimes(f"An appointment lasts between {_minutes(limits.min_length)} and "
                       f"{_minutes(limits.max_length)} minutes", "length",
                       min=_minutes(limits.min_length), max=_minutes(limits.max_length))
    if starts_at < now - limits.past_grace:
        # An appointment is a plan; a meeting that has happened is recorded on the case page
        # (record_face_to_face), which takes a time in the past and refuses the future.
        raise BadTimes("An appointment cannot start in the past; record a meeting that has happened on the case "
                       "page", "start_in_past")
    if starts_at > now + limits.max_ahead:
        raise BadTimes(f"An appointment is at most {limits.max_ahead.days} days ahead", "too_far_ahead",
                       days=limits.max_ahead.days)


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def expand(starts_at: datetime, ends_at: datetime, rule: Recurrence | None,
           limits: Limits = Limits()) -> list[tuple[datetime, datetime]]:
    """The occurrences (UTC start, UTC end) of a one-off appointment or a series."""
    starts_at, ends_at = require_aware("starts_at", starts_at), require_aware("ends_at", ends_at)
    if ends_at <= starts_at:
        raise BadTimes("An appointment ends after it starts", "ends_before_start")
    if rule is None:
        return [(starts_at, ends_at)]
    if rule.count is not None and rule.count > limits.max_occurrences:
        raise RecurrenceTooLong(f"A series has at most {limits.max_occurrences} appointments", "too_many_occurrences",
                                max=limits.max_occurrences)
    tz = zone(rule.timezone)
    local_start = starts_at.astimezone(tz).replace(tzinfo=None)
    length = ends_at - starts_at
    out: list[tuple[datetime, datetime]] = []
    n = 0
    while True:
        wall = local_start + timedelta(weeks=rule.interval_weeks * n)
        if rule.count is not None and n >= rule.count:
            break
        if rule.until is not None and wall.date() > rule.until:
            break
        if len(out) >= limits.max_occurrences:
            raise RecurrenceTooLong(f"A series has at most {limits.max_occurrences} appointments",
                                    "too_many_occurrences", max=limits.max_occurrences)
        start = wall.replace(tzinfo=tz).astimezone(UTC)
        if start - starts_at > limits.max_span:
            raise RecurrenceTooLong(f"A series spans at most {limits.max_span.days} days", "span_too_long",
                                    days=limits.max_span.days)
        out.append((start, start + length))
        n += 1
    if not out:
        raise BadTimes("The series ends before its first appointment", "series_ends_first")
    return out


# -- join windows ------------------------------------------------------------------


@dataclass(frozen=True)
class WindowSettings:
    open_before: timedelta = timedelta(minutes=10)
    close_after: timedelta = timedelta(minutes=15)  # after the scheduled end


def join_window(starts_at: datetime, ends_at: datetime,
                settings: WindowSettings = WindowSettings()) -> tuple[datetime, datetime]:
    """When a check-in for this appointment may be joined (and when its outcome is due)."""
    starts_at, ends_at = require_aware("starts_at", starts_at), require_aware("ends_at", ends_at)
    return starts_at - settings.open_before, ends_at + settings.close_after


def needs_follow_up(*, status: str, outcome: str | None, starts_at: datetime, ends_at: datetime, now: datetime,
                    settings: WindowSettings = WindowSettings()) -> bool:
    """An appointment whose window has ended with no outcome recorded: unrecorded, for follow-up."""
    if status != Status.SCHEDULED or outcome is not None:
        return False
    return join_window(starts_at, ends_at, settings)[1] <= now


def outcome_may_be_recorded(*, status: str, starts_at: datetime, ends_at: datetime, now: datetime,
                            settings: WindowSettings = WindowSettings()) -> str | None:
    """None when an outcome may be recorded now, else the reason why not."""
    if status == Status.CANCELLED:
        return "A cancelled appointment has no outcome"
    if now < join_window(starts_at, ends_at, settings)[0]:
        return "An outcome is recorded once the appointment's window has opened"
    return None


def counts_as_face_to_face(kind: str, outcome: str, previous: str | None) -> bool:
    """An in-person appointment the client came to is the face-to-face meeting that
    ``face_to_face_first`` waits for (CEP §4.5, §5); recorded once, when first marked so."""
    met = (Outcome.ATTENDED, Outcome.LATE)
    return kind == Kind.IN_PERSON and outcome in met and previous not in met


# -- reminders ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderPlan:
    send: int | None  # the offset (seconds) to deliver now, if any
    skip: tuple[int, ...]  # due offsets overtaken by a later one: recorded, never delivered


def plan_reminders(starts_at: datetime, offsets: Iterable[int], now: datetime,
                   already: Iterable[int]) -> ReminderPlan:
    """Which reminder to send now. Offsets are seconds before the start. An offset is due
    from ``starts_at - offset`` until the start; when several are due at once (the
    appointment was made at short notice, or the server was down) only the closest to
    the start is sent, so nobody gets "tomorrow" and "in 15 minutes" together."""
    starts_at = require_aware("starts_at", starts_at)
    done = set(already)
    due = sorted(o for o in set(offsets) if o not in done and starts_at - timedelta(seconds=o) <= now < starts_at)
    if not due:
        return ReminderPlan(None, ())
    return ReminderPlan(due[0], tuple(due[1:]))


def still_ahead(starts_at: datetime, offsets: Iterable[int], now: datetime) -> tuple[int, ...]:
    """Offsets whose reminder lies in the future for this start time (after a reschedule
    these are planned afresh)."""
    return tuple(sorted(o for o in set(offsets) if starts_at - timedelta(seconds=o) > now))


def parse_offsets(text: str) -> tuple[int, ...]:
    """``"24h,15m"`` -> (86400, 900). Units s, m, h, d; each positive, at most 30 days."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        number, unit = part[:-1], part[-1:]
        if unit not in units or not number.isdigit():
            raise SchedulingError(f"{part!r} is not a duration like 24h, 15m, 2d or 90s")
        seconds = int(number) * units[unit]
        if not 0 < seconds <= 30 * 86400:
            raise SchedulingError(f"{part!r} must be more than 0 and at most 30 days")
        out.append(seconds)
    if not out:
        raise SchedulingError("at least one reminder offset is needed")
    return tuple(sorted(set(out), reverse=True))


# -- day and week views -------------------------------------------------------------


def view_range(day: date, view: str, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the day, or of the Monday-to-Sunday week, containing ``day``
    in ``timezone``."""
    tz = zone(timezone)
    if view == "day":
        first, days = day, 1
    elif view == "week":
        first, days = day - timedelta(days=day.weekday()), 7
    else:
        raise SchedulingError("view is day or week", "view")
    start = datetime(first.year, first.month, first.day, tzinfo=tz)
    last = first + timedelta(days=days)
    end = datetime(last.year, last.month, last.day, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


# -- what other features see ------------------------------------------------------------


@dataclass(frozen=True)
class Appointment:
    """One occurrence, as handed to other features (check-ins) and to renderers."""

    id: str
    case_id: str
    client_id: str
    officer_id: str
    kind: Kind
    status: Status
    starts_at: datetime
    ends_at: datetime
    location: str | None = None
    series_id: str | None = None
    outcome: Outcome | None = None
    sequence: int = 0


def appointment_of(row: Any) -> Appointment:
    """From a store row (anything with the column attributes)."""
    return Appointment(
        id=row.id, case_id=row.case_id, client_id=row.client_id, officer_id=row.officer_id, kind=Kind(row.kind),
        status=Status(row.status), starts_at=row.starts_at, ends_at=row.ends_at, location=row.location,
        series_id=row.series_id, outcome=Outcome(row.outcome) if row.outcome else None,
        sequence=int(row.sequence or 0),
    )


def reminder_frame(*, reminder_id: str, appointment: Appointment, offset_s: int) -> dict[str, object]:
    """The in-app ``reminder`` /ws frame: over the user's own authenticated connection, so
    it may say when and how; it says nothing about the case."""
    return {"type": "reminder", "id": reminder_id, "appointment_id": appointment.id, "kind": appointment.kind.value,
            "starts_at": appointment.starts_at, "ends_at": appointment.ends_at, "offset_s": offset_s}


def reminder_push(appointment_id: str) -> dict[str, str]:
    """All a reminder push says (a lock screen may be read by anyone): no time, no kind, no names."""
    return {"type": "reminder", "appointment_id": appointment_id}


def note_aad(appointment_id: str) -> bytes:
    """Associated data binding an appointment's encrypted outcome note to the appointment."""
    return f"appointment-outcome|{appointment_id}".encode()
