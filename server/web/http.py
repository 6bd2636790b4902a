"""HTTP edge middleware: error translation, access logs, metrics, security headers.

Errors: every failure leaves as ``{"error": {"code", "message", "rule_id"?, "reason"?, "params"?,
"field"?}}``; a
TandemError keeps its code and status, aiohttp's own HTTP errors keep their status,
and anything unexpected is logged with a traceback and answered as a bare 500.
Logs carry method, route, status and duration, never bodies, cookies or tokens.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram

from server.errors import OutOfScope, PolicyRefused, RateLimited, TandemError
from server.ids import new_id

log = logging.getLogger("tandem.http")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=(), payment=()",
}
HTTP_CODES = {400: "invalid_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
              429: "rate_limited"}

RequestHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, code: str, message: str, rule_id: str | None = None, *,
                   detail: dict[str, object] | None = None) -> web.Response:
    body: dict[str, object] = detail or {"code": code, "message": message}
    if rule_id is not None:
        body["rule_id"] = rule_id
    return web.Response(status=status, body=msgspec.json.encode({"error": body}), content_type="application/json")


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("tandem_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=registry)
        self.latency = Histogram("tandem_http_request_seconds", "HTTP request duration", ["method", "route"],
                                 registry=registry)
        self.refusals = Counter("tandem_policy_refusals_total", "Requests refused by a policy rule", ["rule_id"],
                                registry=registry)


def route_name(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


def make_edge_middleware(metrics: HttpMetrics) -> Middleware:
    @web.middleware
    async def edge(request: web.Request, handler: RequestHandler) -> web.StreamResponse:
        start = time.perf_counter()
        request_id = new_id()[:16]
        status = 500
        try:
            try:
                response = await handler(request)
            except TandemError as err:
                if isinstance(err, PolicyRefused) or err.rule_id is not None:
                    metrics.refusals.labels(err.rule_id or "unknown").inc()
                elif isinstance(err, OutOfScope):
                    metrics.refusals.labels(err.refused_by).inc()
                response = error_response(err.status, err.code, err.message, detail=err.detail())
                if isinstance(err, RateLimited):
                    response.headers["Retry-After"] = str(int(err.retry_after) + 1)
            except web.HTTPException as exc:
                if exc.status < 400:
                    raise
                code = HTTP_CODES.get(exc.status, "http_error")
                response = error_response(exc.status, code, exc.reason or code)
                if exc.status == 405 and "Allow" in exc.headers:
                    response.headers["Allow"] = exc.headers["Allow"]
            except Exception:
                log.exception("unhandled error", extra={"request_id": request_id, "route": route_name(request)})
                response = error_response(500, "internal_error", "Something went wrong on our side")
            status = response.status
            response.headers["X-Request-Id"] = request_id
            return response
        finally:
            elapsed = time.perf_counter() - start
            route = route_name(request)
            metrics.requests.labels(request.method, route, str(status)).inc()
            metrics.latency.labels(request.method, route).observe(elapsed)
            log.info("request", extra={"request_id": request_id, "method": request.method, "route": route,
                                       "status": status, "ms": round(elapsed * 1000, 2)})

    return edge


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    if request.secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
