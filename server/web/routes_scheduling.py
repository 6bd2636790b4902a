"""Scheduling over HTTP: appointments (one-off and series), day and week views, the
client's upcoming list, outcomes, follow-ups, reminders and ``.ics`` export.

Per-case access is the policy engine's ``scope`` rule inside the service; the roles here
are the outer fence. The reminder task runs in the background (``background``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated, Literal

from aiohttp import web
from msgspec import Meta, Struct

from server.errors import BadRequest
from server.identity.model import Role
from server.scheduling import ics, model
from server.scheduling.model import Kind, Outcome, Recurrence, Scope
from server.scheduling.service import Change, Entry, NewAppointment
from server.web import schemas as s
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

OFFICERS = frozenset({Role.OFFICER, Role.SENIOR_OFFICER})
SCHEDULE = Permission("schedule appointments", roles=OFFICERS, case_scoped=True)
CHANGE = Permission("change an appointment", roles=OFFICERS)
READ = Permission("read an appointment", roles=frozenset({Role.OFFICER, Role.SENIOR_OFFICER, Role.CLIENT}))
VIEW = Permission("see their schedule", roles=OFFICERS)
UPCOMING = Permission("see their upcoming appointments", roles=frozenset({Role.CLIENT}))
FEED = Permission("export their calendar", roles=frozenset({Role.OFFICER, Role.SENIOR_OFFICER, Role.CLIENT}))
REMINDED = Permission("see their reminders")

Aware = Annotated[datetime, Meta(tz=True)]  # a time without a zone is ambiguous: refused
Zone = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$")]
KindName = Literal["in_person", "video", "phone"]
ScopeName = Literal["one", "following"]
OutcomeName = Literal["attended", "late", "missed", "technical_failure", "not_safe_to_talk", "excused"]
ICS = ("text/calendar",)


class RecurrenceIn(s.Strict, kw_only=True):
    interval_weeks: Annotated[int, Meta(ge=1, le=52)] = 1
    count: Annotated[int, Meta(ge=1, le=10_000)] | None = None
    until: date | None = None
    timezone: Zone = "UTC"


class CreateAppointment(s.Strict, kw_only=True):
    kind: KindName
    starts_at: Aware
    ends_at: Aware
    location: s.Name | None = None
    recurrence: RecurrenceIn | None = None
    #: The officer offered phone or in-person and the client chose video (rule alternatives).
    alternatives_offered: bool = False


class UpdateAppointment(s.Strict, kw_only=True):
    scope: ScopeName = "one"
    starts_at: Aware | None = None
    ends_at: Aware | None = None
    kind: KindName | None = None
    location: s.Name | None = None
    alternatives_offered: bool = False


class CancelAppointment(s.Strict, kw_only=True):
    scope: ScopeName = "one"


class RecordOutcome(s.Strict, kw_only=True):
    outcome: OutcomeName
    note: Annotated[str, Meta(min_length=1, max_length=2000)] | None = None


class ScheduleQuery(s.Strict, kw_only=True):
    date: date
    view: Literal["day", "week"] = "day"
    tz: Zone = "UTC"


class AppointmentOut(Struct, kw_only=True, omit_defaults=True):
    id: str
    case_id: str
    client: s.PersonRef
    officer: s.PersonRef
    kind: str
    status: str
    starts_at: datetime
    ends_at: datetime
    opens_at: datetime  # the join window
    closes_at: datetime
    follow_up: bool  # the window ended with no outcome: unrecorded, to follow up
    location: str | None = None
    series_id: str | None = None
    outcome: str | None = None
    outcome_note: str | None = None
    checkin_state: str | None = None  # in the officer's schedule: the video check-in's state


class Appointments(Struct, kw_only=True):
    appointments: list[AppointmentOut]


class Schedule(Struct, kw_only=True):
    view: str
    timezone: str
    start: datetime
    end: datetime
    appointments: list[AppointmentOut]


class Cancelled(Struct, kw_only=True):
    cancelled: list[str]


class ReminderOut(Struct, kw_only=True):
    id: str
    appointment_id: str | None  # an appointment's reminder, or
    group_session_id: str | None = None  # a group session's (kind "group")
    kind: str
    status: str
    starts_at: datetime
    offset_s: int
    sent_at: datetime


class Reminders(Struct, kw_only=True):
    reminders: list[ReminderOut]


def out(e: Entry) -> AppointmentOut:
    a = e.appointment
    return AppointmentOut(
        id=a.id, case_id=a.case_id, client=s.PersonRef(id=a.client_id, display_name=e.client_name),
        officer=s.PersonRef(id=a.officer_id, display_name=e.officer_name), kind=a.kind.value, status=a.status.value,
        starts_at=a.starts_at, ends_at=a.ends_at, opens_at=e.opens_at, closes_at=e.closes_at, follow_up=e.follow_up,
        location=a.location, series_id=a.series_id, outcome=a.outcome.value if a.outcome else None,
        outcome_note=e.outcome_note, checkin_state=e.checkin_state)


def event(e: Entry, stamp: datetime) -> ics.Event:
    a = e.appointment
    summary = {"in_person": "Appointment (in person)", "video": "Appointment (video)",
               "phone": "Appointment (phone)"}[a.kind.value]
    return ics.Event(uid=f"{a.id}@tandem", starts_at=a.starts_at, ends_at=a.ends_at, summary=summary, stamp=stamp,
                     location=a.location, cancelled=a.status is model.Status.CANCELLED, sequence=a.sequence)


def calendar_response(body: str, filename: str) -> web.Response:
    return web.Response(body=body.encode(), content_type="text/calendar", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                 "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


async def background(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    task = asyncio.create_task(services.reminders.run(services.settings.reminder_interval_s), name="reminders")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _recurrence(r: RecurrenceIn | None) -> Recurrence | None:
    if r is None:
        return None
    try:
        return Recurrence(interval_weeks=r.interval_weeks, count=r.count, until=r.until, timezone=r.timezone)
    except model.SchedulingError as err:
        raise BadRequest(str(err), reason=err.code, params=err.params) from None


EXAMPLE = {"kind": "in_person", "starts_at": "2026-01-06T09:00:00Z", "ends_at": "2026-01-06T09:45:00Z",
           "location": "Office A, room 3"}


def register(api: Registry) -> None:
    @api.route("POST", "/api/cases/{case_id}/appointments", permission=SCHEDULE,
               summary="Schedule an appointment, or a weekly series (policy-gated for video)", body=CreateAppointment,
               response=Appointments, status=201, tag="scheduling", example=EXAMPLE)
    async def create(call: Call[CreateAppointment]) -> Appointments:
        b = call.body
        made = await call.request.app[SERVICES].scheduling.create(call.actor, call.param("case_id"), NewAppointment(
            kind=Kind(b.kind), starts_at=b.starts_at, ends_at=b.ends_at, location=b.location,
            recurrence=_recurrence(b.recurrence), alternatives_offered=b.alternatives_offered))
        return Appointments(appointments=[out(e) for e in made])

    @api.route("GET", "/api/appointments/{appointment_id}", permission=READ, summary="One appointment (audited)",
               response=AppointmentOut, tag="scheduling")
    async def read(call: Call[None]) -> AppointmentOut:
        return out(await call.request.app[SERVICES].scheduling.read(call.actor, call.param("appointment_id")))

    @api.route("PATCH", "/api/appointments/{appointment_id}", permission=CHANGE,
               summary="Move or change an appointment, or it and the rest of its series", body=UpdateAppointment,
               response=Appointments, tag="scheduling", example={"location": "Office A, room 4"})
    async def update(call: Call[UpdateAppointment]) -> Appointments:
        b = call.body
        changed = await call.request.app[SERVICES].scheduling.update(call.actor, call.param("appointment_id"), Change(
            scope=Scope(b.scope), starts_at=b.starts_at, ends_at=b.ends_at, kind=Kind(b.kind) if b.kind else None,
            location=b.location, alternatives_offered=b.alternatives_offered))
        return Appointments(appointments=[out(e) for e in changed])

    @api.route("POST", "/api/appointments/{appointment_id}/cancel", permission=CHANGE,
               summary="Cancel an appointment, or it and the rest of its series", body=CancelAppointment,
               response=Cancelled, tag="scheduling", example={"scope": "one"})
    async def cancel(call: Call[CancelAppointment]) -> Cancelled:
        ids = await call.request.app[SERVICES].scheduling.cancel(call.actor, call.param("appointment_id"),
                                                                 Scope(call.body.scope))
        return Cancelled(cancelled=ids)

    @api.route("POST", "/api/appointments/{appointment_id}/outcome", permission=CHANGE,
               summary="Record the outcome (attended, late, missed, technical failure, not safe to talk, excused)",
               body=RecordOutcome, response=AppointmentOut, tag="scheduling", example={"outcome": "attended"})
    async def outcome(call: Call[RecordOutcome]) -> AppointmentOut:
        sched = call.request.app[SERVICES].scheduling
        await sched.record_outcome(call.actor, call.param("appointment_id"), Outcome(call.body.outcome),
                                   call.body.note)
        return out(await sched.read(call.actor, call.param("appointment_id"), via="outcome"))

    @api.route("GET", "/api/appointments/{appointment_id}/ics", permission=READ,
               summary="One appointment as iCalendar (RFC 5545; audited)", raw_response=ICS, tag="scheduling")
    async def one_ics(call: Call[None]) -> web.Response:
        services = call.request.app[SERVICES]
        e = await services.scheduling.read(call.actor, call.param("appointment_id"), via="ics")
        return calendar_response(ics.calendar([event(e, services.clock.now())]), "appointment.ics")

    @api.route("GET", "/api/calendar.ics", permission=FEED,
               summary="My appointments as an iCalendar feed (RFC 5545; audited)", raw_response=ICS, tag="scheduling")
    async def feed(call: Call[None]) -> web.Response:
        services = call.request.app[SERVICES]
        now = services.clock.now()
        entries = await services.scheduling.feed(call.actor)
        return calendar_response(ics.calendar([event(e, now) for e in entries], name="Tandem"), "tandem.ics")

    @api.route("GET", "/api/schedule", permission=VIEW, summary="My schedule: a day or a Monday-to-Sunday week",
               query=ScheduleQuery, response=Schedule, tag="scheduling")
    async def schedule(call: Call[None]) -> Schedule:
        q: ScheduleQuery = call.query
        try:
            start, end = model.view_range(q.date, q.view, q.tz)
        except (ValueError, model.SchedulingError) as err:
            raise BadRequest(f"Invalid query: {err}") from None
        entries = await call.request.app[SERVICES].scheduling.schedule(call.actor, start, end)
        return Schedule(view=q.view, timezone=q.tz, start=start, end=end, appointments=[out(e) for e in entries])

    @api.route("GET", "/api/my/appointments", permission=UPCOMING, summary="The client's upcoming appointments",
               response=Appointments, tag="scheduling")
    async def upcoming(call: Call[None]) -> Appointments:
        entries = await call.request.app[SERVICES].scheduling.upcoming(call.actor)
        return Appointments(appointments=[out(e) for e in entries])

    @api.route("GET", "/api/followups", permission=VIEW,
               summary="Appointments whose window ended with no outcome recorded (unrecorded, not non-attendance)",
               response=Appointments, tag="scheduling")
    async def followups(call: Call[None]) -> Appointments:
        entries = await call.request.app[SERVICES].scheduling.followups(call.actor)
        return Appointments(appointments=[out(e) for e in entries])

    @api.route("GET", "/api/reminders", permission=REMINDED, summary="My reminders of the last week (in-app list)",
               response=Reminders, tag="scheduling")
    async def reminders(call: Call[None]) -> Reminders:
        services = call.request.app[SERVICES]
        rows = await services.scheduling.reminders(call.actor)
        out = [ReminderOut(id=r.id, appointment_id=r.appointment_id, kind=r.kind, status=r.status,
                           starts_at=r.starts_at, offset_s=int(r.offset_s), sent_at=r.created_at) for r in rows]
        out += [ReminderOut(id=r.id, appointment_id=None, group_session_id=r.session_id, kind="group",
                            status=r.status, starts_at=r.starts_at, offset_s=int(r.offset_s), sent_at=r.created_at)
                for r in await services.group_sessions.reminders(call.actor)]
        out.sort(key=lambda r: r.sent_at, reverse=True)
        return Reminders(reminders=out[:50])

