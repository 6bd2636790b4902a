"""Group sessions in scheduling's shared places (issue 14): a session's (or its series')
``.ics``, a member's upcoming sessions, the confirmed absences on the officers' follow-up
list and a case's group attendance lines. Per-session and per-case access is decided in the
services (members and those who run a cohort; ``read_case`` for a case); the roles here are
the outer fence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from msgspec import Struct

from server.groups.sessions import SessionEntry
from server.scheduling import ics
from server.web import schemas as s
from server.web.routes_group_sessions import MEMBERS, Sessions, session_out
from server.web.routes_scheduling import ICS, OFFICERS, calendar_response
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

CALENDAR = Permission("export a group session to a calendar", roles=MEMBERS, group_session=True)
UPCOMING = Permission("see their upcoming group sessions", roles=MEMBERS)
FOLLOW_UP = Permission("see their caseload's group absences", roles=OFFICERS)
CASE_ATTENDANCE = Permission("read a case's group attendance", roles=OFFICERS, case_scoped=True)


class Absence(Struct, kw_only=True):
    session_id: str
    case_id: str
    client: s.PersonRef
    group_name: str
    starts_at: datetime
    confirmed_at: datetime


class Absences(Struct, kw_only=True):
    absences: list[Absence]


class AttendanceLine(Struct, kw_only=True):
    session_id: str
    group_name: str
    programme: str
    starts_at: datetime
    status: str
    minutes_present: int | None = None
    late: bool | None = None
    in_room: bool | None = None
    note: str | None = None


class CaseAttendance(Struct, kw_only=True):
    lines: list[AttendanceLine]


def event(e: SessionEntry, stamp: datetime) -> ics.Event:
    """Neutral on purpose, as appointments are: "Group session", never the group or its programme."""
    return ics.Event(uid=f"{e.id}@tandem", starts_at=e.starts_at, ends_at=e.ends_at, summary="Group session",
                     stamp=stamp, location=e.room_name, cancelled=e.status == "cancelled", sequence=e.sequence)


def line_out(x: dict[str, Any]) -> AttendanceLine:
    d = x.get("details") or {}
    return AttendanceLine(session_id=x["session_id"], group_name=x["group"], programme=x["programme"],
                          starts_at=x["starts_at"], status=x["status"], minutes_present=d.get("minutes_present"),
                          late=d.get("late"), in_room=d.get("in_room"), note=d.get("note"))


def register(api: Registry) -> None:
    @api.route("GET", "/api/group-sessions/{session_id}/ics", permission=CALENDAR,
               summary="One group session as iCalendar (RFC 5545)", raw_response=ICS, tag="group sessions")
    async def one_ics(call: Call[None]) -> web.Response:
        services = call.request.app[SERVICES]
        entries = await services.group_sessions.calendar(call.actor, call.param("session_id"))
        return calendar_response(ics.calendar([event(e, services.clock.now()) for e in entries]),
                                 "group-session.ics")

    @api.route("GET", "/api/group-sessions/{session_id}/series.ics", permission=CALENDAR,
               summary="Every session of this session's series as iCalendar (RFC 5545)", raw_response=ICS,
               tag="group sessions")
    async def series_ics(call: Call[None]) -> web.Response:
        services = call.request.app[SERVICES]
        entries = await services.group_sessions.calendar(call.actor, call.param("session_id"), series=True)
        now = services.clock.now()
        return calendar_response(ics.calendar([event(e, now) for e in entries], name="Tandem"),
                                 "group-sessions.ics")

    @api.route("GET", "/api/my/group-sessions", permission=UPCOMING,
               summary="My group sessions still open to join (as participant or as staff)", response=Sessions,
               tag="group sessions")
    async def upcoming(call: Call[None]) -> Sessions:
        entries = await call.request.app[SERVICES].group_sessions.upcoming(call.actor)
        return Sessions(sessions=[session_out(e) for e in entries])

    @api.route("GET", "/api/followups/group-absences", permission=FOLLOW_UP,
               summary="Absences from confirmed group registers: officers their caseload's, seniors their "
                       "office's (audited)", response=Absences, tag="group sessions")
    async def absences(call: Call[None]) -> Absences:
        rows = await call.request.app[SERVICES].attendance.absences(call.actor)
        return Absences(absences=[Absence(session_id=r.session_id, case_id=r.case_id,
                                          client=s.PersonRef(id=r.user_id, display_name=r.client_name),
                                          group_name=r.cohort_name, starts_at=r.starts_at,
                                          confirmed_at=r.confirmed_at) for r in rows])

    @api.route("GET", "/api/cases/{case_id}/group-attendance", permission=CASE_ATTENDANCE,
               summary="A case's confirmed group attendance lines, newest first (audited)", response=CaseAttendance,
               tag="group sessions")
    async def of_case(call: Call[None]) -> CaseAttendance:
        lines = await call.request.app[SERVICES].attendance.of_case(call.actor, call.param("case_id"))
        return CaseAttendance(lines=[line_out(x) for x in lines])
