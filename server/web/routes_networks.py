"""Case networks (issue 16, TUKO): one route per step of a process, the network as its reader
may see it, a partner's list of their networks and the officer's follow-up list.

The roles here are the outer fence; who takes which step is the network's transition table
(``server/networks/machine.py``) and the ``networks`` rule, decided inside the service. A
case outside the caller's scope, whose network they never belonged to, answers 404."""

from __future__ import annotations

from aiohttp import web

from server.identity.model import Role
from server.networks.machine import TaskDraft
from server.web import schemas_networks as n
from server.web.routes_scheduling import ICS, calendar_response
from server.web.routing import Call, Permission, Registry
from server.web.schemas import Created
from server.web.state import SERVICES

LEADERS = frozenset({Role.OFFICER, Role.SENIOR_OFFICER})
MEMBERS = frozenset({Role.PARTNER, Role.CLIENT})
TAKING_PART = LEADERS | MEMBERS

READ = Permission("read a case's network", roles=TAKING_PART, case_scoped=True)
RAISE = Permission("raise a concern in a case's network", roles=TAKING_PART, case_scoped=True)
LEAD = Permission("lead a case's network (invite, meet, assess, plan, close)", roles=LEADERS, case_scoped=True)
VIEW = Permission("record a view on the common assessment", roles=TAKING_PART, case_scoped=True)
ACKNOWLEDGE = Permission("acknowledge a network's plan", roles=MEMBERS, case_scoped=True)
TASK = Permission("mark a network task done or blocked", roles=TAKING_PART, case_scoped=True)
MINE = Permission("list their case networks", roles=MEMBERS)
FOLLOW_UP = Permission("follow up the networks they lead", roles=LEADERS)

BASE = "/api/cases/{case_id}/network"
PDF = ("application/pdf",)


def _drafts(tasks: list[n.TaskIn]) -> list[TaskDraft]:
    return [TaskDraft(text=t.text, owner_id=t.owner_id, due_on=t.due_on) for t in tasks]


def register(api: Registry) -> None:
    @api.route("GET", BASE, permission=READ, tag="networks", response=n.NetworkOut,
               summary="The case's network as the reader may see it (audited)")
    async def read(call: Call[None]) -> n.NetworkOut:
        got = await call.request.app[SERVICES].networks.read(call.actor, call.param("case_id"))
        return n.NetworkOut(**got)

    @api.route("POST", f"{BASE}/concerns", permission=RAISE, tag="networks", body=n.RaiseConcern,
               response=Created, status=201,
               summary="Stage 1: raise a concern (a new process when none is open)",
               example={"noticed": "Threats by phone", "noticed_by": "Victim support"})
    async def concern(call: Call[n.RaiseConcern]) -> Created:
        made = await call.request.app[SERVICES].networks.raise_concern(
            call.actor, call.param("case_id"), noticed=call.body.noticed, noticed_by=call.body.noticed_by)
        return Created(id=made)

    @api.route("POST", f"{BASE}/members", permission=LEAD, tag="networks", body=n.InviteMember,
               summary="Invite a partner-agency user (or the client) until their access end date",
               example={"user_id": "PARTNER", "agency": "Police", "ends_on": "2026-12-31"})
    async def invite(call: Call[n.InviteMember]) -> None:
        b = call.body
        await call.request.app[SERVICES].networks.invite_member(
            call.actor, call.param("case_id"), user_id=b.user_id, agency=b.agency, ends_on=b.ends_on,
            safety_reason=b.safety_reason or None)

    @api.route("POST", f"{BASE}/meetings", permission=LEAD, tag="networks", body=n.ScheduleMeeting,
               response=Created, status=201, summary="Schedule a network meeting (video, or in person at a place)",
               example={"starts_at": "2026-12-01T10:00:00Z", "mode": "in_person", "place": "Office, room 2"})
    async def meeting(call: Call[n.ScheduleMeeting]) -> Created:
        b = call.body
        made = await call.request.app[SERVICES].networks.schedule_meeting(
            call.actor, call.param("case_id"), starts_at=b.starts_at, mode=b.mode, place=b.place or None,
            minutes=b.minutes)
        return Created(id=made)

    @api.route("POST", f"{BASE}/views", permission=VIEW, tag="networks", body=n.RecordView,
               summary="A member's view on the common assessment's questions (replaces their earlier one)",
               example={"answers": {"under_threat": "The former partner"}})
    async def view(call: Call[n.RecordView]) -> None:
        await call.request.app[SERVICES].networks.record_view(call.actor, call.param("case_id"),
                                                              answers=dict(call.body.answers))

    @api.route("POST", f"{BASE}/assessment", permission=LEAD, tag="networks", body=n.RecordAssessment,
               summary="The common assessment and the decision: make a plan, or close until raised again",
               example={"answers": {"harm_likelihood": "High"}, "decision": "plan"})
    async def assessment(call: Call[n.RecordAssessment]) -> None:
        await call.request.app[SERVICES].networks.record_assessment(
            call.actor, call.param("case_id"), answers=dict(call.body.answers), decision=call.body.decision)

    @api.route("PUT", f"{BASE}/plan", permission=LEAD, tag="networks", body=n.WritePlan,
               summary="Write (or rewrite) the draft risk-reduction plan; only the case leader sees a draft",
               example={"tasks": [{"text": "Check in weekly", "owner_id": "PARTNER", "due_on": "2026-12-15"}],
                        "next_meeting_at": "2026-12-20T10:00:00Z", "keep_in_touch": "The network channel"})
    async def write_plan(call: Call[n.WritePlan]) -> None:
        b = call.body
        await call.request.app[SERVICES].networks.write_plan(
            call.actor, call.param("case_id"), tasks=_drafts(b.tasks), next_meeting_at=b.next_meeting_at,
            keep_in_touch=b.keep_in_touch, crisis=b.crisis)

    @api.route("POST", f"{BASE}/plan/send", permission=LEAD, tag="networks",
               summary="Send the plan to the members (they are told without content)")
    async def send_plan(call: Call[None]) -> None:
        await call.request.app[SERVICES].networks.send_plan(call.actor, call.param("case_id"))

    @api.route("POST", f"{BASE}/plan/revisions", permission=LEAD, tag="networks", body=n.WritePlan,
               summary="A new version of the sent plan, sent at once; earlier versions stay readable",
               example={"tasks": [{"text": "Check in weekly", "owner_id": "PARTNER", "due_on": "2026-12-15"}],
                        "next_meeting_at": "2026-12-20T10:00:00Z", "keep_in_touch": "The network channel"})
    async def revise_plan(call: Call[n.WritePlan]) -> None:
        b = call.body
        await call.request.app[SERVICES].networks.revise_plan(
            call.actor, call.param("case_id"), tasks=_drafts(b.tasks), next_meeting_at=b.next_meeting_at,
            keep_in_touch=b.keep_in_touch, crisis=b.crisis)

    @api.route("GET", f"{BASE}/meetings.ics", permission=READ, tag="networks", raw_response=ICS,
               summary="The current process's network meetings as iCalendar (RFC 5545; audited)")
    async def meetings_ics(call: Call[None]) -> web.Response:
        body = await call.request.app[SERVICES].networks.meetings_ics(call.actor, call.param("case_id"))
        return calendar_response(body, "network-meetings.ics")

    @api.route("GET", f"{BASE}/plan.pdf", permission=READ, tag="networks", raw_response=PDF,
               query=n.PlanQuery, summary="A sent version of the plan as a PDF (?version=N, the latest by default; "
                                          "audited)")
    async def plan_pdf(call: Call[None]) -> web.Response:
        version, body = await call.request.app[SERVICES].networks.plan_pdf(
            call.actor, call.param("case_id"), version=call.query.version)
        return web.Response(body=body, content_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="risk-reduction-plan-v{version}.pdf"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    @api.route("POST", f"{BASE}/plan/acknowledgement", permission=ACKNOWLEDGE, tag="networks",
               body=n.Acknowledge, summary="A member acknowledges the current version of the plan",
               example={"version": 1})
    async def acknowledge(call: Call[n.Acknowledge]) -> None:
        await call.request.app[SERVICES].networks.acknowledge_plan(call.actor, call.param("case_id"),
                                                                   version=call.body.version)

    @api.route("POST", f"{BASE}/tasks", permission=TASK, tag="networks", body=n.MarkTask,
               summary="The task's owner marks it done or blocked, with a note",
               example={"task_id": "t1", "state": "done", "note": "Visited on Monday"})
    async def task(call: Call[n.MarkTask]) -> None:
        b = call.body
        await call.request.app[SERVICES].networks.mark_task(call.actor, call.param("case_id"), task_id=b.task_id,
                                                            state=b.state, note=b.note)

    @api.route("POST", f"{BASE}/close", permission=LEAD, tag="networks", body=n.Close,
               summary="Close the process with a written conclusion; the members' access ends",
               example={"conclusion": "The plan was carried out; no threat remains"})
    async def close(call: Call[n.Close]) -> None:
        await call.request.app[SERVICES].networks.close(call.actor, call.param("case_id"),
                                                        conclusion=call.body.conclusion)

    @api.route("GET", "/api/my/networks", permission=MINE, tag="networks", response=n.MyNetworks,
               summary="The networks the caller is a member of and can open now (audited)")
    async def mine(call: Call[None]) -> n.MyNetworks:
        rows = await call.request.app[SERVICES].networks.my_networks(call.actor)
        return n.MyNetworks(networks=[n.MyNetwork(**r) for r in rows])

    @api.route("GET", "/api/networks/follow-up", permission=FOLLOW_UP, tag="networks", response=n.FollowUp,
               summary="Overdue tasks of the networks the officer leads (a senior: their office's), oldest first")
    async def follow_up(call: Call[None]) -> n.FollowUp:
        return n.FollowUp(tasks=await call.request.app[SERVICES].networks.follow_up(call.actor))
