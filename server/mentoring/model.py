"""Mentoring periods (pure): when a period runs, what a mentor records, and the policy
request that decides access to one (issue 16).

Design note. A period runs from its first day to its last day inclusive, in UTC: access
ends at midnight UTC after ``ends_on`` (``access_ends``), or when the assignment is ended
(an officer ends it, or records its outcome). A mentoring conversation carries its access
end (``conversations.access_ends_at``) so every path into it (history, resume, receipts,
sends, attachments) can ask the ``mentoring`` rule without another lookup. Assignments made
before periods existed have no end until an officer sets one by extending them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from server.errors import BadRequest
from server.identity.model import Actor, Role
from server.policy.decision import Decision, refusal
from server.policy.facts import ActorFacts, MentoringFacts, PolicyRequest

ACTIVITY_KINDS = ("meeting", "mediation", "court_conditions", "debts", "family", "other")
OUTCOMES = ("completed", "ended_early")
MENTOR, OFFICER = "mentor", "officer"
#: What a mentoring conversation's kind is (messaging.model.Kind.MENTORING).
CONVERSATION_KIND = "mentoring"
MAX_NOTE = 500
MAX_MINUTES = 24 * 60


def aad(table: str, row_id: str) -> bytes:
    """Associated data binding a note's or a reason's ciphertext to its row."""
    return f"{table}|{row_id}".encode()


def access_ends(ends_on: date | None) -> datetime | None:
    """The instant the period's access ends: midnight UTC after its last day."""
    return None if ends_on is None else datetime.combine(ends_on + timedelta(days=1), time(0), UTC)


def period_open(ends_on: date | None, ended_at: datetime | None, now: datetime) -> bool:
    end = access_ends(ends_on)
    return ended_at is None and (end is None or now < end)


def outcome_open(ends_on: date | None, ended_at: datetime | None, now: datetime, outcome_days: int) -> bool:
    """May the mentor still record the outcome? While the period runs and ``outcome_days``
    after it ended (by its end date or by an officer)."""
    end = access_ends(ends_on)
    last = min(x for x in (ended_at, end) if x is not None) if (ended_at or end) else None
    return last is None or now < last + timedelta(days=outcome_days)


def days_left(ends_on: date | None, today: date) -> int | None:
    """Days from today to the last day (0: today is the last day; negative: it has passed)."""
    return None if ends_on is None else (ends_on - today).days


def check_end(ends_on: date, today: date, max_days: int) -> None:
    """A period's (new) last day lies ahead, within the policy's longest period."""
    if ends_on <= today:
        raise BadRequest("A planned end (ends_on) is a day after today", reason="case.mentoring_end")
    if ends_on > today + timedelta(days=max_days):
        raise BadRequest(f"A mentoring period ends at most {max_days} days ahead (rule mentoring)",
                         reason="mentoring.too_long", params={"max_days": max_days})


def check_period(starts_on: date, ends_on: date, today: date, max_days: int) -> None:
    """A new period: it may have begun already (a mentoring recorded after it started), but
    no longer ago than the longest period; its end lies ahead."""
    if starts_on > today or starts_on < today - timedelta(days=max_days):
        raise BadRequest(f"A mentoring period starts today or in the last {max_days} days",
                         reason="mentoring.start", params={"max_days": max_days})
    check_end(ends_on, today, max_days)


def check_activity(kind: str, done_on: date, minutes: int, note: str, *, starts_on: date, today: date) -> None:
    if kind not in ACTIVITY_KINDS:
        raise BadRequest(f"An activity is one of {', '.join(ACTIVITY_KINDS)}", reason="mentoring.kind")
    if done_on > today:
        raise BadRequest("An activity is recorded after it happened", reason="mentoring.activity_in_future")
    if done_on < starts_on:
        raise BadRequest("An activity lies within the mentoring period", reason="mentoring.before_period")
    if not 1 <= minutes <= MAX_MINUTES:
        raise BadRequest("An activity takes between a quarter of an hour and 24 hours", reason="mentoring.hours")
    if len(note) > MAX_NOTE:
        raise BadRequest(f"A note has at most {MAX_NOTE} characters", reason="mentoring.note_too_long")


def check_outcome(outcome: str, reason: str) -> None:
    if outcome not in OUTCOMES:
        raise BadRequest(f"An outcome is one of {', '.join(OUTCOMES)}", reason="mentoring.outcome")
    if outcome == "ended_early" and not reason.strip():
        raise BadRequest("A mentoring that ended early needs the reason why", reason="mentoring.why")


def starts_on_of(row: Any) -> date:
    """An assignment's first day (assignments from before periods: the day it was made)."""
    first: date = row.starts_on if row.starts_on is not None else row.created_at.date()
    return first


def request(actor: Actor, action: str, *, period: bool, outcome: bool = False, now: datetime) -> PolicyRequest:
    party = MENTOR if actor.role is Role.MENTOR else "mentee"
    return PolicyRequest(
        action=action, now=now,
        actor=ActorFacts(user_id=actor.user_id, role=actor.role.value, office_id=actor.office_id),
        mentoring=MentoringFacts(party=party, period_open=period, outcome_open=outcome))


Evaluate = Callable[[PolicyRequest], Decision]


def conversation_decision(evaluate: Evaluate, actor: Actor, row: Any, action: str, now: datetime) -> Decision | None:
    """The ``mentoring`` rule's decision on ``action`` in a conversation; None for a
    conversation that is not a mentoring one. ``row.access_ends_at`` is an aware datetime."""
    if row.kind != CONVERSATION_KIND:
        return None
    ends: datetime | None = row.access_ends_at
    return evaluate(request(actor, action, period=ends is None or now < ends, now=now))


def refuse_after_period(evaluate: Evaluate, actor: Actor, row: Any, action: str, now: datetime) -> None:
    """Refuse ``action`` in a mentoring conversation whose period has ended (rule mentoring)."""
    decision = conversation_decision(evaluate, actor, row, action, now)
    if decision is not None and not decision.allowed:
        raise refusal(decision)


@dataclass(frozen=True)
class Activity:
    id: str
    kind: str
    done_on: date
    minutes: int
    note: str
    created_at: datetime


@dataclass(frozen=True)
class Outcome:
    party: str
    outcome: str
    reason: str
    recorded_by: str
    created_at: datetime


@dataclass(frozen=True)
class Period:
    """One mentor assignment as a period, with what its reader may see of it."""

    assignment_id: str
    mentor_id: str
    mentor_name: str
    client_id: str
    client_name: str
    starts_on: date
    ends_on: date | None
    ended_at: datetime | None
    days_left: int | None
    running: bool  # the period has not reached its end and nobody ended it
    outcome_open: bool  # the mentor may still record the outcome
    activities: tuple[Activity, ...]
    outcomes: tuple[Outcome, ...]

    @property
    def hours(self) -> float:
        return sum(a.minutes for a in self.activities) / 60
