"""Video check-ins over HTTP: schedule, read with evidence and suggestion, link codes,
interpreters, the safe-space check, ICE servers and the outcome. Signalling is on /ws
(server/web/ws_signalling.py); docs/protocol.md lists both."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web
from msgspec import Meta, Struct

from server.checkins.outcomes import Outcome
from server.identity.model import Role
from server.identity.service import Authenticated
from server.signalling.protocol import IceServer
from server.web import schemas as s
from server.web.routes_identity import client_address, is_browser, me
from server.web.routing import COOKIE, Call, Permission, Registry, check_origin
from server.web.state import SERVICES

STAFF = frozenset({Role.OFFICER, Role.SENIOR_OFFICER})
SCHEDULE = Permission("schedule video check-ins", roles=STAFF, case_scoped=True)
HOST = Permission("run a video check-in", roles=STAFF, case_scoped=True)
SEE = Permission("see their video check-ins", roles=frozenset({*STAFF, Role.CLIENT, Role.INTERPRETER}))
TAKE_PART = Permission("take part in a video check-in", roles=frozenset({*STAFF, Role.CLIENT, Role.INTERPRETER}),
                       case_scoped=True, checkin_session=True)
PUBLIC = Permission("use a check-in link", public=True)
Aware = Annotated[datetime, Meta(tz=True)]


class ScheduleCheckin(s.Strict, kw_only=True):
    starts_at: Aware
    ends_at: Aware


class ListQuery(s.Strict, kw_only=True):
    start: Aware | None = None
    end: Aware | None = None
    limit: Annotated[int, Meta(ge=1, le=500)] = 200


class Participation(Struct, kw_only=True):
    user_id: str
    role: str | None
    joined_at: list[datetime]
    left_at: list[datetime]


class QualitySummary(Struct, kw_only=True):
    samples: int
    median_rtt_ms: float | None
    median_loss_pct: float | None
    median_bitrate_kbps: float | None
    poor: bool


class EvidenceSummary(Struct, kw_only=True):
    participants: list[Participation]
    quality: QualitySummary
    dropped: bool
    interrupted: bool
    cant_talk: bool


class SuggestionOut(Struct, kw_only=True):
    outcome: str
    reasons: list[str]


class Checkin(Struct, kw_only=True, omit_defaults=True):
    id: str
    case_id: str
    appointment_id: str | None = None
    opens_at: datetime
    closes_at: datetime
    state: str
    outcome: str | None = None
    alternatives: list[str]  # offered instead of video (rule alternatives); always present
    evidence: EvidenceSummary | None = None
    suggestion: SuggestionOut | None = None
    client: s.PersonRef | None = None  # whose check-in it is ("who is waiting" and the call name them)
    officer: s.PersonRef | None = None  # one check-in: the supervising officer (the client's waiting room)
    starts_at: datetime | None = None  # one check-in: its appointment's start, when it has one


class Checkins(Struct, kw_only=True):
    checkins: list[Checkin]


class LinkOut(Struct, kw_only=True):
    code: str
    path: str
    expires_at: datetime


class CodeSession(s.Strict, kw_only=True):
    code: Annotated[str, Meta(min_length=1, max_length=128)]
    kind: Literal["cookie", "bearer"] | None = None


class CodeSessionOut(Struct, kw_only=True, omit_defaults=True):
    user: s.Me
    csrf_token: str
    checkin_id: str
    token: str | None = None


class Invite(s.Strict, kw_only=True):
    user_id: s.Id


class QuestionOut(Struct, kw_only=True):
    id: str
    text: str


class SafeSpaceQuestions(Struct, kw_only=True):
    side: str
    questions: list[QuestionOut]
    passed: bool


class SafeSpaceAnswers(s.Strict, kw_only=True):
    answers: Annotated[dict[Annotated[str, Meta(max_length=64)], bool], Meta(max_length=32)] = {}
    cant_talk: bool = False


class SafeSpaceResult(Struct, kw_only=True):
    passed: bool
    ended: bool


class IceOut(Struct, kw_only=True):
    ice_servers: list[IceServer]
    ice_transport_policy: str
    expires_at: datetime


class RecordOutcome(s.Strict, kw_only=True):
    outcome: Literal["attended", "late", "missed", "technical_failure", "not_safe_to_talk", "excused"]
    note: Annotated[str, Meta(max_length=2000)] = ""


def checkin_out(row: Any, alternatives: tuple[str, ...] = ()) -> Checkin:
    return Checkin(id=row.id, case_id=row.case_id, appointment_id=row.appointment_id, opens_at=row.opens_at,
                   closes_at=row.closes_at, state=row.state, outcome=row.outcome, alternatives=list(alternatives))


def limited(call: Call[Any]) -> str | None:
    return call.auth.session.checkin_id if call.auth is not None else None


def register(api: Registry) -> None:
    @api.route("POST", "/api/cases/{case_id}/checkins", permission=SCHEDULE, summary="Schedule a video check-in",
               body=ScheduleCheckin, response=Checkin, status=201, tag="checkins",
               example={"starts_at": "2026-01-05T09:00:00Z", "ends_at": "2026-01-05T09:30:00Z"})
    async def schedule(call: Call[ScheduleCheckin]) -> Checkin:
        done = await call.request.app[SERVICES].checkins.schedule_checkin(
            call.actor, call.param("case_id"), call.body.starts_at, call.body.ends_at)
        return checkin_out(done.row, done.alternatives)

    @api.route("GET", "/api/checkins", permission=SEE, summary="Video check-ins in your scope", query=ListQuery,
               response=Checkins, tag="checkins")
    async def list_checkins(call: Call[None]) -> Checkins:
        q: ListQuery = call.query
        rows = await call.request.app[SERVICES].checkins.list_for(call.actor, q.start, q.end, q.limit)
        return Checkins(checkins=[
            msgspec.structs.replace(checkin_out(r), client=s.PersonRef(id=r.client_id, display_name=r.client_name))
            for r in rows])

    @api.route("GET", "/api/checkins/{checkin_id}", permission=TAKE_PART,
               summary="A check-in: state; for its staff also evidence and the suggested outcome", response=Checkin,
               tag="checkins")
    async def read(call: Call[None]) -> Checkin:
        acc, meeting, summary, alternatives = await call.request.app[SERVICES].checkins.get(
            call.actor, call.param("checkin_id"), limited(call))
        out = checkin_out(acc.row, alternatives)
        if meeting is not None:
            out.client = s.PersonRef(id=meeting.client_id, display_name=meeting.client_name)
            out.officer = s.PersonRef(id=meeting.officer_id, display_name=meeting.officer_name)
            out.starts_at = meeting.starts_at
        if summary is not None:
            q = summary.quality
            out.evidence = EvidenceSummary(
                participants=[Participation(**p) for p in summary.participants],
                quality=QualitySummary(samples=q.samples, median_rtt_ms=q.median_rtt_ms,
                                       median_loss_pct=q.median_loss_pct, median_bitrate_kbps=q.median_bitrate_kbps,
                                       poor=q.poor),
                dropped=summary.dropped, interrupted=summary.interrupted,
                cant_talk=summary.cant_talk)
            out.suggestion = SuggestionOut(outcome=summary.suggestion.outcome.value,
                                           reasons=list(summary.suggestion.reasons))
        return out

    @api.route("POST", "/api/checkins/{checkin_id}/link", permission=HOST,
               summary="A one-time code for the client's join link", response=LinkOut, status=201, tag="checkins")
    async def link(call: Call[None]) -> LinkOut:
        checkin_id = call.param("checkin_id")
        code, expires = await call.request.app[SERVICES].checkins.issue_link(call.actor, checkin_id)
        return LinkOut(code=code, path=f"/#/checkin?c={checkin_id}&code={code}", expires_at=expires)

    @api.route("POST", "/api/checkins/{checkin_id}/code-session", permission=PUBLIC,
               summary="Exchange a link's one-time code for a session limited to this check-in", body=CodeSession,
               response=CodeSessionOut, tag="checkins", example={"code": "CODE"})
    async def code_session(call: Call[CodeSession]) -> web.Response:
        services = call.request.app[SERVICES]
        check_origin(call.request)
        kind = call.body.kind or ("cookie" if is_browser(call.request) else "bearer")
        result = await services.checkins.code_session(call.param("checkin_id"), call.body.code, kind=kind,
                                                      address=client_address(call.request))
        auth = Authenticated(result.actor, result.session)
        body = CodeSessionOut(user=me(result.actor, auth, require_staff_mfa=services.settings.require_staff_mfa),
                              csrf_token=result.session.csrf_token, checkin_id=call.param("checkin_id"),
                              token=result.token if kind == "bearer" else None)
        response = web.json_response(s.to_builtins(body))
        if kind == "cookie":
            response.set_cookie(COOKIE, result.token, httponly=True, secure=services.settings.cookie_secure,
                                samesite="Strict", path="/",
                                max_age=max(60, int((result.session.expires_at - result.session.created_at)
                                                    .total_seconds())))
        return response

    @api.route("POST", "/api/checkins/{checkin_id}/interpreters", permission=HOST,
               summary="Invite an interpreter to this check-in", body=Invite, tag="checkins",
               example={"user_id": "INTERPRETER"})
    async def invite(call: Call[Invite]) -> None:
        await call.request.app[SERVICES].checkins.invite_interpreter(call.actor, call.param("checkin_id"),
                                                                     call.body.user_id)

    @api.route("GET", "/api/checkins/{checkin_id}/safe-space", permission=TAKE_PART,
               summary="Your safe-space questions for this check-in", response=SafeSpaceQuestions, tag="checkins")
    async def safe_space_questions(call: Call[None]) -> SafeSpaceQuestions:
        side, asked, passed = await call.request.app[SERVICES].checkins.safe_space_questions(
            call.actor, call.param("checkin_id"), limited(call))
        return SafeSpaceQuestions(side=side, questions=[QuestionOut(id=q.id, text=q.text) for q in asked],
                                  passed=passed)

    @api.route("POST", "/api/checkins/{checkin_id}/safe-space", permission=TAKE_PART,
               summary="Answer the safe-space check (stored encrypted)", body=SafeSpaceAnswers,
               response=SafeSpaceResult, tag="checkins",
               example={"answers": {"private_room": True, "headset": True, "screen_not_overlooked": True}})
    async def safe_space_answer(call: Call[SafeSpaceAnswers]) -> SafeSpaceResult:
        result = await call.request.app[SERVICES].checkins.answer_safe_space(
            call.actor, call.param("checkin_id"), call.body.answers, cant_talk=call.body.cant_talk,
            limited_to=limited(call))
        return SafeSpaceResult(passed=result.passed, ended=not result.passed)

    @api.route("POST", "/api/checkins/{checkin_id}/cant-talk", permission=TAKE_PART,
               summary="I can't talk safely now: end the attempt without penalty", tag="checkins")
    async def cant_talk(call: Call[None]) -> None:
        await call.request.app[SERVICES].checkins.answer_safe_space(
            call.actor, call.param("checkin_id"), {}, cant_talk=True, limited_to=limited(call))

    @api.route("GET", "/api/checkins/{checkin_id}/ice-servers", permission=TAKE_PART,
               summary="Fresh ICE servers with TURN credentials", response=IceOut, tag="checkins")
    async def ice(call: Call[None]) -> IceOut:
        servers, relay, expires = await call.request.app[SERVICES].checkins.ice(
            call.actor, call.param("checkin_id"), limited(call))
        return IceOut(ice_servers=list(servers), ice_transport_policy="relay" if relay else "all", expires_at=expires)

    @api.route("POST", "/api/checkins/{checkin_id}/outcome", permission=HOST,
               summary="Record the check-in's outcome", body=RecordOutcome, response=Checkin, tag="checkins",
               example={"outcome": "attended", "note": ""})
    async def outcome(call: Call[RecordOutcome]) -> Checkin:
        row = await call.request.app[SERVICES].checkins.record_outcome(
            call.actor, call.param("checkin_id"), Outcome(call.body.outcome), call.body.note)
        return checkin_out(row)
