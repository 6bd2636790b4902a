"""Web Push over HTTP: the VAPID public key, and a browser's subscription on and off.

The push worker runs in the background (``background``, a ``cleanup_ctx``) and asks
the gateway, through ``presence``, who has an open connection on this node.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from aiohttp import web
from msgspec import Meta, Struct

from server.web import schemas as s
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

# Every signed-in user may be notified of their own conversations on their own devices.
NOTIFY = Permission("receive notifications on their devices")

Base64Url = r"^[A-Za-z0-9_-]+={0,2}$"
Endpoint = Annotated[str, Meta(min_length=8, max_length=2048)]

EXAMPLE_ENDPOINT = "https://fcm.googleapis.com/fcm/send/tandem-example"
EXAMPLE_KEYS = {"p256dh": "BD7Xoo7GSO3OXVt-JS9rKq-7RINRFKJLPKqPcQ9kmTvCVxGjTNySKQgLY58Jl3_rfKkezOFkm_6orYXHKyBq3n4",
                "auth": "AAECAwQFBgcICQoLDA0ODw"}


class PushKey(Struct, kw_only=True):
    public_key: str  # base64url uncompressed P-256 point: PushManager.subscribe's applicationServerKey


class PushKeys(s.Strict, kw_only=True):
    p256dh: Annotated[str, Meta(min_length=86, max_length=90, pattern=Base64Url)]
    auth: Annotated[str, Meta(min_length=22, max_length=24, pattern=Base64Url)]


class Subscribe(s.Strict, kw_only=True):
    """``PushSubscription.toJSON()`` as the browser gives it."""

    endpoint: Endpoint
    keys: PushKeys
    expirationTime: float | None = None  # the browser's name; not used


class Unsubscribe(s.Strict, kw_only=True):
    endpoint: Endpoint


async def background(app: web.Application) -> AsyncIterator[None]:
    push = app[SERVICES].push
    await push.start()
    yield
    await push.close()


def register(api: Registry) -> None:
    @api.route("GET", "/api/push/key", permission=NOTIFY, summary="The server's VAPID public key",
               response=PushKey, tag="push")
    async def key(call: Call[None]) -> PushKey:
        return PushKey(public_key=call.request.app[SERVICES].push.vapid.public_key)

    @api.route("POST", "/api/push/subscriptions", permission=NOTIFY,
               summary="Receive content-free notifications of new messages on this browser", body=Subscribe,
               tag="push", example={"endpoint": EXAMPLE_ENDPOINT, "keys": EXAMPLE_KEYS, "expirationTime": None})
    async def subscribe(call: Call[Subscribe]) -> None:
        b = call.body
        await call.request.app[SERVICES].push.subscribe(call.actor, b.endpoint, b.keys.p256dh, b.keys.auth)

    @api.route("DELETE", "/api/push/subscriptions", permission=NOTIFY,
               summary="Stop notifications on this browser", body=Unsubscribe, tag="push",
               example={"endpoint": EXAMPLE_ENDPOINT})
    async def unsubscribe(call: Call[Unsubscribe]) -> None:
        await call.request.app[SERVICES].push.unsubscribe(call.actor, call.body.endpoint)
