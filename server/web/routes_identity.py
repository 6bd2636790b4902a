"""Sign-in, sign-out, the current user, TOTP enrolment and client enrolment."""

from __future__ import annotations

import ipaddress
from functools import cache

from aiohttp import web

from server.errors import Unauthenticated
from server.identity.model import STAFF_ROLES, Actor
from server.identity.service import Authenticated
from server.web import schemas as s
from server.web.routing import COOKIE, Call, Permission, Registry, check_origin
from server.web.state import SERVICES

PUBLIC = Permission("sign in", public=True)
SIGNED_IN_MFA = Permission("finish signing in", during_mfa=True, checkin_session=True,
                           group_session=True)  # /api/me, sign-out
SIGNED_IN = Permission("use the API")
STAFF = STAFF_ROLES  # those who sign in with a second factor (identity/model.py), evaluators included
ENROL_MFA = Permission("enrol a second factor", roles=STAFF, during_mfa=True)


def me(actor: Actor, auth: Authenticated, *, require_staff_mfa: bool) -> s.Me:
    return s.Me(id=actor.user_id, username=actor.username, display_name=actor.display_name, role=actor.role.value,
                office_id=actor.office_id, locale=actor.locale, csrf_token=auth.session.csrf_token,
                mfa_enrolled=actor.mfa_enrolled, mfa_pending=auth.session.mfa_pending,
                mfa_enrolment_required=require_staff_mfa and actor.is_staff and not actor.mfa_enrolled)


def client_address(request: web.Request) -> str:
    """The address the throttles count a request against: the peer's, or behind a trusted proxy
    the one X-Forwarded-For gives for it. Without this every client behind nginx shares nginx's
    address, and the real user's success would clear an attacker's count again (issue 12)."""
    return forwarded_client(request.remote or "unknown", request.headers.getall("X-Forwarded-For", []),
                            request.app[SERVICES].settings.trusted_proxies)


def forwarded_client(peer: str, forwarded_for: list[str], trusted: tuple[str, ...]) -> str:
    """Walk X-Forwarded-For from the right while the hop is a trusted proxy: each proxy appends
    the address it was reached from, so the first untrusted hop is the client as the nearest
    trusted proxy saw it. Anything further left is what the client claimed, and is ignored."""
    networks = _networks(trusted)
    hop = peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",")]
    while _within(hop, networks) and hops:
        hop = hops.pop()
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return peer  # a proxy wrote something that is no address: count the request against the proxy


@cache
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in trusted)


def _within(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def is_browser(request: web.Request) -> bool:
    return "Origin" in request.headers or "Sec-Fetch-Site" in request.headers


def register(api: Registry) -> None:
    @api.route("POST", "/api/session", permission=PUBLIC, summary="Sign in", body=s.LoginRequest,
               response=s.SessionResponse, tag="identity",
               example={"username": "officer", "password": "tandem-demo"})
    async def login(call: Call[s.LoginRequest]) -> web.Response:
        services = call.request.app[SERVICES]
        check_origin(call.request)
        kind = call.body.kind or ("cookie" if is_browser(call.request) else "bearer")
        previous = call.request.cookies.get(COOKIE)
        result = await services.identity.login(call.body.username, call.body.password,
                                                address=client_address(call.request), kind=kind,
                                                previous_token=previous)
        auth = Authenticated(result.actor, result.session)
        body = s.SessionResponse(user=me(result.actor, auth, require_staff_mfa=services.settings.require_staff_mfa),
                                 csrf_token=result.session.csrf_token,
                                 token=result.token if kind == "bearer" else None,
                                 mfa_required=result.session.mfa_pending)
        response = web.json_response(s.to_builtins(body))
        if kind == "cookie":
            response.set_cookie(COOKIE, result.token, httponly=True, secure=services.settings.cookie_secure,
                                samesite="Strict", path="/",
                                max_age=int((result.session.expires_at - result.session.created_at).total_seconds()))
        elif previous:
            response.del_cookie(COOKIE, path="/")
        return response

    @api.route("POST", "/api/session/totp", permission=SIGNED_IN_MFA, summary="Second factor of a staff sign-in",
               body=s.TotpCode, response=s.SessionResponse, tag="identity", example={"code": "123456"})
    async def totp_login(call: Call[s.TotpCode]) -> s.SessionResponse:
        services = call.request.app[SERVICES]
        assert call.auth is not None
        auth = await services.identity.totp_complete(call.auth, call.body.code, address=client_address(call.request))
        return s.SessionResponse(user=me(auth.actor, auth, require_staff_mfa=services.settings.require_staff_mfa),
                                 csrf_token=auth.session.csrf_token, token=None,
                                 mfa_required=False)

    @api.route("DELETE", "/api/session", permission=SIGNED_IN_MFA, summary="Sign out", tag="identity")
    async def logout(call: Call[None]) -> web.Response:
        assert call.auth is not None
        await call.request.app[SERVICES].identity.logout(call.auth)
        response = web.Response(status=204)
        response.del_cookie(COOKIE, path="/")
        return response

    @api.route("GET", "/api/me", permission=SIGNED_IN_MFA, summary="The signed-in user", response=s.Me,
               tag="identity")
    async def get_me(call: Call[None]) -> s.Me:
        if call.auth is None:
            raise Unauthenticated("Not signed in")
        return me(call.actor, call.auth, require_staff_mfa=call.request.app[SERVICES].settings.require_staff_mfa)

    @api.route("POST", "/api/me/totp", permission=ENROL_MFA, summary="Start TOTP enrolment", response=s.TotpBegin,
               tag="identity")
    async def totp_begin(call: Call[None]) -> s.TotpBegin:
        secret, uri = await call.request.app[SERVICES].identity.totp_begin(call.actor)
        return s.TotpBegin(secret=secret, otpauth_uri=uri)

    @api.route("POST", "/api/me/totp/confirm", permission=ENROL_MFA, summary="Confirm TOTP enrolment",
               body=s.TotpCode, response=s.RecoveryCodes, tag="identity", example={"code": "123456"})
    async def totp_confirm(call: Call[s.TotpCode]) -> s.RecoveryCodes:
        codes = await call.request.app[SERVICES].identity.totp_confirm(call.actor, call.body.code)
        return s.RecoveryCodes(recovery_codes=codes)

    @api.route("POST", "/api/enrol", permission=PUBLIC, summary="A client sets their password with a one-time code",
               body=s.EnrolRequest, response=s.EnrolResponse, tag="identity",
               example={"code": "AAAAAA-BBBBBB-CCCCCC", "password": "a-long-password"})
    async def enrol(call: Call[s.EnrolRequest]) -> s.EnrolResponse:
        username = await call.request.app[SERVICES].identity.redeem_enrolment_code(
            call.body.code, call.body.password, address=client_address(call.request))
        return s.EnrolResponse(username=username)
