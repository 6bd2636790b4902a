"""Request and response bodies of the case network routes (issue 16, TUKO; pure). Strict:
unknown fields are refused, every string and list has a size limit. The texts' own limits
(and what an empty answer means) are the network's (``server/networks/machine.py``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from server.web.strict import Strict

Id = Annotated[str, Meta(min_length=1, max_length=64)]
Short = Annotated[str, Meta(min_length=1, max_length=200)]
Text = Annotated[str, Meta(min_length=1, max_length=8_000)]
Answer = Annotated[str, Meta(max_length=8_000)]
QuestionKey = Annotated[str, Meta(min_length=1, max_length=40)]
Answers = Annotated[dict[QuestionKey, Answer], Meta(min_length=1, max_length=6)]


class RaiseConcern(Strict, kw_only=True):
    noticed: Text  # what was noticed
    noticed_by: Short  # by whom (a person or an agency, in words)


class InviteMember(Strict, kw_only=True):
    user_id: Id  # a partner-agency user, or the case's client
    agency: Short
    ends_on: date  # the member's last day of access (UTC)
    safety_reason: Annotated[str, Meta(max_length=2_000)] = ""  # the client on a victim-protection case


class ScheduleMeeting(Strict, kw_only=True):
    starts_at: datetime
    mode: Literal["video", "in_person"]
    place: Annotated[str, Meta(max_length=200)] = ""
    minutes: Annotated[int, Meta(ge=15, le=480)] = 60


class RecordView(Strict, kw_only=True):
    answers: Answers


class RecordAssessment(Strict, kw_only=True):
    answers: Answers
    decision: Literal["plan", "close"]


class TaskIn(Strict, kw_only=True):
    text: Text
    owner_id: Id
    due_on: date


class WritePlan(Strict, kw_only=True):
    tasks: Annotated[list[TaskIn], Meta(min_length=1, max_length=40)]
    next_meeting_at: datetime
    keep_in_touch: Text
    crisis: bool = False  # a crisis plan: its tasks are due within days, not weeks


class Acknowledge(Strict, kw_only=True):
    version: Annotated[int, Meta(ge=1, le=10_000)]


class PlanQuery(Strict, kw_only=True):
    version: Annotated[int, Meta(ge=1, le=10_000)] | None = None  # the latest sent version when absent


class MarkTask(Strict, kw_only=True):
    task_id: Annotated[str, Meta(min_length=1, max_length=16)]
    state: Literal["done", "blocked"]
    note: Annotated[str, Meta(min_length=1, max_length=2_000)]


class Close(Strict, kw_only=True):
    conclusion: Text


class NetworkOut(Struct, kw_only=True):
    network_id: str
    case_id: str
    stage: str | None
    #: Every process for the case leader; the current one, shared parts only, for a member.
    processes: list[dict[str, Any]]
    overdue: list[dict[str, Any]]  # the case leader's overdue tasks of the current plan


class MyNetwork(Struct, kw_only=True):
    network_id: str
    case_id: str
    stage: str
    agency: str
    ends_on: date


class MyNetworks(Struct, kw_only=True):
    networks: list[MyNetwork]


class FollowUp(Struct, kw_only=True):
    tasks: list[dict[str, Any]]
