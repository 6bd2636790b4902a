"""Mounting declared routes: parse, authorise, call the handler, render JSON."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from server.errors import UnsupportedMediaType
from server.web.routing import Call, RouteSpec, authenticate, authorise, check_csrf, decode_body, decode_query
from server.web.state import SERVICES

_JSON_TYPES = ("application/json",)


def make_handler(spec: RouteSpec) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        services = request.app[SERVICES]
        settings = services.settings
        auth = None if spec.permission.public else await authenticate(request, services.identity)
        if auth is not None:
            check_csrf(request, auth)
            if auth.actor.cross_office:
                await services.identity.audit_cross_office(auth.actor, spec.method, spec.path, request.path)
        authorise(spec.permission, auth, require_staff_mfa=settings.require_staff_mfa, path_params=request.match_info)
        body: Any = None
        if spec.body is not None:
            if request.content_type not in _JSON_TYPES:
                raise UnsupportedMediaType("Send the body as application/json")
            if request.content_length is not None and request.content_length > settings.max_body_bytes:
                raise web.HTTPRequestEntityTooLarge(max_size=settings.max_body_bytes,
                                                    actual_size=request.content_length)
            body = decode_body(await request.read(), spec.body, settings.max_body_bytes)
        elif spec.raw_body:
            if request.content_type not in spec.raw_body:
                raise UnsupportedMediaType(f"Send the body as one of: {', '.join(spec.raw_body)}",
                                           reason="request.media_type", params={"types": ", ".join(spec.raw_body)})
            # The handler reads the body itself, in chunks, under its own size limit.
        elif request.can_read_body and request.method not in ("GET", "HEAD", "DELETE"):
            await request.read()  # drain, bounded by client_max_size
        query = decode_query(request, spec.query) if spec.query is not None else None
        result = await spec.handler(Call(request, auth, body, query))
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204 if spec.status == 200 else spec.status)
        return web.Response(status=spec.status, body=msgspec.json.encode(result), content_type="application/json")

    handle.__name__ = f"api_{spec.method.lower()}_{spec.path}"
    return handle


def mount(app: web.Application, specs: list[RouteSpec]) -> None:
    for spec in specs:
        app.router.add_route(spec.method, spec.path, make_handler(spec))
