"""Mentoring periods (issue 16): the mentor's periods and activity log, the officer's view
of a case's periods with extension and outcome, and the mentee's own. Per-assignment access
is decided inside the service (the ``mentoring`` and ``scope`` rules); the roles here are
the outer fence."""

from __future__ import annotations

from server.identity.model import Role
from server.mentoring.model import Period
from server.web import schemas_mentoring as m
from server.web.routing import Call, Permission, Registry
from server.web.schemas import Created
from server.web.state import SERVICES

OFFICERS = frozenset({Role.OFFICER, Role.SENIOR_OFFICER})
MENTOR = frozenset({Role.MENTOR})

MENTOR_PERIODS = Permission("read their mentoring periods", roles=MENTOR)
RECORD_ACTIVITY = Permission("record a mentoring activity", roles=MENTOR)
MENTOR_OUTCOME = Permission("record the mentor's outcome of a mentoring", roles=MENTOR)
CASE_PERIODS = Permission("read a case's mentoring periods", roles=OFFICERS, case_scoped=True)
EXTEND = Permission("extend a mentoring period", roles=OFFICERS, case_scoped=True)
OFFICER_OUTCOME = Permission("record the officer's outcome of a mentoring", roles=OFFICERS, case_scoped=True)
MY_MENTORING = Permission("read their own mentoring", roles=frozenset({Role.CLIENT}))


def period_out(p: Period) -> m.PeriodOut:
    return m.PeriodOut(
        assignment_id=p.assignment_id, mentor=m.Person(id=p.mentor_id, display_name=p.mentor_name),
        mentee=m.Person(id=p.client_id, display_name=p.client_name), starts_on=p.starts_on, ends_on=p.ends_on,
        days_left=p.days_left, running=p.running, ended_at=p.ended_at, outcome_open=p.outcome_open,
        hours=round(p.hours, 2),
        activities=[m.ActivityOut(id=a.id, kind=a.kind, done_on=a.done_on, hours=round(a.minutes / 60, 2),
                                  note=a.note) for a in p.activities],
        outcomes=[m.OutcomeOut(party=o.party, outcome=o.outcome, reason=o.reason, created_at=o.created_at)
                  for o in p.outcomes])


def register(api: Registry) -> None:
    @api.route("GET", "/api/mentoring", permission=MENTOR_PERIODS, tag="mentoring", response=m.Periods,
               summary="The mentor's periods: running ones with their log, ended ones awaiting the outcome")
    async def mine(call: Call[None]) -> m.Periods:
        periods = await call.request.app[SERVICES].mentoring.of_mentor(call.actor)
        return m.Periods(periods=[period_out(p) for p in periods])

    @api.route("GET", "/api/mentoring/{mentoring_id}", permission=MENTOR_PERIODS, tag="mentoring",
               response=m.PeriodOut, summary="One of the mentor's periods with its log, while it runs")
    async def one(call: Call[None]) -> m.PeriodOut:
        return period_out(await call.request.app[SERVICES].mentoring.activities(call.actor,
                                                                               call.param("mentoring_id")))

    @api.route("POST", "/api/mentoring/{mentoring_id}/activities", permission=RECORD_ACTIVITY, tag="mentoring",
               body=m.RecordActivity, response=Created, status=201,
               summary="Record an activity with the mentee (the note is encrypted)",
               example={"kind": "meeting", "done_on": "2026-01-05", "hours": 1.5, "note": "Talked about work"})
    async def activity(call: Call[m.RecordActivity]) -> Created:
        b = call.body
        made = await call.request.app[SERVICES].mentoring.record_activity(
            call.actor, call.param("mentoring_id"), kind=b.kind, done_on=b.done_on, minutes=round(b.hours * 60),
            note=b.note.strip())
        return Created(id=made)

    @api.route("POST", "/api/mentoring/{mentoring_id}/outcome", permission=MENTOR_OUTCOME, tag="mentoring",
               body=m.RecordOutcome, summary="The mentor's outcome of a period",
               example={"outcome": "completed", "reason": ""})
    async def mentor_outcome(call: Call[m.RecordOutcome]) -> None:
        await call.request.app[SERVICES].mentoring.record_outcome(
            call.actor, call.param("mentoring_id"), outcome=call.body.outcome, reason=call.body.reason.strip())

    @api.route("GET", "/api/cases/{case_id}/mentoring", permission=CASE_PERIODS, tag="mentoring",
               response=m.Periods, summary="The case's mentoring periods with their logs and outcomes")
    async def of_case(call: Call[None]) -> m.Periods:
        periods = await call.request.app[SERVICES].mentoring.of_case(call.actor, call.param("case_id"))
        return m.Periods(periods=[period_out(p) for p in periods])

    @api.route("POST", "/api/mentor-assignments/{assignment_id}/extend", permission=EXTEND, tag="mentoring",
               body=m.Extend, response=m.Extended, summary="Extend a mentoring period, with a reason (audited)",
               example={"ends_on": "2027-06-30", "reason": "Court hearing moved to June"})
    async def extend(call: Call[m.Extend]) -> m.Extended:
        ends_on = await call.request.app[SERVICES].mentoring.extend(
            call.actor, call.param("assignment_id"), ends_on=call.body.ends_on, reason=call.body.reason.strip())
        return m.Extended(ends_on=ends_on)

    @api.route("POST", "/api/mentor-assignments/{assignment_id}/outcome", permission=OFFICER_OUTCOME,
               tag="mentoring", body=m.RecordOutcome,
               summary="The officer's outcome of a period; it ends a running mentoring",
               example={"outcome": "ended_early", "reason": "Moved to another region"})
    async def officer_outcome(call: Call[m.RecordOutcome]) -> None:
        await call.request.app[SERVICES].mentoring.record_outcome(
            call.actor, call.param("assignment_id"), outcome=call.body.outcome, reason=call.body.reason.strip())

    @api.route("GET", "/api/my/mentoring", permission=MY_MENTORING, tag="mentoring", response=m.Periods,
               summary="The client's own mentoring periods, their logs and outcomes")
    async def my_mentoring(call: Call[None]) -> m.Periods:
        periods = await call.request.app[SERVICES].mentoring.of_client(call.actor)
        return m.Periods(periods=[period_out(p) for p in periods])
