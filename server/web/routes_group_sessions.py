"""Group programme sessions over HTTP (issue 14): scheduling a cohort's sessions, the cohort's
confidentiality agreement and its acceptance, and the attendance register (read, confirm,
CSV). Who runs a cohort is decided inside the services (its facilitators, the office's
seniors; another office's cohort is answered as absent); the roles here are the outer fence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from msgspec import Meta, Struct

from server.groups.attendance import Decision, Register
from server.groups.register import Attendance
from server.groups.sessions import NewSession, SessionEntry
from server.identity.model import Role
from server.scheduling.model import Scope
from server.web import schemas as s
from server.web.routes_scheduling import Aware, Cancelled, RecurrenceIn, ScopeName, _recurrence
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

RUNNERS = frozenset({Role.FACILITATOR, Role.SENIOR_OFFICER})
MEMBERS = frozenset({Role.FACILITATOR, Role.SENIOR_OFFICER, Role.CLIENT})

SCHEDULE = Permission("schedule a programme group's sessions", roles=RUNNERS)
LIST = Permission("see a programme group's sessions", roles=MEMBERS)
AGREEMENT = Permission("set a programme group's confidentiality agreement", roles=RUNNERS)
READ_AGREEMENT = Permission("read a programme group's confidentiality agreement", roles=MEMBERS, group_session=True)
ACCEPT = Permission("accept a programme group's confidentiality agreement", roles=frozenset({Role.CLIENT}),
                    group_session=True)
REGISTER = Permission("keep a group session's attendance register", roles=RUNNERS)
CSV = ("text/csv",)
StatusName = Literal["attended", "partly", "absent", "excused", "technical_failure"]


class ScheduleSessions(s.Strict, kw_only=True):
    starts_at: Aware
    ends_at: Aware
    recurrence: RecurrenceIn | None = None
    room_id: s.Id | None = None


class CancelSession(s.Strict, kw_only=True):
    scope: ScopeName = "one"


class SessionOut(Struct, kw_only=True):
    id: str
    group_id: str
    group_name: str
    programme: str
    starts_at: datetime
    ends_at: datetime
    opens_at: datetime
    closes_at: datetime
    status: str
    series_id: str | None
    room_id: str | None
    room_name: str | None
    register_confirmed: bool


class Sessions(Struct, kw_only=True):
    sessions: list[SessionOut]


class SetAgreement(s.Strict, kw_only=True):
    text: s.Text
    #: Enrolled participants enter without waiting in the lobby.
    auto_admit: bool = False


class AgreementOut(Struct, kw_only=True):
    group_id: str
    text: str | None
    version: int
    auto_admit: bool
    accepted: bool


class AcceptAgreement(s.Strict, kw_only=True):
    version: Annotated[int, Meta(ge=1, le=1_000_000)]


class LineIn(s.Strict, kw_only=True):
    user_id: s.Id
    status: StatusName
    note: Annotated[str, Meta(min_length=1, max_length=2000)] | None = None


class ConfirmRegister(s.Strict, kw_only=True):
    lines: Annotated[list[LineIn], Meta(max_length=64)]


class LineOut(Struct, kw_only=True):
    user_id: str
    display_name: str
    minutes_present: int
    first_arrived_at: datetime | None
    last_left_at: datetime | None
    drops: int
    late: bool
    in_room: bool
    poor_quality: bool
    suggestion: str
    reasons: list[str]
    status: str | None
    note: str | None


class RegisterOut(Struct, kw_only=True):
    session_id: str
    starts_at: datetime
    ends_at: datetime
    confirmed_at: datetime | None
    lines: list[LineOut]


def session_out(e: SessionEntry) -> SessionOut:
    return SessionOut(id=e.id, group_id=e.cohort_id, group_name=e.cohort_name, programme=e.programme,
                      starts_at=e.starts_at, ends_at=e.ends_at, opens_at=e.opens_at, closes_at=e.closes_at,
                      status=e.status, series_id=e.series_id, room_id=e.room_id, room_name=e.room_name,
                      register_confirmed=e.register_confirmed)


def register_out(r: Register) -> RegisterOut:
    return RegisterOut(session_id=r.session_id, starts_at=r.starts_at, ends_at=r.ends_at, confirmed_at=r.confirmed_at,
                       lines=[LineOut(user_id=x.user_id, display_name=x.display_name,
                                      minutes_present=x.line.minutes_present,
                                      first_arrived_at=x.line.first_arrived_at, last_left_at=x.line.last_left_at,
                                      drops=x.line.drops, late=x.line.late, in_room=x.line.in_room,
                                      poor_quality=x.line.quality.poor, suggestion=x.line.suggestion.value,
                                      reasons=list(x.line.reasons), status=x.status, note=x.note)
                              for x in r.lines])


def _limited(call: Call[Any]) -> str | None:
    """The group session a join link's session is limited to (its cohort's agreement only)."""
    return call.auth.session.group_session_id if call.auth is not None else None


def register(api: Registry) -> None:
    @api.route("POST", "/api/groups/{group_id}/sessions", permission=SCHEDULE,
               summary="Schedule a group's session, once or as a weekly series", body=ScheduleSessions,
               response=Sessions, status=201, tag="group sessions",
               example={"starts_at": "2026-01-06T16:00:00Z", "ends_at": "2026-01-06T17:30:00Z"})
    async def schedule(call: Call[ScheduleSessions]) -> Sessions:
        b = call.body
        made = await call.request.app[SERVICES].group_sessions.schedule(
            call.actor, call.param("group_id"), NewSession(b.starts_at, b.ends_at, _recurrence(b.recurrence),
                                                           b.room_id))
        return Sessions(sessions=[session_out(e) for e in made])

    @api.route("GET", "/api/groups/{group_id}/sessions", permission=LIST, summary="A group's sessions",
               response=Sessions, tag="group sessions")
    async def sessions(call: Call[None]) -> Sessions:
        rows = await call.request.app[SERVICES].group_sessions.sessions(call.actor, call.param("group_id"))
        return Sessions(sessions=[session_out(e) for e in rows])

    @api.route("POST", "/api/group-sessions/{session_id}/cancel", permission=SCHEDULE,
               summary="Cancel a group session (or it and the rest of its series)", body=CancelSession,
               response=Cancelled, tag="group sessions", example={"scope": "one"})
    async def cancel(call: Call[CancelSession]) -> Cancelled:
        ids = await call.request.app[SERVICES].group_sessions.cancel(call.actor, call.param("session_id"),
                                                                     Scope(call.body.scope))
        return Cancelled(cancelled=ids)

    @api.route("PUT", "/api/groups/{group_id}/agreement", permission=AGREEMENT,
               summary="Set the group's confidentiality agreement (a changed text is accepted anew)",
               body=SetAgreement, response=AgreementOut, tag="group sessions",
               example={"text": "What is said in the group stays in the group.", "auto_admit": False})
    async def set_agreement(call: Call[SetAgreement]) -> AgreementOut:
        services = call.request.app[SERVICES]
        await services.group_sessions.set_agreement(call.actor, call.param("group_id"), text=call.body.text,
                                                    auto_admit=call.body.auto_admit)
        return await _agreement(call)

    async def _agreement(call: Call[SetAgreement] | Call[None]) -> AgreementOut:
        a = await call.request.app[SERVICES].group_sessions.agreement(call.actor, call.param("group_id"),
                                                                      limited_to=_limited(call))
        return AgreementOut(group_id=a.cohort_id, text=a.text, version=a.version, auto_admit=a.auto_admit,
                            accepted=a.accepted)

    @api.route("GET", "/api/groups/{group_id}/agreement", permission=READ_AGREEMENT,
               summary="The group's confidentiality agreement, and whether you accepted it", response=AgreementOut,
               tag="group sessions")
    async def agreement(call: Call[None]) -> AgreementOut:
        return await _agreement(call)

    @api.route("POST", "/api/groups/{group_id}/agreement/acceptance", permission=ACCEPT,
               summary="Accept the version of the group's agreement you were shown", body=AcceptAgreement,
               tag="group sessions", example={"version": 1})
    async def accept(call: Call[AcceptAgreement]) -> None:
        await call.request.app[SERVICES].group_sessions.accept_agreement(call.actor, call.param("group_id"),
                                                                         call.body.version, limited_to=_limited(call))

    @api.route("GET", "/api/group-sessions/{session_id}/register", permission=REGISTER,
               summary="A session's attendance register: evidence, suggestions, what was confirmed",
               response=RegisterOut, tag="group sessions")
    async def read_register(call: Call[None]) -> RegisterOut:
        return register_out(await call.request.app[SERVICES].attendance.register(call.actor,
                                                                                 call.param("session_id")))

    @api.route("POST", "/api/group-sessions/{session_id}/register", permission=REGISTER,
               summary="Confirm the register: each line is saved to the participant's case", body=ConfirmRegister,
               response=RegisterOut, tag="group sessions",
               example={"lines": [{"user_id": "CLIENT", "status": "attended"}]})
    async def confirm(call: Call[ConfirmRegister]) -> RegisterOut:
        decisions = [Decision(x.user_id, Attendance(x.status), x.note) for x in call.body.lines]
        return register_out(await call.request.app[SERVICES].attendance.confirm(
            call.actor, call.param("session_id"), decisions))

    @api.route("GET", "/api/group-sessions/{session_id}/register.csv", permission=REGISTER,
               summary="The confirmed register as CSV", tag="group sessions", raw_response=CSV)
    async def register_csv(call: Call[None]) -> web.Response:
        text = await call.request.app[SERVICES].attendance.csv(call.actor, call.param("session_id"))
        return web.Response(body=text.encode(), content_type="text/csv", charset="utf-8", headers={
            "Content-Disposition": 'attachment; filename="register.csv"', "Cache-Control": "no-store"})
