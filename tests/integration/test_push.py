"""Web Push: a real push endpoint on 127.0.0.1 receives the notification, which the test
decrypts as a browser would (ECDH P-256 key pair and auth secret, aes128gcm per RFC
8291) and finds content-free. Members a message reached live are not pushed, whichever
node holds their connection (two apps on one Redis); when the bus fails, members
connected to this node still are not; a push never delays the ack; endpoints that
answer 410 are forgotten. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import http_ece
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from py_vapid.jwt import decode as decode_jwt
from sqlalchemy import func, select

from server.bus.redis import RedisBus
from server.settings import SettingsError, load_vapid_key
from server.store.schema import audit_log, push_subscriptions
from tests.helpers.checkins import peer, schedule
from tests.helpers.http import error_of, row_counts
from tests.helpers.services import REDIS_URL, require_redis
from tests.helpers.world import build, login
from tests.integration.test_messaging import connect, conversation, next_of

SECRET = "the probation hostel has a room for you on Friday"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Browser:
    """What PushManager.subscribe() keeps on the device: an ECDH key pair and an auth secret."""

    endpoint: str
    private: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict[str, Any]:
        point = self.private.public_key().public_bytes(serialization.Encoding.X962,
                                                       serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.private, auth_secret=self.auth, version="aes128gcm")
        out: dict[str, Any] = json.loads(plain)
        return out


@dataclass
class PushEndpoint:
    """A push service on 127.0.0.1: records what it is sent; /gone/* answers 410."""

    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    base: str = ""

    def __post_init__(self) -> None:
        self.release.set()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        await self.release.wait()
        self.received.append((request.path, dict(request.headers), body))
        return web.Response(status=410 if request.path.startswith("/gone/") else 201)

    def to(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for p, h, b in self.received if p == path]


async def start_push_endpoint(aiohttp_server: Any) -> PushEndpoint:
    """A PushEndpoint served on 127.0.0.1 by pytest-aiohttp's ``aiohttp_server``."""
    ep = PushEndpoint()
    app = web.Application()
    app.router.add_post("/{tail:.*}", ep.handle)
    server = await aiohttp_server(app)
    ep.base = str(server.make_url("")).rstrip("/")
    return ep


@pytest.fixture
async def endpoint(aiohttp_server: Any) -> PushEndpoint:
    return await start_push_endpoint(aiohttp_server)


@pytest.fixture
async def push_api(app_factory: Any) -> Any:
    return await app_factory(push_allow_loopback_http=True)


async def subscribe(client: Any, headers: dict[str, str], browser: Browser) -> None:
    resp = await client.post("/api/push/subscriptions", json=browser.subscription(), headers=headers)
    assert resp.status == 204, await resp.text()


async def test_offline_member_gets_a_content_free_push_they_can_decrypt(push_api: Any, endpoint: PushEndpoint) -> None:
    client, services = push_api
    await build(services)
    c_h, o_h = await login(client, "client"), await login(client, "officer")
    key = (await (await client.get("/api/push/key", headers=c_h)).json())["public_key"]
    phone = Browser(f"{endpoint.base}/client-phone")
    await subscribe(client, c_h, phone)
    conv = await conversation(client, c_h, "case")
    o_ws = await connect(client, o_h)  # the client has no connection open
    await o_ws.send_json({"type": "send", "id": "m1", "conversation_id": conv["id"], "body": SECRET})
    await next_of(o_ws, "ack")
    await services.push.drain()
    [(headers, body)] = endpoint.to("/client-phone")
    assert phone.decrypt(body) == {"type": "new_message", "conversation_id": conv["id"]}
    for leak in (SECRET.encode(), b"Officer", b"Client", b"officer"):
        assert leak not in body and leak not in json.dumps(headers).encode()
    assert headers["Content-Encoding"] == "aes128gcm"
    assert headers["TTL"] == str(services.settings.push_ttl_s) and int(headers["TTL"]) <= 3600
    assert conv["id"] not in headers["Topic"]  # the push service sees the topic in clear
    # Signed with our VAPID key (RFC 8292) for this push service's origin.
    scheme, _, params = headers["Authorization"].partition(" ")
    assert scheme == "vapid" and Vapid02.verify(headers["Authorization"])
    parts = dict(p.split("=", 1) for p in params.split(","))
    assert parts["k"] == key
    claims = decode_jwt(parts["t"], key)
    assert claims["aud"] == endpoint.base and claims["sub"] == services.settings.vapid_subject
    await o_ws.close()


async def test_member_with_an_open_connection_is_not_pushed(push_api: Any, endpoint: PushEndpoint) -> None:
    client, services = push_api
    w = await build(services)
    c_h, o_h = await login(client, "client"), await login(client, "officer")
    await subscribe(client, c_h, Browser(f"{endpoint.base}/client-phone"))
    await subscribe(client, o_h, Browser(f"{endpoint.base}/officer-desk"))
    conv = await conversation(client, c_h, "case")
    c_ws, o_ws = await connect(client, c_h), await connect(client, o_h)
    await o_ws.send_json({"type": "send", "id": "m1", "conversation_id": conv["id"], "body": "hello"})
    await next_of(o_ws, "ack")
    assert (await next_of(c_ws, "message"))["body"] == "hello"
    await services.push.drain()
    assert endpoint.received == []  # the client is connected, the officer sent it
    # Once the client's connection is gone, the next message is pushed (to the client only).
    await pushed_once_offline(services, w, c_ws, o_ws, conv, endpoint)


async def pushed_once_offline(services: Any, w: Any, c_ws: Any, o_ws: Any, conv: dict[str, Any],
                              endpoint: Any) -> None:
    """The client's connection closes; the officer's next message is pushed, to the client only."""
    await c_ws.close()
    for _ in range(500):  # the server notices the close
        if not services.push.is_online(w.users["client"]):
            break
        await asyncio.sleep(0.01)
    await o_ws.send_json({"type": "send", "id": "m2", "conversation_id": conv["id"], "body": "still there?"})
    await next_of(o_ws, "ack")
    await services.push.drain()
    assert [p for p, _, _ in endpoint.received] == ["/client-phone"]
    await o_ws.close()


async def wait_unsubscribed(channel: str) -> None:
    """Until no node subscribes ``channel`` on Redis (a node leaves it after its last connection)."""
    admin = aioredis.from_url(REDIS_URL)
    try:
        for _ in range(500):
            if (await admin.pubsub_numsub(channel))[0][1] == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"a node never left {channel}")
    finally:
        await admin.aclose()


async def wait_healthy(bus: Any) -> None:
    for _ in range(500):
        if bus.healthy:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the bus never became healthy")


@pytest.mark.redis
async def test_a_member_connected_to_another_node_is_not_pushed(app_factory: Any, endpoint: PushEndpoint,
                                                                tmp_path: Path) -> None:
    """Node A stores the message, the client is connected to node B: it reaches them live there,
    so node A pushes nothing, although the client has no connection on node A."""
    require_redis()
    prefix = f"tandem-test-{tmp_path.name}:"
    api_a, node_a = await app_factory(push_allow_loopback_http=True, bus=RedisBus(REDIS_URL, prefix=prefix))
    api_b, node_b = await app_factory(push_allow_loopback_http=True, bus=RedisBus(REDIS_URL, prefix=prefix))
    for node in (node_a, node_b):
        await wait_healthy(node.bus)
    w = await build(node_a)
    c_h, o_h = await login(api_b, "client"), await login(api_a, "officer")
    phone = Browser(f"{endpoint.base}/client-phone")
    await subscribe(api_b, c_h, phone)
    conv = await conversation(api_b, c_h, "case")
    c_ws, o_ws = await connect(api_b, c_h), await connect(api_a, o_h)
    await o_ws.send_json({"type": "send", "id": "m1", "conversation_id": conv["id"], "body": "hello"})
    await next_of(o_ws, "ack")
    assert (await next_of(c_ws, "message"))["body"] == "hello"  # live, through node B
    assert not node_a.push.is_online(w.users["client"])  # node A's gateway alone would have pushed
    await node_a.push.drain()
    assert endpoint.received == []
    # Offline everywhere (node B has left the client's channel): node A pushes the next message.
    await c_ws.close()
    await wait_unsubscribed(f"{prefix}user.{w.users['client']}")
    await o_ws.send_json({"type": "send", "id": "m2", "conversation_id": conv["id"], "body": "still there?"})
    await next_of(o_ws, "ack")
    await node_a.push.drain()
    [(_, body)] = endpoint.to("/client-phone")
    assert len(endpoint.received) == 1
    assert phone.decrypt(body) == {"type": "new_message", "conversation_id": conv["id"]}
    await o_ws.close()


async def test_when_the_bus_fails_members_connected_here_are_still_not_pushed(
        app_factory: Any, endpoint: PushEndpoint) -> None:
    """No bus, nobody knows who was reached: this node's own connections decide, as before."""
    client, services = await app_factory(push_allow_loopback_http=True, bus=RedisBus("redis://127.0.0.1:1/0"))
    w = await build(services)
    c_h, o_h = await login(client, "client"), await login(client, "officer")
    await subscribe(client, c_h, Browser(f"{endpoint.base}/client-phone"))
    conv = await conversation(client, c_h, "case")
    c_ws, o_ws = await connect(client, c_h), await connect(client, o_h)
    await o_ws.send_json({"type": "send", "id": "m1", "conversation_id": conv["id"], "body": "hello"})
    await next_of(o_ws, "ack")  # stored; the publish failed
    await services.push.drain()
    assert endpoint.received == []
    await pushed_once_offline(services, w, c_ws, o_ws, conv, endpoint)


async def test_a_check_in_link_session_carries_no_messages_so_its_user_is_pushed(
        push_api: Any, endpoint: PushEndpoint) -> None:
    """A session limited to one check-in gets no bus traffic: the message did not reach the client
    live, although this node's gateway counts them as connected."""
    client, services = push_api
    w = await build(services)
    c_h, o_h = await login(client, "client"), await login(client, "officer")
    await subscribe(client, c_h, Browser(f"{endpoint.base}/client-phone"))
    conv = await conversation(client, c_h, "case")
    checkin_id = await schedule(services, w)
    link = await (await client.post(f"/api/checkins/{checkin_id}/link", headers=o_h)).json()
    resp = await client.post(f"/api/checkins/{checkin_id}/code-session", json={"code": link["code"], "kind": "bearer"})
    limited = await peer(client, {"Authorization": f"Bearer {(await resp.json())['token']}"})
    assert services.push.is_online(w.users["client"])
    o_ws = await connect(client, o_h)
    await o_ws.send_json({"type": "send", "id": "m1", "conversation_id": conv["id"], "body": "hello"})
    await next_of(o_ws, "ack")
    await services.push.drain()
    assert [p for p, _, _ in endpoint.received] == ["/client-phone"]
    await limited.close()
    await o_ws.close()


async def test_a_slow_push_service_never_delays_the_ack(push_api: Any, endpoint: PushEndpoint) -> None:
    client, services = push_api
    await build(services)
    c_h, o_h = await login(client, "client"), await login(client, "officer")
    await subscribe(client, c_h, Browser(f"{endpoint.base}/client-phone"))
    conv = await conversation(client, c_h, "case")
    o_ws = await connect(client, o_h)
    endpoint.release.clear()  # the push service hangs until released
    await o_ws.send_json({"type": "send", "id": "m1", "conversation_id": conv["id"], "body": "hello"})
    ack = await next_of(o_ws, "ack")
    assert ack["seq"] == 1 and endpoint.received == []
    endpoint.release.set()
    await services.push.drain()
    assert len(endpoint.to("/client-phone")) == 1
    await o_ws.close()


async def test_gone_subscriptions_are_forgotten(push_api: Any, endpoint: PushEndpoint) -> None:
    client, services = push_api
    await build(services)
    c_h, o_h = await login(client, "client"), await login(client, "officer")
    await subscribe(client, c_h, Browser(f"{endpoint.base}/client-phone"))
    await subscribe(client, c_h, Browser(f"{endpoint.base}/gone/old-phone"))
    conv = await conversation(client, c_h, "case")
    o_ws = await connect(client, o_h)
    for i in range(2):
        await o_ws.send_json({"type": "send", "id": f"m{i}", "conversation_id": conv["id"], "body": "x"})
        await next_of(o_ws, "ack")
        await services.push.drain()
    assert len(endpoint.to("/client-phone")) == 2 and len(endpoint.to("/gone/old-phone")) == 1
    async with services.store.read("t") as conn:
        left = (await conn.execute(select(push_subscriptions.c.endpoint))).scalars().all()
    assert left == [f"{endpoint.base}/client-phone"]
    await o_ws.close()


async def test_unsubscribe_stops_pushes_and_is_audited(push_api: Any, endpoint: PushEndpoint) -> None:
    client, services = push_api
    await build(services)
    c_h, o_h = await login(client, "client"), await login(client, "officer")
    phone = Browser(f"{endpoint.base}/client-phone")
    await subscribe(client, c_h, phone)
    await subscribe(client, c_h, phone)  # subscribing again is the same subscription
    # Someone else cannot switch off the client's device.
    resp = await client.delete("/api/push/subscriptions", json={"endpoint": phone.endpoint}, headers=o_h)
    assert resp.status == 204
    async with services.store.read("t") as conn:
        assert (await conn.execute(select(func.count()).select_from(push_subscriptions))).scalar_one() == 1
    resp = await client.delete("/api/push/subscriptions", json={"endpoint": phone.endpoint}, headers=c_h)
    assert resp.status == 204
    conv = await conversation(client, c_h, "case")
    o_ws = await connect(client, o_h)
    await o_ws.send_json({"type": "send", "id": "m1", "conversation_id": conv["id"], "body": "x"})
    await next_of(o_ws, "ack")
    await services.push.drain()
    assert endpoint.received == []
    async with services.store.read("t") as conn:
        actions = (await conn.execute(select(audit_log.c.action).where(audit_log.c.action.like("push.%"))
                                      .order_by(audit_log.c.seq))).scalars().all()
    assert actions == ["push.subscribe", "push.subscribe", "push.unsubscribe"]
    await o_ws.close()


async def test_a_shared_phone_notifies_only_its_last_subscriber(push_api: Any, endpoint: PushEndpoint) -> None:
    client, services = push_api
    w = await build(services)
    c_h, m_h = await login(client, "client"), await login(client, "mentor")
    phone = Browser(f"{endpoint.base}/shared")
    await subscribe(client, m_h, phone)
    await subscribe(client, c_h, Browser(phone.endpoint))  # same endpoint, new keys, another user
    async with services.store.read("t") as conn:
        rows = (await conn.execute(select(push_subscriptions))).all()
    assert [(r.user_id, r.endpoint) for r in rows] == [(w.users["client"], phone.endpoint)]


BAD_SUBSCRIPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("plain http", {"endpoint": "http://fcm.googleapis.com/fcm/send/x"}),
    ("unknown host", {"endpoint": "https://evil.example/fcm.googleapis.com"}),
    ("internal host", {"endpoint": "https://10.0.0.1/push"}),
    ("look-alike host", {"endpoint": "https://notfcm.googleapis.com.evil.example/x"}),
    ("credentials", {"endpoint": "https://user:pw@fcm.googleapis.com/x"}),
    ("not a url", {"endpoint": "fcm.googleapis.com/fcm/send/x"}),
    ("bad port", {"endpoint": "https://fcm.googleapis.com:99999/x"}),
    ("loopback", {"endpoint": "http://127.0.0.1:9/push"}),
    ("point off the curve", {"keys": {"p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": b64url(os.urandom(16))}}),
    ("short auth", {"keys": {"p256dh": Browser("").subscription()["keys"]["p256dh"], "auth": b64url(b"x" * 8)}}),
    ("unknown field", {"extra": 1}),
    ("missing keys", {"keys": None}),
]


async def test_bad_subscriptions_are_refused_and_write_nothing(api: Any) -> None:
    # The default app: production rules, no loopback endpoints.
    client, services = api
    await build(services)
    h = await login(client, "client")
    good = Browser("https://fcm.googleapis.com/fcm/send/abc").subscription()
    for why, change in BAD_SUBSCRIPTIONS:
        body = {**good, **change}
        if change.get("keys", 0) is None:
            del body["keys"]
        before = await row_counts(services)
        resp = await client.post("/api/push/subscriptions", json=body, headers=h)
        await error_of(resp, 422, "invalid_request")
        assert await row_counts(services) == before, why
    for endpoint in ("https://fcm.googleapis.com/fcm/send/abc", "https://updates.push.services.mozilla.com/wpush/v2/x",
                     "https://web.push.apple.com/QGk", "https://wns2-db5p.notify.windows.com/w/?token=x"):
        resp = await client.post("/api/push/subscriptions", json={**good, "endpoint": endpoint}, headers=h)
        assert resp.status == 204, endpoint


async def test_a_user_has_at_most_ten_devices(push_api: Any) -> None:
    client, services = push_api
    await build(services)
    h = await login(client, "client")
    for i in range(10):
        await subscribe(client, h, Browser(f"https://fcm.googleapis.com/fcm/send/{i}"))
    resp = await client.post("/api/push/subscriptions", json=Browser("https://fcm.googleapis.com/x").subscription(),
                             headers=h)
    await error_of(resp, 409, "conflict")


def test_vapid_key_file_is_created_once_and_validated(tmp_path: Path) -> None:
    pem = load_vapid_key({}, tmp_path)
    path = tmp_path / "vapid.pem"
    assert path.read_bytes() == pem and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_vapid_key({}, tmp_path) == pem  # kept across restarts
    other = tmp_path / "elsewhere.pem"
    with pytest.raises(SettingsError, match="TANDEM_VAPID_PRIVATE_KEY_FILE"):
        load_vapid_key({"TANDEM_VAPID_PRIVATE_KEY_FILE": str(other)}, tmp_path)
    other.write_text("not a key")
    with pytest.raises(SettingsError, match="not an unencrypted PEM"):
        load_vapid_key({"TANDEM_VAPID_PRIVATE_KEY_FILE": str(other)}, tmp_path)
    other.write_bytes(ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(SettingsError, match="P-256"):
        load_vapid_key({"TANDEM_VAPID_PRIVATE_KEY_FILE": str(other)}, tmp_path)
