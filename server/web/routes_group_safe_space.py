"""The safe-space check before a live group session over HTTP (issue 14): the caller's questions
and their answers. The server keeps the answers and refuses the join (``group.join``) until the
check is passed for the session (``server/groups/safe_space.py``). Who takes part in the session
is decided in the service (another office's session is answered as absent); a session opened
from the session's join link reaches its own session only.
"""

from __future__ import annotations

from server.web.routes_checkins import QuestionOut, SafeSpaceAnswers, SafeSpaceQuestions, SafeSpaceResult
from server.web.routes_group_sessions import MEMBERS
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

SAFE_SPACE = Permission("answer the safe-space check before a live group session", roles=MEMBERS,
                        group_session=True)


def register(api: Registry) -> None:
    @api.route("GET", "/api/group-sessions/{session_id}/safe-space", permission=SAFE_SPACE,
               summary="Your safe-space questions for this group session (your side's, then the group's)",
               response=SafeSpaceQuestions, tag="group sessions")
    async def questions(call: Call[None]) -> SafeSpaceQuestions:
        side, asked, passed = await call.request.app[SERVICES].group_safe_space.questions(
            call.actor, call.param("session_id"))
        return SafeSpaceQuestions(side=side, questions=[QuestionOut(id=q.id, text=q.text) for q in asked],
                                  passed=passed)

    @api.route("POST", "/api/group-sessions/{session_id}/safe-space", permission=SAFE_SPACE,
               summary="Answer the safe-space check for this group session (a participant's answers are "
                       "stored encrypted)", body=SafeSpaceAnswers, response=SafeSpaceResult, tag="group sessions",
               example={"cant_talk": True})
    async def answer(call: Call[SafeSpaceAnswers]) -> SafeSpaceResult:
        result = await call.request.app[SERVICES].group_safe_space.answer(
            call.actor, call.param("session_id"), call.body.answers, cant_talk=call.body.cant_talk)
        return SafeSpaceResult(passed=result.passed, ended=not result.passed)
