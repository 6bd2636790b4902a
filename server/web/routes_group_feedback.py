""""How did this go?" after a live group session over HTTP (issue 16): a participant who attended
and the session's staff answer once each (``server/groups/feedback.py`` decides, refusals name
rule ``scope``). A session opened from the session's join link reaches its own session only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from server.groups.feedback import MAX_COMMENT
from server.web import schemas as s
from server.web.routes_evaluation import FeedbackOut
from server.web.routes_group_sessions import MEMBERS
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

FEEDBACK = Permission("answer \"How did this go?\" after a live group session", roles=MEMBERS, group_session=True)


class GroupFeedbackIn(s.Strict, kw_only=True):
    face: Literal[1, 2, 3]
    comment: Annotated[str, Meta(max_length=MAX_COMMENT)] = ""


def register(api: Registry) -> None:
    @api.route("POST", "/api/group-sessions/{session_id}/feedback", permission=FEEDBACK, body=GroupFeedbackIn,
               response=FeedbackOut, status=201, tag="group sessions", example={"face": 3, "comment": ""},
               summary="Answer \"How did this go?\" once after a live group session (a face, an optional "
                       "comment kept 30 days)")
    async def give_feedback(call: Call[GroupFeedbackIn]) -> FeedbackOut:
        feedback_id = await call.request.app[SERVICES].group_feedback.give(
            call.actor, call.param("session_id"), face=call.body.face, comment=call.body.comment)
        return FeedbackOut(id=feedback_id)
