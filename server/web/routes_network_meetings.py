"""A case-network meeting by video over HTTP (issue 16, TUKO stage 2): the caller's safe-space
questions for the meeting and their answers. The server keeps the answers and refuses the join
of the meeting's live session (``group.join`` with session ``netmeet-<meeting id>``, rule
``network_meeting_video``) until the check is passed (``server/networks/joining.py``). Who takes
part is decided in the service: the case leader and the network's active members; a case
outside the caller's scope, whose network they never belonged to, answers 404.
"""

from __future__ import annotations

from server.web.routes_checkins import QuestionOut, SafeSpaceAnswers, SafeSpaceQuestions, SafeSpaceResult
from server.web.routes_networks import BASE, TAKING_PART
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

SAFE_SPACE = Permission("answer the safe-space check before a network meeting by video", roles=TAKING_PART,
                        case_scoped=True)
PATH = BASE + "/meetings/{meeting_id}/safe-space"


def register(api: Registry) -> None:
    @api.route("GET", PATH, permission=SAFE_SPACE,
               summary="Your safe-space questions for this network meeting by video (your side's, then the "
                       "meeting's own)", response=SafeSpaceQuestions, tag="case networks")
    async def questions(call: Call[None]) -> SafeSpaceQuestions:
        side, asked, passed = await call.request.app[SERVICES].network_meetings.questions(
            call.actor, call.param("case_id"), call.param("meeting_id"))
        return SafeSpaceQuestions(side=side, questions=[QuestionOut(id=q.id, text=q.text) for q in asked],
                                  passed=passed)

    @api.route("POST", PATH, permission=SAFE_SPACE,
               summary="Answer the safe-space check for this network meeting (the client's answers are stored "
                       "encrypted)", body=SafeSpaceAnswers, response=SafeSpaceResult, tag="case networks",
               example={"cant_talk": True})
    async def answer(call: Call[SafeSpaceAnswers]) -> SafeSpaceResult:
        result = await call.request.app[SERVICES].network_meetings.answer(
            call.actor, call.param("case_id"), call.param("meeting_id"), call.body.answers,
            cant_talk=call.body.cant_talk)
        return SafeSpaceResult(passed=result.passed, ended=not result.passed)
