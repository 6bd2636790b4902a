"""The network process as a table: every transition, every refusal, with a fake clock."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import msgspec
import pytest

from server.clock import FakeClock
from server.errors import BadRequest, IllegalTransition, LimitExceeded, NotFound, PolicyRefused
from server.networks.machine import (
    EVENTS,
    TRANSITIONS,
    AccessEnded,
    Effect,
    MeetingScheduled,
    MemberJoined,
    Network,
    NetworkActor,
    Notify,
    TaskDraft,
    Who,
    step,
)
from server.networks.model import QUESTIONS, NetworkState, Stage

LEADER = NetworkActor("officer", leader=True)
POLICE = NetworkActor("police", leader=False)
SOCIAL = NetworkActor("social", leader=False)
OUTSIDER = NetworkActor("stranger", leader=False)
ANSWERS = {"under_threat": "The partner and two children", "harm_likelihood": "High after drinking"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def days(n: int, clock: FakeClock) -> date:
    return clock.now().date() + timedelta(days=n)


def plan_args(clock: FakeClock, owner: str = "police") -> dict[str, Any]:
    return {"tasks": [TaskDraft("Check the restraining order is respected", owner, days(3, clock)),
                      TaskDraft("Offer an anger-management group", "social", days(14, clock))],
            "next_meeting_at": clock.now() + timedelta(days=14), "keep_in_touch": "A weekly call on Mondays"}


def network_in(stage: Stage | None, clock: FakeClock) -> Network:
    """A network brought to ``stage`` through the events themselves."""
    net = Network.new("case-1")
    if stage is None:
        return net
    net.raise_concern(LEADER, clock.now(), noticed="Threats by phone to the ex-partner", noticed_by="Victim support")
    for who, agency in ((POLICE, "Police"), (SOCIAL, "Municipal social work")):
        net.invite_member(LEADER, clock.now(), user_id=who.user_id, kind="partner", agency=agency,
                          ends_on=days(90, clock))
    if stage is Stage.NOTICE_AND_INFORM:
        return net
    net.schedule_meeting(LEADER, clock.now(), meeting_id="m1", starts_at=clock.now() + timedelta(days=2),
                         mode="video")
    if stage is Stage.SHARE_AND_EVALUATE:
        return net
    if stage is Stage.CLOSED:
        net.record_assessment(LEADER, clock.now(), answers=ANSWERS, decision="close")
        return net
    net.record_assessment(LEADER, clock.now(), answers=ANSWERS, decision="plan")
    if stage is Stage.MAKE_A_PLAN:
        return net
    net.write_plan(LEADER, clock.now(), **plan_args(clock))
    net.send_plan(LEADER, clock.now())
    assert stage is Stage.COORDINATED_CASE_MANAGEMENT
    return net


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    return base | override


def stage_of(net: Network) -> Stage | None:
    return net.stage


def do(net: Network, event: str, actor: NetworkActor, clock: FakeClock, **override: Any) -> list[Effect]:
    """``event`` with valid arguments (unless overridden)."""
    now = clock.now()
    if event == "raise_concern":
        return net.raise_concern(actor, now, **merged(
            {"noticed": "Missed two appointments", "noticed_by": "Officer"}, override))
    if event == "invite_member":
        return net.invite_member(actor, now, **merged(
            {"user_id": "health", "kind": "partner", "agency": "Mental health", "ends_on": days(30, clock)}, override))
    if event == "schedule_meeting":
        return net.schedule_meeting(actor, now, **merged({"meeting_id": "m9", "starts_at": now + timedelta(days=1),
                                                    "mode": "in_person", "place": "Probation office"}, override))
    if event == "record_view":
        return net.record_view(actor, now, **merged({"answers": ANSWERS}, override))
    if event.startswith("assess_"):
        return net.record_assessment(actor, now, **merged({"answers": ANSWERS, "decision": event[7:]}, override))
    if event == "write_plan":
        return net.write_plan(actor, now, **(plan_args(clock) | override))
    if event == "send_plan":
        if net.current and net.current.stage is Stage.MAKE_A_PLAN and net.current.draft is None and actor.leader:
            net.write_plan(actor, now, **plan_args(clock))
        return net.send_plan(actor, now)
    if event == "revise_plan":
        return net.revise_plan(actor, now, **(plan_args(clock) | override))
    if event == "acknowledge_plan":
        plan = net.current.plan if net.current else None
        return net.acknowledge_plan(actor, now, **merged({"version": plan.version if plan else 1}, override))
    if event.startswith("task_"):
        return net.mark_task(actor, now, **merged(
            {"task_id": "t1", "state": event[5:], "note": "Done on Tuesday"}, override))
    assert event == "close"
    return net.close(actor, now, **merged(
        {"conclusion": "Risks reduced; the client works and attends the group"}, override))


def allowed_actor(who: Who) -> NetworkActor:
    return {Who.LEADER: LEADER, Who.MEMBER: POLICE, Who.MEMBER_NOT_LEADER: POLICE, Who.OWNER: POLICE}[who]


STAGES: list[Stage | None] = [None, *Stage]


@pytest.mark.parametrize(("stage", "event"), list(TRANSITIONS), ids=lambda v: str(v))
def test_every_transition(stage: Stage | None, event: str, clock: FakeClock) -> None:
    after, who = TRANSITIONS[(stage, event)]
    net = network_in(stage, clock)
    actor = LEADER if stage in (None, Stage.CLOSED) else allowed_actor(who)
    do(net, event, actor, clock)
    assert net.stage is after
    if stage is not after:
        assert net.current is not None and net.current.stage_since == clock.now()


@pytest.mark.parametrize(("stage", "event"), [(s, e) for s, e in itertools.product(STAGES, EVENTS)
                                              if (s, e) not in TRANSITIONS], ids=lambda v: str(v))
def test_every_step_outside_the_table_is_refused_by_network_stage(stage: Stage | None, event: str,
                                                                   clock: FakeClock) -> None:
    net = network_in(stage, clock)
    before = msgspec.json.encode(net.state)
    with pytest.raises(IllegalTransition) as refused:
        do(net, event, LEADER, clock)
    assert refused.value.rule_id == "network_stage" and "(rule network_stage)" in refused.value.message
    assert msgspec.json.encode(net.state) == before  # a refusal changes nothing


def _people_refused(who: Who) -> list[tuple[NetworkActor, str]]:
    if who is Who.LEADER:
        return [(POLICE, "network_case_leader_only"), (OUTSIDER, "network_member_only")]
    if who is Who.MEMBER_NOT_LEADER:
        return [(LEADER, "network_member_only"), (OUTSIDER, "network_member_only")]
    if who is Who.OWNER:
        return [(SOCIAL, "task_owner_only"), (LEADER, "task_owner_only"), (OUTSIDER, "network_member_only")]
    return [(OUTSIDER, "network_member_only")]


@pytest.mark.parametrize(("stage", "event", "actor", "rule"), [
    (s, e, actor, rule) for (s, e), (_, who) in TRANSITIONS.items() for actor, rule in _people_refused(who)
], ids=lambda v: v.user_id if isinstance(v, NetworkActor) else str(v))
def test_every_step_refuses_those_it_is_not_for(stage: Stage | None, event: str, actor: NetworkActor, rule: str,
                                                 clock: FakeClock) -> None:
    net = network_in(stage, clock)
    before = msgspec.json.encode(net.state)
    with pytest.raises(PolicyRefused) as refused:
        do(net, event, actor, clock)
    assert refused.value.rule_id == rule and refused.value.message.endswith(f"(rule {rule})")
    assert msgspec.json.encode(net.state) == before


@pytest.mark.parametrize("event", [e for (s, e) in TRANSITIONS if s is Stage.COORDINATED_CASE_MANAGEMENT
                                   and TRANSITIONS[(s, e)][1] is not Who.LEADER])
def test_a_member_past_their_end_date_is_refused_every_step(event: str, clock: FakeClock) -> None:
    net = network_in(Stage.COORDINATED_CASE_MANAGEMENT, clock)
    clock.advance(timedelta(days=90))  # the last day: still in
    net.access(POLICE, clock.now())
    clock.advance(timedelta(days=1))
    with pytest.raises(PolicyRefused) as refused:
        do(net, event, POLICE, clock)
    assert refused.value.rule_id == "network_access_ended"
    with pytest.raises(PolicyRefused, match="network_access_ended"):
        net.access(POLICE, clock.now())
    net.access(LEADER, clock.now())  # the leader's access never ends


def test_the_four_stages_to_closure_and_a_new_process_with_history(clock: FakeClock) -> None:
    net = Network.new("case-1")
    effects = do(net, "raise_concern", LEADER, clock)
    assert net.stage is Stage.NOTICE_AND_INFORM and effects == [Notify((), "concern")]
    effects = net.invite_member(LEADER, clock.now(), user_id="police", kind="partner", agency="Police",
                                ends_on=days(60, clock))
    assert effects == [MemberJoined("police", "partner", "Police", days(60, clock)), Notify(("police",), "invited")]
    do(net, "invite_member", LEADER, clock, user_id="social", agency="Social work")
    # A member already in the network raises a concern too.
    assert do(net, "raise_concern", POLICE, clock) == [Notify(("social",), "concern")]
    assert do(net, "schedule_meeting", LEADER, clock) == [Notify(("police", "social"), "meeting"),
                                                          MeetingScheduled("m9", clock.now() + timedelta(days=1))]
    assert stage_of(net) is Stage.SHARE_AND_EVALUATE
    do(net, "record_view", POLICE, clock)
    do(net, "record_view", POLICE, clock, answers={"protective_factors": "Stable job"})  # replaces their view
    do(net, "record_view", SOCIAL, clock)
    assert [(v.by, sorted(v.answers)) for v in net.current.views] == [  # type: ignore[union-attr]
        ("police", ["protective_factors"]), ("social", ["harm_likelihood", "under_threat"])]
    do(net, "assess_plan", LEADER, clock)
    assert stage_of(net) is Stage.MAKE_A_PLAN
    do(net, "write_plan", LEADER, clock)
    assert do(net, "send_plan", LEADER, clock) == [Notify(("police", "social"), "plan")]
    process = net.current
    assert process is not None and process.plan is not None and process.plan.version == 1
    do(net, "acknowledge_plan", POLICE, clock)
    do(net, "acknowledge_plan", POLICE, clock)  # again: nothing changes
    assert list(process.plan.acknowledged) == ["police"]
    assert do(net, "task_done", POLICE, clock) == [Notify(("social",), "task_done")]
    net.mark_task(SOCIAL, clock.now(), task_id="t2", state="blocked", note="No group place until March")
    net.mark_task(SOCIAL, clock.now(), task_id="t2", state="blocked", note="Still waiting")
    assert [(t.state, len(t.notes)) for t in process.plan.tasks] == [("done", 1), ("blocked", 2)]
    with pytest.raises(IllegalTransition, match="already done"):
        net.mark_task(POLICE, clock.now(), task_id="t1", state="blocked", note="?")
    do(net, "revise_plan", LEADER, clock)
    assert [p.version for p in process.plans] == [1, 2]
    assert process.plans[0].tasks[0].state == "done" and process.plan.tasks[0].state == "open"  # v1 unchanged
    with pytest.raises(IllegalTransition, match="Version 2"):
        net.acknowledge_plan(POLICE, clock.now(), version=1)
    effects = do(net, "close", LEADER, clock)
    assert effects == [Notify(("police", "social"), "closed"), AccessEnded(("police", "social"))]
    assert stage_of(net) is Stage.CLOSED and process.conclusion and process.closed_at == clock.now()
    with pytest.raises(PolicyRefused, match="network_access_ended"):
        net.access(POLICE, clock.now())
    with pytest.raises(PolicyRefused, match="network_access_ended"):
        do(net, "raise_concern", POLICE, clock)  # their access ended with the process
    # Raised again: a new process at stage 1, the first kept.
    do(net, "raise_concern", LEADER, clock)
    assert [(p.number, p.stage) for p in net.state.processes] == [(1, Stage.CLOSED), (2, Stage.NOTICE_AND_INFORM)]
    assert net.current is not None and net.current.members == []
    with pytest.raises(PolicyRefused, match="network_member_only"):
        net.access(POLICE, clock.now())
    assert len(net.visible_processes(LEADER, clock.now())) == 2


def test_a_member_sees_only_the_process_they_belong_to(clock: FakeClock) -> None:
    net = network_in(Stage.CLOSED, clock)
    do(net, "raise_concern", LEADER, clock)
    do(net, "invite_member", LEADER, clock, user_id="police", agency="Police")
    assert [p.number for p in net.visible_processes(POLICE, clock.now())] == [2]
    assert [p.number for p in net.visible_processes(LEADER, clock.now())] == [1, 2]
    with pytest.raises(PolicyRefused, match="network_member_only"):
        net.visible_processes(SOCIAL, clock.now())


def test_victim_protection_keeps_the_client_out_unless_the_leader_records_why_it_is_safe(clock: FakeClock) -> None:
    net = network_in(Stage.NOTICE_AND_INFORM, clock)
    args = {"user_id": "client", "kind": "client", "agency": "Client", "victim_protection": True}
    for reason in (None, "  "):
        with pytest.raises(PolicyRefused) as refused:
            do(net, "invite_member", LEADER, clock, **args, safety_reason=reason)
        assert refused.value.rule_id == "victim_protection"
    assert net.current is not None and net.current.member("client") is None
    do(net, "invite_member", LEADER, clock, **args, safety_reason="The victim has moved abroad; no contact")
    member = net.current.member("client")
    assert member is not None and member.kind == "client" and member.safety_reason
    # Without the flag the client joins like anyone else; a partner never needs a reason.
    other = network_in(Stage.NOTICE_AND_INFORM, clock)
    do(other, "invite_member", LEADER, clock, user_id="client", kind="client", agency="Client")
    do(other, "invite_member", LEADER, clock, user_id="ngo", agency="NGO", victim_protection=True)


def test_overdue_tasks_come_from_their_due_dates(clock: FakeClock) -> None:
    net = network_in(Stage.COORDINATED_CASE_MANAGEMENT, clock)
    assert net.overdue(clock.now()) == []
    clock.advance(timedelta(days=3))  # t1 is due today: not overdue yet
    assert net.overdue(clock.now()) == []
    clock.advance(timedelta(days=1))
    assert [o.task.id for o in net.overdue(clock.now())] == ["t1"]
    clock.advance(timedelta(days=11))
    do(net, "task_blocked", SOCIAL, clock, task_id="t2", note="Waiting list")  # blocked is still overdue
    assert [(o.process, o.plan_version, o.task.id) for o in net.overdue(clock.now())] == [(1, 1, "t1"), (1, 1, "t2")]
    net.mark_task(POLICE, clock.now(), task_id="t1", state="done", note="Checked with the court")
    assert [o.task.id for o in net.overdue(clock.now())] == ["t2"]
    do(net, "close", LEADER, clock)
    assert net.overdue(clock.now()) == []
    assert network_in(None, clock).overdue(clock.now()) == []


def test_state_round_trips_as_a_document(clock: FakeClock) -> None:
    net = network_in(Stage.COORDINATED_CASE_MANAGEMENT, clock)
    blob = msgspec.json.encode(net.state)
    again = Network(msgspec.json.decode(blob, type=NetworkState))
    assert again.state == net.state and again.stage is Stage.COORDINATED_CASE_MANAGEMENT
    assert [o.task.id for o in again.overdue(clock.now() + timedelta(days=4))] == ["t1"]


@pytest.mark.parametrize(("event", "override", "error", "match"), [
    ("raise_concern", {"noticed": "  "}, BadRequest, "cannot be empty"),
    ("raise_concern", {"noticed": "x" * 8001}, LimitExceeded, "8000"),
    ("invite_member", {"ends_on": date(2026, 1, 4)}, BadRequest, "Access ends"),
    ("invite_member", {"ends_on": date(2027, 1, 6)}, BadRequest, "365"),
    ("schedule_meeting", {"mode": "in_person", "place": None}, BadRequest, "needs a place"),
    ("schedule_meeting", {"starts_at": FakeClock().now()}, BadRequest, "within the next"),
    ("schedule_meeting", {"minutes": 14}, BadRequest, "from 15 minutes to 8 hours"),
    ("schedule_meeting", {"minutes": 481}, BadRequest, "from 15 minutes to 8 hours"),
])
def test_bad_values_are_refused_with_a_reason(event: str, override: dict[str, Any], error: type[Exception],
                                              match: str, clock: FakeClock) -> None:
    net = network_in(Stage.NOTICE_AND_INFORM, clock)
    with pytest.raises(error, match=match):
        do(net, event, LEADER, clock, **override)


def test_bad_assessments_and_plans(clock: FakeClock) -> None:
    net = network_in(Stage.SHARE_AND_EVALUATE, clock)
    with pytest.raises(BadRequest, match="Unknown assessment question 'mood'"):
        do(net, "record_view", POLICE, clock, answers={"mood": "fine"})
    with pytest.raises(BadRequest, match="at least one"):
        do(net, "record_view", POLICE, clock, answers=dict.fromkeys(QUESTIONS, " "))
    with pytest.raises(BadRequest, match="plan or close"):
        net.record_assessment(LEADER, clock.now(), answers=ANSWERS, decision="maybe")  # type: ignore[arg-type]
    do(net, "assess_plan", LEADER, clock)
    now = clock.now()
    for override, match in (({"tasks": []}, "at least one task"),
                            ({"tasks": [TaskDraft("x", "stranger", days(1, clock))]}, "owned by a member"),
                            ({"tasks": [TaskDraft("x", "police", days(-1, clock))]}, "today or later"),
                            ({"next_meeting_at": now}, "next meeting"),
                            ({"keep_in_touch": ""}, "cannot be empty")):
        with pytest.raises(BadRequest, match=match):
            do(net, "write_plan", LEADER, clock, **override)
    with pytest.raises(LimitExceeded, match="at most 40 tasks"):
        do(net, "write_plan", LEADER, clock, tasks=[TaskDraft("x", "police", days(1, clock))] * 41)
    with pytest.raises(IllegalTransition, match="Write the plan before sending"):
        net.send_plan(LEADER, now)
    # The leader may own a task; marking it is theirs.
    do(net, "write_plan", LEADER, clock, tasks=[TaskDraft("Call the victim's advocate", "officer", days(1, clock))])
    net.send_plan(LEADER, now)
    net.mark_task(LEADER, now, task_id="t1", state="done", note="Called")
    with pytest.raises(NotFound):
        net.mark_task(LEADER, now, task_id="t7", state="done", note="?")
    with pytest.raises(BadRequest, match="done or blocked"):
        net.mark_task(LEADER, now, task_id="t1", state="open", note="?")  # type: ignore[arg-type]


def test_a_crisis_plans_tasks_are_due_within_days(clock: FakeClock) -> None:
    """Days in a crisis (14 by default), weeks otherwise; a new version may change it."""
    net = network_in(Stage.MAKE_A_PLAN, clock)
    with pytest.raises(BadRequest, match="In a crisis each task is due within 14 days"):
        do(net, "write_plan", LEADER, clock, crisis=True, tasks=[TaskDraft("x", "police", days(15, clock))])
    do(net, "write_plan", LEADER, clock, crisis=True, tasks=[TaskDraft("x", "police", days(14, clock))])
    assert net.current is not None and net.current.draft is not None and net.current.draft.crisis
    net.send_plan(LEADER, clock.now())
    do(net, "revise_plan", LEADER, clock, tasks=[TaskDraft("x", "police", days(60, clock))])
    assert [p.crisis for p in net.current.plans] == [True, False]
    assert Network.new("c", max_crisis_days=3).max_crisis_days == 3


def test_limits(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="positive"):
        Network.new("c", max_tasks=0)
    net = Network.new("c", max_members=1)
    do(net, "raise_concern", LEADER, clock)
    do(net, "invite_member", LEADER, clock)
    do(net, "invite_member", LEADER, clock, agency="Psychiatry", ends_on=days(10, clock))  # an update, not a new one
    assert net.current is not None and [(m.agency, m.ends_on) for m in net.current.members] == [
        ("Psychiatry", days(10, clock))]
    with pytest.raises(LimitExceeded, match="at most 1 members"):
        do(net, "invite_member", LEADER, clock, user_id="ngo")


def test_step_names_the_stage_and_the_event() -> None:
    assert step(None, "raise_concern") == (Stage.NOTICE_AND_INFORM, Who.MEMBER)
    with pytest.raises(IllegalTransition, match="no network process cannot send plan"):
        step(None, "send_plan")
    with pytest.raises(IllegalTransition, match="A network in make a plan cannot assess close"):
        step(Stage.MAKE_A_PLAN, "assess_close")
