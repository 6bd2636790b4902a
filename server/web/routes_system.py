"""Health, readiness, metrics, the OpenAPI document and the static web client."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import text

from server.web.openapi import document
from server.web.state import SERVICES, Services


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _checks(services: Services) -> tuple[bool, dict[str, str]]:
    checks: dict[str, str] = {}
    try:
        async with services.store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as err:  # readiness reports, it never raises
        checks["database"] = f"down: {type(err).__name__}"
    checks["bus"] = "ok" if services.bus.healthy else "down"
    try:
        checks["policies"] = f"version {services.policy.meta.version}"
    except RuntimeError:
        checks["policies"] = "not loaded"
    ready = checks["database"] == "ok" and checks["bus"] == "ok" and checks["policies"].startswith("version")
    return ready, checks


async def readyz(request: web.Request) -> web.Response:
    ready, checks = await _checks(request.app[SERVICES])
    return web.json_response({"status": "ready" if ready else "not ready", "checks": checks},
                             status=200 if ready else 503)


class Readiness:
    """What /readyz answers, as gauges set at every scrape (the alert rules in deploy/prometheus/ use them)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ready = Gauge("tandem_ready", "1 when this node is ready (database, bus and policies), as /readyz",
                           registry=registry)
        self.bus_up = Gauge("tandem_bus_up", "1 while this node's bus (Redis) is connected", registry=registry)
        self.database_up = Gauge("tandem_database_up", "1 when this node's last database probe succeeded",
                                 registry=registry)

    async def update(self, services: Services) -> None:
        ready, checks = await _checks(services)
        self.ready.set(1 if ready else 0)
        self.bus_up.set(1 if checks["bus"] == "ok" else 0)
        self.database_up.set(1 if checks["database"] == "ok" else 0)


READINESS = web.AppKey("readiness", Readiness)


async def metrics(request: web.Request) -> web.Response:
    await request.app[READINESS].update(request.app[SERVICES])
    body = generate_latest(request.app[SERVICES].metrics)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    doc = document(request.app[SERVICES].registry.routes)
    return web.Response(body=msgspec.json.encode(doc), content_type="application/json")


# Files served from the web root itself rather than a sub-directory: a service worker
# controls only the pages under its own path, so /sw.js must sit at the root to serve
# the whole app (then no Service-Worker-Allowed header is needed). Both are revalidated
# on every load so a new release reaches phones at once.
ROOT_FILES = {"sw.js": "text/javascript", "manifest.webmanifest": "application/manifest+json"}


def add_static(app: web.Application, root: Path) -> None:
    index = root / "index.html"

    async def index_page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    def root_file(path: Path, content_type: str) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
        async def serve(request: web.Request) -> web.FileResponse:
            return web.FileResponse(path, headers={"Cache-Control": "no-cache", "Content-Type": content_type})
        return serve

    app.router.add_get("/", index_page)
    for name, content_type in ROOT_FILES.items():
        if (root / name).is_file():
            app.router.add_get(f"/{name}", root_file(root / name, content_type))
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        app.router.add_static(f"/{sub.name}/", sub, follow_symlinks=False, append_version=False)


#: Which node answered (host name and port), on every response, WebSocket upgrades included: behind
#: nginx's least_conn an operator (and tests/deploy/) can tell the nodes apart.
NODE_HEADER = "X-Tandem-Node"


def node_header(port: int) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    node = f"{socket.gethostname()}:{port}"

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        response.headers[NODE_HEADER] = node
    return add


def register(app: web.Application, web_root: Path) -> None:
    app[READINESS] = Readiness(app[SERVICES].metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/openapi.json", openapi)
    if web_root.is_dir():
        add_static(app, web_root)
