"""One-time join links of group sessions over HTTP (issue 14), as check-ins have them: those
who run a session make a participant's link; the link's code, spent once, opens a session
(cookie or bearer) that reaches this group session only (``Permission.group_session``).
"""

from __future__ import annotations

from aiohttp import web
from msgspec import Struct

from server.identity.service import Authenticated
from server.web import schemas as s
from server.web.routes_checkins import CodeSession, LinkOut
from server.web.routes_group_sessions import RUNNERS
from server.web.routes_identity import client_address, is_browser, me
from server.web.routing import COOKIE, Call, Permission, Registry, check_origin
from server.web.state import SERVICES

LINK = Permission("make a participant's join link for a group session", roles=RUNNERS)
PUBLIC = Permission("use a group session link", public=True)


class GroupCodeSessionOut(Struct, kw_only=True, omit_defaults=True):
    user: s.Me
    csrf_token: str
    group_session_id: str
    group_id: str  # the session's group: its confidentiality agreement is readable with this session
    token: str | None = None


def register(api: Registry) -> None:
    @api.route("POST", "/api/group-sessions/{session_id}/participants/{user_id}/link", permission=LINK,
               summary="A one-time code for a participant's join link to this session", response=LinkOut,
               status=201, tag="group sessions")
    async def link(call: Call[None]) -> LinkOut:
        session_id = call.param("session_id")
        code, expires = await call.request.app[SERVICES].group_links.issue_link(call.actor, session_id,
                                                                                call.param("user_id"))
        return LinkOut(code=code, path=f"/#/group-join?s={session_id}&code={code}", expires_at=expires)

    @api.route("POST", "/api/group-sessions/{session_id}/code-session", permission=PUBLIC,
               summary="Exchange a link's one-time code for a session limited to this group session",
               body=CodeSession, response=GroupCodeSessionOut, tag="group sessions", example={"code": "CODE"})
    async def code_session(call: Call[CodeSession]) -> web.Response:
        services = call.request.app[SERVICES]
        check_origin(call.request)
        kind = call.body.kind or ("cookie" if is_browser(call.request) else "bearer")
        result, group_id = await services.group_links.code_session(call.param("session_id"), call.body.code, kind=kind,
                                                         address=client_address(call.request))
        auth = Authenticated(result.actor, result.session)
        body = GroupCodeSessionOut(user=me(result.actor, auth, require_staff_mfa=services.settings.require_staff_mfa),
                                   csrf_token=result.session.csrf_token, group_session_id=call.param("session_id"),
                                   group_id=group_id,
                                   token=result.token if kind == "bearer" else None)
        response = web.json_response(s.to_builtins(body))
        if kind == "cookie":
            response.set_cookie(COOKIE, result.token, httponly=True, secure=services.settings.cookie_secure,
                                samesite="Strict", path="/",
                                max_age=max(60, int((result.session.expires_at - result.session.created_at)
                                                    .total_seconds())))
        return response
