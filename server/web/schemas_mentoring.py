"""Request and response bodies of the mentoring routes (issue 16; pure). Strict: unknown
fields are refused, every string has a size limit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from server.web.strict import Strict

ActivityKind = Literal["meeting", "mediation", "court_conditions", "debts", "family", "other"]
OutcomeKind = Literal["completed", "ended_early"]
Note = Annotated[str, Meta(max_length=500)]
Reason = Annotated[str, Meta(max_length=2_000)]


class RecordActivity(Strict, kw_only=True):
    kind: ActivityKind
    done_on: date
    #: Time spent, in hours: a quarter of an hour to 24 hours.
    hours: Annotated[float, Meta(ge=0.25, le=24)]
    note: Note = ""


class RecordOutcome(Strict, kw_only=True):
    outcome: OutcomeKind
    reason: Reason = ""  # why, required when the mentoring ended early


class Extend(Strict, kw_only=True):
    ends_on: date
    reason: Annotated[str, Meta(min_length=1, max_length=2_000)]


class Extended(Struct, kw_only=True):
    ends_on: date


class ActivityOut(Struct, kw_only=True):
    id: str
    kind: str
    done_on: date
    hours: float
    note: str


class OutcomeOut(Struct, kw_only=True):
    party: str  # mentor | officer
    outcome: str
    reason: str
    created_at: datetime


class Person(Struct, kw_only=True):
    id: str
    display_name: str


class PeriodOut(Struct, kw_only=True):
    assignment_id: str
    mentor: Person
    mentee: Person
    starts_on: date
    ends_on: date | None
    days_left: int | None
    running: bool
    ended_at: datetime | None
    #: The mentor may still record the outcome.
    outcome_open: bool
    hours: float
    activities: list[ActivityOut]
    outcomes: list[OutcomeOut]


class Periods(Struct, kw_only=True):
    periods: list[PeriodOut]
