"""Declared routes: every API route states its permission and its schemas.

One ``RouteSpec`` per route feeds three things: the aiohttp router (through
``Api.handler``), the OpenAPI document, and the role x route matrix test, which
fails when a route has no row. Handlers receive a parsed, authorised ``Call``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec
from aiohttp import web

from server.errors import (
    BadRequest,
    CsrfFailed,
    Forbidden,
    MalformedJson,
    MfaEnrolmentRequired,
    MfaRequired,
    PayloadTooLarge,
    Unauthenticated,
)
from server.identity.model import Actor, Role
from server.identity.service import Authenticated, IdentityService
from server.web.strict import validation_error

B = TypeVar("B")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COOKIE = "tandem_session"


@dataclass(frozen=True)
class Permission:
    """Who may call a route. ``roles`` None means any signed-in user.

    ``case_scoped`` routes are further decided per case by the policy engine's
    ``scope`` rule inside the service (the relation is only known with the case).
    """

    name: str
    roles: frozenset[Role] | None = None
    public: bool = False
    during_mfa: bool = False  # callable while the second factor is pending or not yet enrolled
    case_scoped: bool = False
    checkin_session: bool = False  # also open to a session limited to one check-in (issue 4)
    #: Also open to a session limited to one group session (a join link's code, issue 14); a path
    #: naming a ``{session_id}`` must name that one.
    group_session: bool = False


@dataclass(frozen=True)
class Call(Generic[B]):
    request: web.Request
    auth: Authenticated | None
    body: B
    query: Any

    @property
    def actor(self) -> Actor:
        assert self.auth is not None
        return self.auth.actor

    def param(self, name: str) -> str:
        return self.request.match_info[name]


Handler = Callable[[Call[Any]], Awaitable[Any]]


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    permission: Permission
    summary: str
    body: type | None = None
    query: type | None = None
    response: type | None = None
    status: int = 200
    tag: str = "api"
    example: dict[str, Any] | None = None  # a valid body, used by docs and the matrix test
    raw_body: tuple[str, ...] = ()  # media types of a body the handler streams itself, under its own limit
    raw_response: tuple[str, ...] = ()  # media types of a non-JSON response the handler builds


@dataclass
class Registry:
    routes: list[RouteSpec] = field(default_factory=list)

    def add(self, spec: RouteSpec) -> None:
        if any(r.method == spec.method and r.path == spec.path for r in self.routes):
            raise ValueError(f"route {spec.method} {spec.path} declared twice")
        self.routes.append(spec)

    def route(self, method: str, path: str, *, permission: Permission, summary: str, body: type | None = None,
              query: type | None = None, response: type | None = None, status: int = 200, tag: str = "api",
              example: dict[str, Any] | None = None, raw_body: tuple[str, ...] = (),
              raw_response: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.add(RouteSpec(method, path, fn, permission, summary, body, query, response, status, tag, example,
                               raw_body, raw_response))
            return fn

        return deco


def presented_token(request: web.Request) -> tuple[str | None, str]:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("Use 'Authorization: Bearer <token>'")
        return value.strip(), "bearer"
    return request.cookies.get(COOKIE), "cookie"


async def authenticate(request: web.Request, identity: IdentityService) -> Authenticated | None:
    token, via = presented_token(request)
    if not token:
        return None
    auth = await identity.authenticate(token)
    if auth.session.kind != via:
        # A cookie session's token is never accepted as a bearer token, nor the reverse.
        raise Unauthenticated("Not signed in")
    return auth


def check_csrf(request: web.Request, auth: Authenticated) -> None:
    """Cookie sessions must echo their CSRF token on unsafe methods (bearer needs none)."""
    if auth.session.kind != "cookie" or request.method in SAFE_METHODS:
        return
    sent = request.headers.get("X-CSRF-Token", "")
    if not sent or not hmac.compare_digest(sent.encode(), auth.session.csrf_token.encode()):
        raise CsrfFailed("Missing or wrong X-CSRF-Token header")
    check_origin(request)


def check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null":
        host = request.headers.get("Host", "")
        if origin.split("://", 1)[-1] != host:
            raise CsrfFailed("Cross-origin request refused")


def authorise(perm: Permission, auth: Authenticated | None, *, require_staff_mfa: bool,
              path_params: Mapping[str, str] | None = None) -> None:
    if perm.public:
        return
    if auth is None:
        raise Unauthenticated("Not signed in")
    actor = auth.actor
    if not perm.during_mfa:
        if auth.session.mfa_pending:
            raise MfaRequired("Enter the code from your authenticator app to finish signing in")
        if require_staff_mfa and actor.is_staff and not actor.mfa_enrolled:
            raise MfaEnrolmentRequired("Staff accounts must enrol a second factor first")
    if auth.session.checkin_id is not None and not perm.checkin_session:
        raise Forbidden("This session was opened from a check-in link and reaches that check-in only (rule scope)",
                        rule_id="scope")
    limited_to = auth.session.group_session_id
    if limited_to is not None and (not perm.group_session
                                   or (path_params or {}).get("session_id", limited_to) != limited_to):
        raise Forbidden("This session was opened from a group session link and reaches that session only "
                        "(rule scope)", rule_id="scope")
    if perm.roles is not None and actor.role not in perm.roles:
        raise Forbidden(f"Your role ({actor.role.value}) may not {perm.name} (rule scope)", rule_id="scope",
                        reason="scope.role", params={"role": actor.role.value})


def decode_body(raw: bytes, schema: type[B], limit: int) -> B:
    if len(raw) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes",
                              reason="request.too_large", params={"max_bytes": limit})
    try:
        return msgspec.json.decode(raw, type=schema, strict=True)
    except msgspec.ValidationError as err:
        raise validation_error(err) from None
    except msgspec.DecodeError as err:
        raise MalformedJson(f"Malformed JSON: {err}", reason="request.malformed_json") from None
    except RecursionError:
        # Free-form fields (a policy config) accept any JSON; a hostile depth must not be a 500.
        raise BadRequest("Invalid request: the JSON is nested too deeply", reason="request.too_deep") from None


def decode_query(request: web.Request, schema: type[Any]) -> Any:
    if len(request.query) != len(set(request.query.keys())):
        raise BadRequest("A query parameter is repeated", reason="request.repeated_parameter")
    try:
        return msgspec.convert(dict(request.query), schema, strict=False)
    except msgspec.ValidationError as err:
        raise validation_error(err, "query") from None
