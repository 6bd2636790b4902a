"""Evaluation figures (pure): what is counted, the filters, small-cell suppression, CSV.

Design note. The CEP checklist asks for "continuous evaluation of effectiveness in relation
to probation goals ... at regular intervals" (003, checklist); issue 16 section 3 names the
figures. They are aggregates, but an aggregate of one or two people is a disclosure: in a
small office "1 missed appointment by a Romanian-speaking client with low digital access"
names someone. So every cell carries the number of distinct people it was drawn from, and a
cell drawn from 1 to 4 people is shown as ``FEWER`` ("fewer than 5") in the page, the CSV and
the API alike: the real value never leaves the server. A count drawn from nobody is a true 0
and shown; an average or a rate of nobody is no value (None).

Check-ins are video calls, so their figures (waiting time, safe-space checks, "can't talk
now") are empty under a phone or in-person channel filter. Group sessions are neither of the
three channels, and networks and mentoring belong to a case rather than to a meeting: the
channel filter does not apply to them (``by_channel`` False), which the page says.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from server.errors import BadRequest

THRESHOLD = 5
FEWER = "fewer than 5"
MAX_MONTHS = 24
#: The column of a snapshot figure (where things stand now, not per month).
NOW = "now"
CHANNELS = ("video", "phone", "in_person")
DIGITAL = ("low", "standard")
FACES = {1: "unhappy", 2: "neutral", 3: "happy"}
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")

Unit = Literal["count", "minutes", "percent", "days"]
Value = int | float | str | None


def checked_answer(face: int, comment: str, max_comment: int) -> str:
    """A "How did this go?" answer checked (three faces, a comment of at most ``max_comment``
    characters): the comment, stripped."""
    if face not in FACES:
        raise BadRequest("A face is 1, 2 or 3", reason="evaluation.face")
    comment = comment.strip()
    if len(comment) > max_comment:
        raise BadRequest(f"A comment has at most {max_comment} characters", reason="evaluation.comment",
                         params={"max": max_comment})
    return comment


def comment_aad(feedback_id: str) -> bytes:
    """Associated data binding a feedback comment's ciphertext to its row."""
    return f"feedback|{feedback_id}".encode()


@dataclass(frozen=True)
class Spec:
    id: str
    unit: Unit
    #: Fixed series keys; None: the series are named by the data (a cohort per series).
    series: tuple[str, ...] | None
    by_channel: bool = True
    snapshot: bool = False


SPECS: tuple[Spec, ...] = (
    Spec("appointments", "count", ("attended", "missed", "technical_failure", "cancelled")),
    Spec("admission_wait", "minutes", ("average",)),
    Spec("safe_space_not_passed", "count", ("client", "staff")),
    Spec("cant_talk", "count", ("alerts",)),
    Spec("group_attendance", "percent", None, by_channel=False),
    Spec("network_stages", "count", None, by_channel=False, snapshot=True),
    Spec("network_days", "days", None, by_channel=False, snapshot=True),
    Spec("network_overdue", "count", ("tasks",), by_channel=False, snapshot=True),
    Spec("mentoring_outcomes", "count", ("completed", "ended_early"), by_channel=False),
    Spec("feedback_client", "count", ("happy", "neutral", "unhappy")),
    Spec("feedback_staff", "count", ("happy", "neutral", "unhappy")),
)
BY_ID = {s.id: s for s in SPECS}


@dataclass(frozen=True)
class Filters:
    first: date  # first day of the first month
    last: date  # first day of the last month
    office_id: str | None = None
    channel: str | None = None
    language: str | None = None
    digital: str | None = None

    @property
    def months(self) -> list[str]:
        out, y, m = [], self.first.year, self.first.month
        while (y, m) <= (self.last.year, self.last.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out

    @property
    def end(self) -> date:
        """First day after the last month."""
        y, m = self.last.year, self.last.month
        return date(y + 1, 1, 1) if m == 12 else date(y, m + 1, 1)


def month_start(text: str) -> date:
    found = MONTH.match(text)
    if not found:
        raise BadRequest(f"A month is written YYYY-MM, not {text[:20]!r}", reason="evaluation.month")
    return date(int(found[1]), int(found[2]), 1)


def filters(*, today: date, first: str | None, last: str | None, office_id: str | None, channel: str | None,
            language: str | None, digital: str | None, default_months: int = 6) -> Filters:
    """The query's filters, checked; by default the ``default_months`` months up to this one."""
    end = month_start(last) if last else date(today.year, today.month, 1)
    if first:
        start = month_start(first)
    else:
        y, m = divmod(end.year * 12 + end.month - 1 - (default_months - 1), 12)
        start = date(y, m + 1, 1)
    span = (end.year - start.year) * 12 + end.month - start.month + 1
    if span < 1:
        raise BadRequest("The first month comes after the last", reason="evaluation.months",
                         params={"max": MAX_MONTHS})
    if span > MAX_MONTHS:
        raise BadRequest(f"At most {MAX_MONTHS} months at a time", reason="evaluation.months",
                         params={"max": MAX_MONTHS})
    if channel is not None and channel not in CHANNELS:
        raise BadRequest("The channel is video, phone or in_person", reason="evaluation.channel")
    if digital is not None and digital not in DIGITAL:
        raise BadRequest("The digital access is low or standard", reason="evaluation.digital")
    if language is not None and not LANGUAGE.match(language):
        raise BadRequest("A language is a two- or three-letter code", reason="evaluation.language")
    return Filters(first=start, last=end, office_id=office_id, channel=channel, language=language, digital=digital)


def cell(value: float | None, people: int, unit: Unit) -> Value:
    """What may be shown of a value drawn from ``people`` distinct people."""
    if people == 0:
        return 0 if unit == "count" else None
    if people < THRESHOLD:
        return FEWER
    if value is None:
        return None
    return int(value) if unit == "count" else round(float(value), 1)


@dataclass(frozen=True)
class Raw:
    """One cell as the store computed it: never sent anywhere as it is."""

    series: str
    month: str
    value: float | None
    people: int


@dataclass
class Series:
    key: str
    cells: list[Value]
    label: str | None = None  # a cohort's name, a stage's name


@dataclass
class Figure:
    id: str
    unit: Unit
    months: list[str]
    series: list[Series] = field(default_factory=list)
    by_channel: bool = True
    snapshot: bool = False


def figure(spec: Spec, months: list[str], raws: list[Raw], labels: dict[str, str] | None = None) -> Figure:
    """The figure of ``spec`` over ``months`` (or the ``NOW`` column) from the store's cells,
    every cell through ``cell``: a missing cell is drawn from nobody."""
    columns = [NOW] if spec.snapshot else months
    keys = list(spec.series) if spec.series is not None else sorted({r.series for r in raws},
                                                                      key=lambda k: (labels or {}).get(k, k))
    at = {(r.series, r.month): r for r in raws}
    out = Figure(id=spec.id, unit=spec.unit, months=columns, by_channel=spec.by_channel, snapshot=spec.snapshot)
    for key in keys:
        cells: list[Value] = []
        for month in columns:
            raw = at.get((key, month))
            cells.append(cell(raw.value, raw.people, spec.unit) if raw else cell(None, 0, spec.unit))
        out.series.append(Series(key=key, cells=cells, label=(labels or {}).get(key)))
    return out


def to_csv(fig: Figure) -> str:
    """One row per series, one column per month; suppressed cells say ``FEWER``, empty ones nothing."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["figure", "series", *fig.months])
    for s in fig.series:
        name = s.label or s.key
        # A cohort's name is typed by staff: keep a spreadsheet from reading it as a formula.
        if name[:1] in ("=", "+", "-", "@", "\t", "\r"):
            name = "'" + name
        writer.writerow([fig.id, name, *("" if v is None else v for v in s.cells)])
    return buf.getvalue()
