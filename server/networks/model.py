"""The state of a case's network (pure): its processes, members, meetings, views, plans and
tasks, as msgspec structs the service stores as one encrypted document. The rules that change
it are ``machine.py``'s table."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

import msgspec

from server.scheduling.model import WindowSettings, join_window


class Stage(StrEnum):
    NOTICE_AND_INFORM = "notice_and_inform"
    SHARE_AND_EVALUATE = "share_and_evaluate"
    MAKE_A_PLAN = "make_a_plan"
    COORDINATED_CASE_MANAGEMENT = "coordinated_case_management"
    CLOSED = "closed"


#: The common assessment's questions (TUKO stage 2), asked of every member and answered
#: together by the case leader.
QUESTIONS = (
    "under_threat",        # who is under threat?
    "harm_likelihood",     # how likely is harm to someone's health or life?
    "threat_nature",       # what is the threat about, and when is it more likely?
    "risk_factors",        # what raises or lowers the risk?
    "needs_motivation",    # the client's needs and motivation
    "protective_factors",  # the known protective factors
)



class Member(msgspec.Struct, kw_only=True):
    user_id: str
    kind: Literal["partner", "client"]
    agency: str
    ends_on: date  # the last day of access (UTC)
    invited_at: datetime
    invited_by: str
    #: Why joining is safe, recorded by the case leader when the case carries a
    #: victim-protection flag and the member is the client.
    safety_reason: str | None = None
    ended_at: datetime | None = None  # the process closed

    def active(self, now: datetime) -> bool:
        return self.ended_at is None and now.date() <= self.ends_on


class Concern(msgspec.Struct, kw_only=True):
    at: datetime
    by: str
    noticed: str  # what was noticed
    noticed_by: str  # by whom (a person or an agency, in words)


class Meeting(msgspec.Struct, kw_only=True):
    id: str
    starts_at: datetime
    mode: Literal["video", "in_person"]
    place: str | None
    scheduled_by: str
    scheduled_at: datetime
    minutes: int = 60  # how long it is planned to last (for calendars)

    def join_window(self, windows: WindowSettings) -> tuple[datetime, datetime]:
        """When the meeting's live session may be joined: the check-ins' window around its start
        and planned end. The one rule ``joining.py`` enforces and the API shows (``join_opens_at``,
        ``join_closes_at``), so the web client offers the join exactly when it would be accepted."""
        return join_window(self.starts_at, self.starts_at + timedelta(minutes=self.minutes), windows)


class View(msgspec.Struct, kw_only=True):
    by: str
    at: datetime
    answers: dict[str, str]


class Assessment(msgspec.Struct, kw_only=True):
    by: str
    at: datetime
    answers: dict[str, str]
    decision: Literal["plan", "close"]


class TaskNote(msgspec.Struct, kw_only=True):
    at: datetime
    by: str
    state: Literal["done", "blocked"]
    note: str


class Task(msgspec.Struct, kw_only=True):
    id: str
    text: str
    owner_id: str
    due_on: date
    state: Literal["open", "done", "blocked"] = "open"
    notes: list[TaskNote] = msgspec.field(default_factory=list)


class Plan(msgspec.Struct, kw_only=True):
    """A written risk-reduction plan; ``version`` 0 is the draft, sent ones count from 1."""

    version: int
    written_by: str
    written_at: datetime
    tasks: list[Task]
    next_meeting_at: datetime
    keep_in_touch: str
    #: A plan for a crisis: its tasks are due in days, not weeks (TUKO stage 3).
    crisis: bool = False
    sent_at: datetime | None = None
    acknowledged: dict[str, datetime] = msgspec.field(default_factory=dict)


class Process(msgspec.Struct, kw_only=True):
    number: int
    stage: Stage
    opened_at: datetime
    opened_by: str
    concerns: list[Concern] = msgspec.field(default_factory=list)
    members: list[Member] = msgspec.field(default_factory=list)
    meetings: list[Meeting] = msgspec.field(default_factory=list)
    views: list[View] = msgspec.field(default_factory=list)
    assessment: Assessment | None = None
    draft: Plan | None = None
    plans: list[Plan] = msgspec.field(default_factory=list)  # sent versions, oldest first; never changed
    closed_at: datetime | None = None
    closed_by: str | None = None
    conclusion: str | None = None
    stage_since: datetime | None = None

    def member(self, user_id: str) -> Member | None:
        return next((m for m in self.members if m.user_id == user_id), None)

    @property
    def plan(self) -> Plan | None:
        return self.plans[-1] if self.plans else None


class NetworkState(msgspec.Struct, kw_only=True):
    case_id: str
    processes: list[Process] = msgspec.field(default_factory=list)
