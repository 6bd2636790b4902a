"""The /ws gateway: same session as HTTP, strict frames, bounded outbox, bus forwarding."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from server.app import GATEWAY
from tests.helpers.world import PASSWORD, build, login


async def hello(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    await ws.send_json({"type": "hello"})
    msg: dict[str, Any] = await ws.receive_json(timeout=5)
    return msg


async def test_ws_requires_a_session(api: Any) -> None:
    client, services = api
    await build(services)
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect("/ws")
    assert err.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/ws", headers={"Authorization": "Bearer forged"})


async def test_cookie_ws_refuses_cross_origin(api: Any) -> None:
    client, services = api
    await build(services)
    await client.post("/api/session", json={"username": "client", "password": PASSWORD, "kind": "cookie"})
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/ws", headers={"Origin": "http://evil.example"})
    ws = await client.ws_connect("/ws", headers={"Origin": f"http://{client.host}:{client.port}"})
    assert (await hello(ws))["type"] == "welcome"
    await ws.close()


async def test_hello_ping_and_bad_frames(api: Any) -> None:
    client, services = api
    await build(services)
    ws = await client.ws_connect("/ws", headers=await login(client, "client"))
    await ws.send_json({"type": "ping", "id": "p0"})
    early = await ws.receive_json(timeout=5)
    assert early["type"] == "error" and early["code"] == "protocol_error"
    welcome = await hello(ws)
    assert welcome["type"] == "welcome" and welcome["role"] == "client"
    await ws.send_json({"type": "hello"})
    assert (await ws.receive_json(timeout=5))["code"] == "protocol_error"
    await ws.send_json({"type": "ping", "id": "p1"})
    assert await ws.receive_json(timeout=5) == {"type": "pong", "id": "p1"}
    # Over 16 KiB: an error frame while under the largest frame type's limit (group.join's
    # offer, 33 KiB), then the socket closes (code 1009).
    for bad in ("{", '{"type":"warp"}', '{"type":"ping","x":1}', "x" * 20_000, "x" * 40_000):
        await ws.send_str(bad)
        if len(bad) > 34 * 1024:
            msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
            break
        reply = await ws.receive_json(timeout=5)
        assert reply["type"] == "error" and reply["code"] in ("malformed_frame", "invalid_frame")
    await ws.close()
    # The server is unaffected.
    assert (await client.get("/healthz")).status == 200


async def test_bus_messages_reach_the_users_connection(api: Any) -> None:
    client, services = api
    w = await build(services)
    ws = await client.ws_connect("/ws", headers=await login(client, "client"))
    await hello(ws)
    await services.bus.publish(f"user.{w.users['client']}", b'{"type":"nudge"}')
    assert await ws.receive_json(timeout=5) == {"type": "nudge"}
    await ws.close()


async def test_slow_consumer_is_cut_off_with_a_reason_without_stalling_others(api: Any) -> None:
    client, services = api
    w = await build(services)
    gateway = client.server.app[GATEWAY]
    slow = await client.ws_connect("/ws", headers=await login(client, "client"))
    await hello(slow)
    fast = await client.ws_connect("/ws", headers=await login(client, "officer"))
    await hello(fast)
    conn = next(c for c in gateway.connections if c.auth.actor.user_id == w.users["client"])
    # Frames go straight into the socket until it pushes back (kernel and transport buffers
    # full: 32 MiB here is far more than they hold), then into the outbox, faster than
    # anything can drain it.
    pad = b"x" * 32 * 1024
    for i in range(gateway.outbox_limit * 4):
        conn.send(b'{"type":"filler","i":%d,"pad":"%s"}' % (i, pad))
    assert conn.closed_reason is not None and "slow consumer" in conn.closed_reason
    await services.bus.publish(f"user.{w.users['officer']}", b'{"type":"still-here"}')
    assert await fast.receive_json(timeout=5) == {"type": "still-here"}
    close_code = None
    for _ in range(gateway.outbox_limit * 4 + 2):
        msg = await slow.receive(timeout=5)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            close_code = slow.close_code
            break
    assert close_code == 4008
    await fast.close()
    await asyncio.sleep(0)


async def test_frame_floods_are_refused_then_cut_off(api: Any) -> None:
    client, services = api
    await build(services)
    gateway = client.server.app[GATEWAY]
    ws = await client.ws_connect("/ws", headers=await login(client, "client"))
    await hello(ws)
    burst = gateway.frame_burst
    for i in range(burst + 5):
        await ws.send_json({"type": "ping", "id": str(i)})
    replies = [await ws.receive_json(timeout=5) for _ in range(burst + 5)]
    kinds = [r["type"] for r in replies]
    assert kinds.count("pong") >= burst - 1 and "error" in kinds
    assert all(r["code"] == "rate_limited" for r in replies if r["type"] == "error")
    # Each refusal names the frame it refused, and every frame is answered once.
    answered = [r["id"] if r["type"] == "pong" else r["ref"] for r in replies]
    assert sorted(answered) == sorted(str(i) for i in range(burst + 5))
    # A peer that ignores the refusals is disconnected with a reason.
    for i in range(200):
        await ws.send_json({"type": "ping", "id": f"f{i}"})
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            break
    assert ws.close_code == 4029
    assert (await client.get("/healthz")).status == 200


async def test_shutdown_tells_clients_to_reconnect(app_factory: Any) -> None:
    client, services = await app_factory()
    await build(services)
    ws = await client.ws_connect("/ws", headers=await login(client, "client"))
    await hello(ws)
    await client.server.app.shutdown()
    msg = await ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and ws.close_code == 1001


async def test_staff_without_required_second_factor_cannot_open_a_socket(app_factory: Any) -> None:
    client, services = await app_factory(require_staff_mfa=True)
    await build(services)
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect("/ws", headers=await login(client, "officer"))
    assert err.value.status == 403
    ws = await client.ws_connect("/ws", headers=await login(client, "client"))  # clients need none
    assert (await hello(ws))["type"] == "welcome"
    await ws.close()
