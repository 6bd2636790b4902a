"""The case network of one case (pure): the four TUKO stages as a transition table.

TUKO, the Estonian framework for safe cooperation (../shared/domain/002_…): around one
high-risk case (domestic or sexual violence) the supervising officer, as case leader,
gathers a network of partner agencies (and the client, whenever possible and safe) and
leads it through four stages. One process, as a table (``TRANSITIONS``)::

    (none)/closed --raise_concern--> notice_and_inform        (a new process; earlier ones stay)
    notice_and_inform --schedule_meeting--> share_and_evaluate
    share_and_evaluate --assess_plan--> make_a_plan
    share_and_evaluate --assess_close--> closed               (closed until someone raises a need again)
    make_a_plan --send_plan--> coordinated_case_management    (plan version 1)
    coordinated_case_management --close--> closed             (a written conclusion)
    any open stage --close--> closed                          (the case leader ends the process early)

and events that keep the stage (raise_concern, invite_member, schedule_meeting, record_view,
write_plan, acknowledge_plan, task_done, task_blocked, revise_plan) where the table lists them.

Rules, each refusal naming its rule (``rule_id``):

- ``network_stage``: an event the table does not allow in the process's stage (409).
- ``network_member_only``: only the case leader and the process's members take part; the
  network of a case has nothing to say to anyone else.
- ``network_access_ended``: a member's access ends at the end of their last day
  (``ends_on``, UTC) or when the process closes, whichever comes first.
- ``network_case_leader_only``: inviting, meetings, the common assessment, the plan and
  closing are the case leader's (the supervising officer, or a senior of the office).
- ``task_owner_only``: a task is marked done or blocked by the one member who owns it.
- ``victim_protection``: on a case with a victim-protection flag the client joins the
  network only when the case leader records why it is safe.

Limits are constructor arguments (STYLE.md 3). The network never does I/O and never reads
a clock: callers pass ``now`` and carry out the effects it returns. Its whole state is a
msgspec struct, so the service stores it as one document (encrypted) and loads it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from server.errors import BadRequest, IllegalTransition, LimitExceeded, NotFound, PolicyRefused
from server.networks.model import (
    QUESTIONS,
    Assessment,
    Concern,
    Meeting,
    Member,
    NetworkState,
    Plan,
    Process,
    Stage,
    Task,
    TaskNote,
    View,
)

OPEN_STAGES = (Stage.NOTICE_AND_INFORM, Stage.SHARE_AND_EVALUATE, Stage.MAKE_A_PLAN,
               Stage.COORDINATED_CASE_MANAGEMENT)


class Who(StrEnum):
    """Who may take a step: the case leader, a member or the leader, a member who is not the
    leader, or the owner of the task."""

    LEADER = "case_leader"
    MEMBER = "member"
    MEMBER_NOT_LEADER = "member_not_leader"
    OWNER = "task_owner"


_S = Stage
#: (stage before, event) -> (stage after, who may). ``None``: the case has had no process yet.
TRANSITIONS: dict[tuple[Stage | None, str], tuple[Stage, Who]] = {
    (None, "raise_concern"): (_S.NOTICE_AND_INFORM, Who.MEMBER),
    (_S.CLOSED, "raise_concern"): (_S.NOTICE_AND_INFORM, Who.MEMBER),
    **{(s, "raise_concern"): (s, Who.MEMBER) for s in OPEN_STAGES},
    **{(s, "invite_member"): (s, Who.LEADER) for s in OPEN_STAGES},
    (_S.NOTICE_AND_INFORM, "schedule_meeting"): (_S.SHARE_AND_EVALUATE, Who.LEADER),
    (_S.SHARE_AND_EVALUATE, "schedule_meeting"): (_S.SHARE_AND_EVALUATE, Who.LEADER),
    (_S.MAKE_A_PLAN, "schedule_meeting"): (_S.MAKE_A_PLAN, Who.LEADER),
    (_S.COORDINATED_CASE_MANAGEMENT, "schedule_meeting"): (_S.COORDINATED_CASE_MANAGEMENT, Who.LEADER),
    (_S.SHARE_AND_EVALUATE, "record_view"): (_S.SHARE_AND_EVALUATE, Who.MEMBER),
    (_S.COORDINATED_CASE_MANAGEMENT, "record_view"): (_S.COORDINATED_CASE_MANAGEMENT, Who.MEMBER),
    (_S.SHARE_AND_EVALUATE, "assess_plan"): (_S.MAKE_A_PLAN, Who.LEADER),
    (_S.SHARE_AND_EVALUATE, "assess_close"): (_S.CLOSED, Who.LEADER),
    (_S.MAKE_A_PLAN, "write_plan"): (_S.MAKE_A_PLAN, Who.LEADER),
    (_S.MAKE_A_PLAN, "send_plan"): (_S.COORDINATED_CASE_MANAGEMENT, Who.LEADER),
    (_S.COORDINATED_CASE_MANAGEMENT, "acknowledge_plan"): (_S.COORDINATED_CASE_MANAGEMENT, Who.MEMBER_NOT_LEADER),
    (_S.COORDINATED_CASE_MANAGEMENT, "task_done"): (_S.COORDINATED_CASE_MANAGEMENT, Who.OWNER),
    (_S.COORDINATED_CASE_MANAGEMENT, "task_blocked"): (_S.COORDINATED_CASE_MANAGEMENT, Who.OWNER),
    (_S.COORDINATED_CASE_MANAGEMENT, "revise_plan"): (_S.COORDINATED_CASE_MANAGEMENT, Who.LEADER),
    **{(s, "close"): (_S.CLOSED, Who.LEADER) for s in OPEN_STAGES},
}
EVENTS = tuple(dict.fromkeys(event for _, event in TRANSITIONS))

def step(stage: Stage | None, event: str) -> tuple[Stage, Who]:
    try:
        return TRANSITIONS[(stage, event)]
    except KeyError:
        where = stage.value.replace("_", " ") if stage else "a case with no network process"
        raise IllegalTransition(f"A network in {where} cannot {event.replace('_', ' ')} (rule network_stage)",
                                rule_id="network_stage") from None


def refused(rule_id: str, sentence: str, *, reason: str) -> PolicyRefused:
    """A refusal naming its rule, with its code (``reason``, words in the client's catalogs)."""
    said = f"{sentence} (rule {rule_id})"
    return PolicyRefused(said, rule_id=rule_id, reasons=(said,), reason=reason)


# -- what a step asks for and what it returns ------------------------------------------


@dataclass(frozen=True)
class NetworkActor:
    user_id: str
    #: The case leader: the case's supervising officer or a senior officer of its office.
    leader: bool


@dataclass(frozen=True)
class TaskDraft:
    text: str
    owner_id: str
    due_on: date


@dataclass(frozen=True)
class Notify:
    """Tell these users something happened in the network (push without content)."""

    user_ids: tuple[str, ...]
    what: str


@dataclass(frozen=True)
class MemberJoined:
    user_id: str
    kind: str
    agency: str
    ends_on: date


@dataclass(frozen=True)
class AccessEnded:
    """The process closed: these members' access ends now."""

    user_ids: tuple[str, ...]


@dataclass(frozen=True)
class MeetingScheduled:
    """A network meeting to remind its members of."""

    meeting_id: str
    starts_at: datetime


Effect = Notify | MemberJoined | AccessEnded | MeetingScheduled


@dataclass(frozen=True)
class Overdue:
    process: int
    plan_version: int
    task: Task


class Network:
    """One case's network: its processes, the current one last. ``state`` is what is stored."""

    def __init__(self, state: NetworkState, *, max_text: int = 8000, max_tasks: int = 40,
                 max_members: int = 40, max_access_days: int = 365, max_meeting_days: int = 180,
                 max_crisis_days: int = 14) -> None:
        if min(max_text, max_tasks, max_members, max_access_days, max_meeting_days, max_crisis_days) < 1:
            raise ValueError("network limits are positive")
        self.state = state
        self.max_text = max_text
        self.max_tasks = max_tasks
        self.max_members = max_members
        self.max_access_days = max_access_days
        self.max_meeting_days = max_meeting_days
        self.max_crisis_days = max_crisis_days

    @classmethod
    def new(cls, case_id: str, **limits: int) -> Network:
        return cls(NetworkState(case_id=case_id), **limits)

    # -- queries ------------------------------------------------------------------------

    @property
    def current(self) -> Process | None:
        return self.state.processes[-1] if self.state.processes else None

    @property
    def stage(self) -> Stage | None:
        current = self.current
        return current.stage if current else None

    def active_members(self, now: datetime) -> list[Member]:
        current = self.current
        return [m for m in current.members if m.active(now)] if current else []

    def access(self, actor: NetworkActor, now: datetime) -> None:
        """May ``actor`` see the network at all? The case leader always; a member of the current
        process while their access lasts; nobody else."""
        if actor.leader:
            return
        current = self.current
        member = current.member(actor.user_id) if current else None
        if member is None:
            raise refused("network_member_only", "Only the case leader and the network's members see it",
                reason="network_member_only.not_member")
        if not member.active(now):
            raise refused("network_access_ended", "Your access to this network has ended",
                reason="network_access_ended.ended")

    def visible_processes(self, actor: NetworkActor, now: datetime) -> list[Process]:
        """The leader sees every process of the case; a member only the one they belong to."""
        self.access(actor, now)
        if actor.leader:
            return list(self.state.processes)
        assert self.current is not None  # access() found the actor a member of it
        return [self.current]

    def overdue(self, now: datetime) -> list[Overdue]:
        """Tasks of the current plan not done by their due date (due yesterday or earlier)."""
        current = self.current
        if current is None or current.stage is not Stage.COORDINATED_CASE_MANAGEMENT or current.plan is None:
            return []
        today = now.date()
        return [Overdue(current.number, current.plan.version, t) for t in current.plan.tasks
                if t.state != "done" and t.due_on < today]

    # -- helpers ------------------------------------------------------------------------

    def _text(self, name: str, value: str) -> str:
        value = value.strip()
        if not value:
            raise BadRequest(f"{name} cannot be empty")
        if len(value) > self.max_text:
            raise LimitExceeded(f"{name} is longer than {self.max_text} characters")
        return value

    def _answers(self, answers: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(answers) - set(QUESTIONS))
        if unknown:
            raise BadRequest(f"Unknown assessment question {unknown[0]!r}; the questions are {', '.join(QUESTIONS)}")
        kept = {q: self._text(q, answers[q]) for q in QUESTIONS if answers.get(q, "").strip()}
        if not kept:
            raise BadRequest("Answer at least one of the assessment's questions")
        return kept

    def _authorise(self, actor: NetworkActor, event: str, now: datetime, *, owner: str | None = None) -> Stage:
        """The stage after ``event``, once the table and the actor's part allow it."""
        after, who = step(self.stage, event)
        current = self.current
        not_owner = who is Who.OWNER and owner is not None and owner != actor.user_id
        if actor.leader:
            if who is Who.MEMBER_NOT_LEADER:
                raise refused("network_member_only", "Members acknowledge the plan the case leader sent",
                    reason="network_member_only.acknowledge")
            if not_owner:
                raise refused("task_owner_only", "Only the member who owns a task marks it",
                    reason="task_owner_only.not_owner")
            return after
        # Not the leader: a member of the current process while their access lasts.
        member = None if current is None else current.member(actor.user_id)
        if member is None:
            raise refused("network_member_only", "Only the case leader and the network's members take part",
                reason="network_member_only.take_part")
        if not member.active(now):
            raise refused("network_access_ended", "Your access to this network has ended",
                reason="network_access_ended.ended")
        if who is Who.LEADER:
            raise refused("network_case_leader_only", f"Only the case leader may {event.replace('_', ' ')}",
                reason="network_case_leader_only.leader_step")
        if not_owner:
            raise refused("task_owner_only", "Only the member who owns a task marks it",
                reason="task_owner_only.not_owner")
        return after

    def _move(self, process: Process, stage: Stage, now: datetime) -> None:
        if process.stage is not stage:
            process.stage = stage
            process.stage_since = now

    def _others(self, process: Process, actor: NetworkActor, now: datetime) -> tuple[str, ...]:
        return tuple(m.user_id for m in process.members if m.active(now) and m.user_id != actor.user_id)

    def _plan(self, actor: NetworkActor, now: datetime, process: Process, *, version: int,
              tasks: list[TaskDraft], next_meeting_at: datetime, keep_in_touch: str, crisis: bool) -> Plan:
        if not tasks:
            raise BadRequest("A plan has at least one task")
        if len(tasks) > self.max_tasks:
            raise LimitExceeded(f"A plan has at most {self.max_tasks} tasks")
        if not now < next_meeting_at <= now + timedelta(days=self.max_meeting_days):
            raise BadRequest(f"The next meeting is within the next {self.max_meeting_days} days")
        members = {m.user_id for m in process.members if m.active(now)} | {actor.user_id}
        written: list[Task] = []
        for i, draft in enumerate(tasks, start=1):
            if draft.owner_id not in members:
                raise BadRequest("Each task is owned by a member of the network (or the case leader)")
            if draft.due_on < now.date():
                raise BadRequest("A task's due date is today or later")
            if crisis and draft.due_on > now.date() + timedelta(days=self.max_crisis_days):
                raise BadRequest(f"In a crisis each task is due within {self.max_crisis_days} days")
            written.append(Task(id=f"t{i}", text=self._text("A task", draft.text), owner_id=draft.owner_id,
                                due_on=draft.due_on))
        return Plan(version=version, written_by=actor.user_id, written_at=now, tasks=written,
                    next_meeting_at=next_meeting_at, crisis=crisis,
                    keep_in_touch=self._text("How members keep in touch", keep_in_touch))

    # -- events -------------------------------------------------------------------------

    def raise_concern(self, actor: NetworkActor, now: datetime, *, noticed: str, noticed_by: str) -> list[Effect]:
        after = self._authorise(actor, "raise_concern", now)
        concern = Concern(at=now, by=actor.user_id, noticed=self._text("What was noticed", noticed),
                          noticed_by=self._text("Who noticed it", noticed_by))
        current = self.current
        if current is None or current.stage is Stage.CLOSED:
            current = Process(number=len(self.state.processes) + 1, stage=after, opened_at=now,
                              opened_by=actor.user_id, stage_since=now)
            self.state.processes.append(current)
        current.concerns.append(concern)
        self._move(current, after, now)
        return [Notify(self._others(current, actor, now), "concern")]

    def invite_member(self, actor: NetworkActor, now: datetime, *, user_id: str, kind: Literal["partner", "client"],
                      agency: str, ends_on: date, victim_protection: bool = False,
                      safety_reason: str | None = None) -> list[Effect]:
        """Invite a partner-agency user, or the case's client, until ``ends_on`` (their last day).
        Inviting someone already a member changes their agency and end date."""
        self._authorise(actor, "invite_member", now)
        current = self.current
        assert current is not None
        if kind == "client" and victim_protection and not (safety_reason or "").strip():
            raise refused("victim_protection", "This case carries a victim-protection flag: the client joins the "
                                               "network only when the case leader records why it is safe",
                                                   reason="victim_protection.no_safety_reason")
        if not now.date() <= ends_on <= now.date() + timedelta(days=self.max_access_days):
            raise BadRequest(f"Access ends today or within the next {self.max_access_days} days")
        reason = self._text("Why it is safe", safety_reason) if safety_reason and safety_reason.strip() else None
        member = current.member(user_id)
        if member is None:
            if len(current.members) >= self.max_members:
                raise LimitExceeded(f"A network has at most {self.max_members} members")
            member = Member(user_id=user_id, kind=kind, agency=self._text("The agency", agency), ends_on=ends_on,
                            invited_at=now, invited_by=actor.user_id, safety_reason=reason)
            current.members.append(member)
        else:
            member.agency, member.ends_on = self._text("The agency", agency), ends_on
            member.safety_reason = reason or member.safety_reason
        return [MemberJoined(user_id, kind, member.agency, ends_on), Notify((user_id,), "invited")]

    def schedule_meeting(self, actor: NetworkActor, now: datetime, *, meeting_id: str, starts_at: datetime,
                         mode: Literal["video", "in_person"], place: str | None = None,
                         minutes: int = 60) -> list[Effect]:
        after = self._authorise(actor, "schedule_meeting", now)
        if not 15 <= minutes <= 480:
            raise BadRequest("A meeting lasts from 15 minutes to 8 hours")
        current = self.current
        assert current is not None
        if not now < starts_at <= now + timedelta(days=self.max_meeting_days):
            raise BadRequest(f"A meeting is scheduled within the next {self.max_meeting_days} days")
        if mode == "in_person" and not (place or "").strip():
            raise BadRequest("An in-person meeting needs a place")
        current.meetings.append(Meeting(id=meeting_id, starts_at=starts_at, mode=mode,
                                        place=self._text("The place", place) if place else None,
                                        scheduled_by=actor.user_id, scheduled_at=now, minutes=minutes))
        self._move(current, after, now)
        return [Notify(self._others(current, actor, now), "meeting"), MeetingScheduled(meeting_id, starts_at)]

    def record_view(self, actor: NetworkActor, now: datetime, *, answers: dict[str, str]) -> list[Effect]:
        """A member's view on the common assessment's questions; a later one replaces theirs."""
        self._authorise(actor, "record_view", now)
        current = self.current
        assert current is not None
        view = View(by=actor.user_id, at=now, answers=self._answers(answers))
        current.views = [v for v in current.views if v.by != actor.user_id] + [view]
        return []

    def record_assessment(self, actor: NetworkActor, now: datetime, *, answers: dict[str, str],
                          decision: Literal["plan", "close"]) -> list[Effect]:
        """The common assessment and the decision: on to a plan, or closed until raised again."""
        if decision not in ("plan", "close"):
            raise BadRequest("The decision is plan or close")
        after = self._authorise(actor, f"assess_{decision}", now)
        current = self.current
        assert current is not None
        current.assessment = Assessment(by=actor.user_id, at=now, answers=self._answers(answers), decision=decision)
        if decision == "close":
            return self._close(actor, now, current, "Closed at the common assessment: no coordinated action is "
                                                    "needed until someone raises a need again")
        self._move(current, after, now)
        return [Notify(self._others(current, actor, now), "assessment")]

    def write_plan(self, actor: NetworkActor, now: datetime, *, tasks: list[TaskDraft], next_meeting_at: datetime,
                   keep_in_touch: str, crisis: bool = False) -> list[Effect]:
        """Write (or rewrite) the draft of the first plan; nobody but the leader sees a draft."""
        self._authorise(actor, "write_plan", now)
        current = self.current
        assert current is not None
        current.draft = self._plan(actor, now, current, version=0, tasks=tasks, next_meeting_at=next_meeting_at,
                                   keep_in_touch=keep_in_touch, crisis=crisis)
        return []

    def send_plan(self, actor: NetworkActor, now: datetime) -> list[Effect]:
        after = self._authorise(actor, "send_plan", now)
        current = self.current
        assert current is not None
        if current.draft is None:
            raise IllegalTransition("Write the plan before sending it (rule network_stage)", rule_id="network_stage")
        plan, current.draft = current.draft, None
        plan.version, plan.sent_at = len(current.plans) + 1, now
        current.plans.append(plan)
        self._move(current, after, now)
        return [Notify(self._others(current, actor, now), "plan")]

    def revise_plan(self, actor: NetworkActor, now: datetime, *, tasks: list[TaskDraft], next_meeting_at: datetime,
                    keep_in_touch: str, crisis: bool = False) -> list[Effect]:
        """A new version of the plan, sent at once; the earlier versions stay as they were."""
        self._authorise(actor, "revise_plan", now)
        current = self.current
        assert current is not None
        plan = self._plan(actor, now, current, version=len(current.plans) + 1, tasks=tasks,
                          next_meeting_at=next_meeting_at, keep_in_touch=keep_in_touch, crisis=crisis)
        plan.sent_at = now
        current.plans.append(plan)
        return [Notify(self._others(current, actor, now), "plan")]

    def acknowledge_plan(self, actor: NetworkActor, now: datetime, *, version: int) -> list[Effect]:
        """A member acknowledges the current version (again: nothing changes)."""
        self._authorise(actor, "acknowledge_plan", now)
        current = self.current
        assert current is not None
        assert current.plan is not None
        if version != current.plan.version:
            raise IllegalTransition(f"Version {current.plan.version} is the current plan (rule network_stage)",
                                    rule_id="network_stage")
        current.plan.acknowledged.setdefault(actor.user_id, now)
        return []

    def mark_task(self, actor: NetworkActor, now: datetime, *, task_id: str, state: Literal["done", "blocked"],
                  note: str) -> list[Effect]:
        if state not in ("done", "blocked"):
            raise BadRequest("A task is marked done or blocked")
        current = self.current
        plan = current.plan if current is not None else None
        task = next((t for t in plan.tasks if t.id == task_id), None) if plan is not None else None
        self._authorise(actor, f"task_{state}", now, owner=task.owner_id if task else None)
        if task is None or current is None:
            raise NotFound("No such task in the current plan")
        if task.state == "done":
            raise IllegalTransition("This task is already done (rule network_stage)", rule_id="network_stage")
        task.notes.append(TaskNote(at=now, by=actor.user_id, state=state, note=self._text("The note", note)))
        task.state = state
        return [Notify(self._others(current, actor, now), f"task_{state}")]

    def close(self, actor: NetworkActor, now: datetime, *, conclusion: str) -> list[Effect]:
        """The case leader closes the process with a written conclusion; members' access ends."""
        self._authorise(actor, "close", now)
        current = self.current
        assert current is not None
        return self._close(actor, now, current, self._text("The conclusion", conclusion))

    def _close(self, actor: NetworkActor, now: datetime, process: Process, conclusion: str) -> list[Effect]:
        told = self._others(process, actor, now)
        ended = tuple(m.user_id for m in process.members if m.ended_at is None)
        for m in process.members:
            if m.ended_at is None:
                m.ended_at = now
        process.closed_at, process.closed_by, process.conclusion = now, actor.user_id, conclusion
        process.draft = None
        self._move(process, Stage.CLOSED, now)
        return [Notify(told, "closed"), AccessEnded(ended)]
