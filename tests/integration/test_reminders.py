"""Reminders with a FakeClock: each offset (24 h, 15 min) sent once to each party, in-app as
a ``reminder`` frame over /ws and, to whoever it reached on no node, as a content-free Web
Push the test decrypts as a browser would. Once across restarts and racing nodes, never for
a cancelled appointment, and only the closest reminder when several fall due at once.
SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.bus.redis import RedisBus
from server.store.schema import appointment_reminders
from tests.helpers.services import REDIS_URL, require_redis
from tests.helpers.world import build, login
from tests.integration.test_messaging import connect, next_of
from tests.integration.test_push import Browser, start_push_endpoint, subscribe, wait_healthy, wait_unsubscribed

START = datetime.fromisoformat("2026-01-07T10:00:00+00:00")  # the FakeClock starts 2026-01-05 09:00 UTC
LOCATION = "Probation office, Tallinn road 5"
PUSH_TO_LOOPBACK = {"push_allow_loopback_http": True}  # conftest keeps the background pass away: tests call run_once()


async def make(client: Any, headers: dict[str, str], case_id: str, start: datetime, kind: str = "video") -> str:
    resp = await client.post(f"/api/cases/{case_id}/appointments", headers=headers, json={
        "kind": kind, "starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=30)).isoformat(),
        "location": LOCATION})
    assert resp.status == 201, await resp.text()
    appointment_id: str = (await resp.json())["appointments"][0]["id"]
    return appointment_id


async def recorded(services: Any) -> list[tuple[str, int, bool]]:
    async with services.store.read("t") as conn:
        rows = await conn.execute(select(appointment_reminders.c.user_id, appointment_reminders.c.offset_s,
                                         appointment_reminders.c.delivered)
                                  .order_by(appointment_reminders.c.offset_s.desc(), appointment_reminders.c.user_id))
        return [(r.user_id, int(r.offset_s), bool(r.delivered)) for r in rows]


def move_to(services: Any, moment: datetime) -> None:
    services.clock.advance(moment - services.clock.now())


async def test_each_offset_is_sent_once_in_app_and_by_content_free_push(app_factory: Any,
                                                                         aiohttp_server: Any) -> None:
    push = await start_push_endpoint(aiohttp_server)
    client, services = await app_factory(**PUSH_TO_LOOPBACK)
    w = await build(services)
    c_h = await login(client, "client")
    phone = Browser(f"{push.base}/client-phone")
    await subscribe(client, c_h, phone)
    appt = await make(client, await login(client, "officer"), w.cases["own"], START)
    assert await services.reminders.run_once() == 0  # two days ahead: nothing due
    move_to(services, START - timedelta(hours=24))
    officer_ws = await connect(client, await login(client, "officer"))  # the officer is online, the client not
    assert await services.reminders.run_once() == 2
    frame = await next_of(officer_ws, "reminder")
    assert frame["appointment_id"] == appt and frame["offset_s"] == 86400 and frame["kind"] == "video"
    assert frame["starts_at"] == "2026-01-07T10:00:00Z"
    await services.push.drain()
    [(headers, body)] = push.to("/client-phone")
    assert phone.decrypt(body) == {"type": "reminder", "appointment_id": appt}
    for leak in (b"video", b"2026", b"10:00", b"Tallinn", b"Client", b"Officer"):
        assert leak not in body and leak not in json.dumps(headers).encode()
    # Once: a second pass, and a restarted node on the same database, send nothing more.
    assert await services.reminders.run_once() == 0
    _client2, restarted = await app_factory(**PUSH_TO_LOOPBACK)
    assert await restarted.reminders.run_once() == 0
    # 15 minutes before: the second offset, once; the client is online now and gets the frame.
    move_to(services, START - timedelta(minutes=15))
    c_ws = await connect(client, await login(client, "client"))
    assert await services.reminders.run_once() == 2
    assert (await next_of(c_ws, "reminder"))["offset_s"] == 900
    assert (await next_of(officer_ws, "reminder"))["offset_s"] == 900
    await services.push.drain()
    assert len(push.to("/client-phone")) == 1  # online: no second push
    move_to(services, START + timedelta(minutes=1))
    assert await services.reminders.run_once() == 0
    client_id, officer_id = w.users["client"], w.users["officer"]
    assert sorted(await recorded(services)) == sorted([(client_id, 86400, True), (officer_id, 86400, True),
                                                       (client_id, 900, True), (officer_id, 900, True)])
    listed = (await (await client.get("/api/reminders", headers=await login(client, "client"))).json())["reminders"]
    assert [(r["appointment_id"], r["offset_s"]) for r in listed] == [(appt, 900), (appt, 86400)]
    await c_ws.close()
    await officer_ws.close()


async def test_short_notice_sends_only_the_closest_reminder(app_factory: Any) -> None:
    client, services = await app_factory(**PUSH_TO_LOOPBACK)
    w = await build(services)
    o_h = await login(client, "officer")
    await make(client, o_h, w.cases["own"], services.clock.now() + timedelta(minutes=10), kind="phone")
    assert await services.reminders.run_once() == 2
    assert await services.reminders.run_once() == 0
    client_id, officer_id = w.users["client"], w.users["officer"]
    assert sorted(await recorded(services)) == sorted([(client_id, 86400, False), (officer_id, 86400, False),
                                                       (client_id, 900, True), (officer_id, 900, True)])
    listed = (await (await client.get("/api/reminders", headers=await login(client, "client"))).json())["reminders"]
    assert [r["offset_s"] for r in listed] == [900]


async def test_cancelled_and_moved_appointments(app_factory: Any) -> None:
    client, services = await app_factory(**PUSH_TO_LOOPBACK)
    w = await build(services)
    o_h = await login(client, "officer")
    gone = await make(client, o_h, w.cases["own"], START)
    moved = await make(client, o_h, w.cases["own"], START + timedelta(hours=2))
    resp = await client.post(f"/api/appointments/{gone}/cancel", headers=o_h, json={"scope": "one"})
    assert resp.status == 200
    move_to(services, START - timedelta(hours=21))
    assert await services.reminders.run_once() == 2  # only the one still on, to both parties
    # Moved two days later: its 24 h reminder is due again before the new time, and sent then.
    o_h = await login(client, "officer")
    resp = await client.patch(f"/api/appointments/{moved}", headers=o_h,
                              json={"starts_at": (START + timedelta(days=2)).isoformat()})
    assert resp.status == 200, await resp.text()
    assert await services.reminders.run_once() == 0
    move_to(services, START + timedelta(days=1))
    assert await services.reminders.run_once() == 2
    async with services.store.read("t") as conn:
        ids = (await conn.execute(select(appointment_reminders.c.appointment_id))).scalars().all()
    assert gone not in ids


async def test_racing_nodes_send_each_reminder_once(app_factory: Any) -> None:
    client, services = await app_factory(**PUSH_TO_LOOPBACK)
    w = await build(services)
    _c2, other = await app_factory(**PUSH_TO_LOOPBACK)
    o_h = await login(client, "officer")
    for i in range(5):
        await make(client, o_h, w.cases["own"], START + timedelta(hours=i))
    move_to(services, START - timedelta(minutes=10))  # both apps share the FakeClock
    sent = await asyncio.gather(services.reminders.run_once(), other.reminders.run_once(),
                                services.reminders.run_once())
    # Five appointments, two people each: the 10:00 one gets its 15-minute reminder (its 24 h one is
    # overtaken), the others their 24 h one; whichever node claims a reminder first sends it.
    assert sum(sent) == 10
    move_to(services, START + timedelta(hours=4) - timedelta(minutes=10))
    sent = await asyncio.gather(services.reminders.run_once(), other.reminders.run_once())
    assert sum(sent) == 2  # the 14:00 one's 15-minute reminder; the others have started
    assert len([r for r in await recorded(services) if r[2]]) == 12


async def test_the_background_task_sends_due_reminders(app_factory: Any) -> None:
    client, services = await app_factory(reminder_interval_s=1)  # a pass every second, in the background
    w = await build(services)
    await make(client, await login(client, "officer"), w.cases["own"], START)
    move_to(services, START - timedelta(minutes=14))
    c_ws = await connect(client, await login(client, "client"))
    frame = await next_of(c_ws, "reminder")  # within a few seconds, with no run_once() from the test
    assert frame["offset_s"] == 900
    await c_ws.close()


async def test_a_busy_day_is_read_in_batches_and_nobody_is_starved(app_factory: Any) -> None:
    client, services = await app_factory()
    services.reminders.batch = 2  # five appointments: three batches
    w = await build(services)
    o_h = await login(client, "officer")
    for i in range(5):
        await make(client, o_h, w.cases["own"], START + timedelta(minutes=i), kind="phone")
    move_to(services, START - timedelta(hours=23))
    assert await services.reminders.run_once() == 10
    assert await services.reminders.run_once() == 0


@pytest.mark.redis
async def test_a_reminder_reaching_the_client_on_another_node_is_not_pushed(app_factory: Any, aiohttp_server: Any,
                                                                           tmp_path: Path) -> None:
    """Node A sends the reminder while the client is connected to node B: the frame reaches them
    there, so no push; once they are offline everywhere, the next reminder is pushed."""
    require_redis()
    push = await start_push_endpoint(aiohttp_server)
    prefix = f"tandem-test-{tmp_path.name}:"
    api_a, node_a = await app_factory(**PUSH_TO_LOOPBACK, bus=RedisBus(REDIS_URL, prefix=prefix))
    api_b, node_b = await app_factory(**PUSH_TO_LOOPBACK, bus=RedisBus(REDIS_URL, prefix=prefix))
    for node in (node_a, node_b):
        await wait_healthy(node.bus)
    w = await build(node_a)
    c_h = await login(api_b, "client")
    phone = Browser(f"{push.base}/client-phone")
    await subscribe(api_b, c_h, phone)
    appt = await make(api_a, await login(api_a, "officer"), w.cases["own"], START)
    c_ws = await connect(api_b, c_h)
    move_to(node_a, START - timedelta(hours=24))
    assert await node_a.reminders.run_once() == 2
    assert (await next_of(c_ws, "reminder"))["appointment_id"] == appt  # live, through node B
    assert not node_a.push.is_online(w.users["client"])  # node A's own gateway would have pushed
    await node_a.push.drain()
    assert push.to("/client-phone") == []
    await c_ws.close()
    await wait_unsubscribed(f"{prefix}user.{w.users['client']}")  # node B leaves the client's channel
    move_to(node_a, START - timedelta(minutes=15))
    assert await node_a.reminders.run_once() == 2
    await node_a.push.drain()
    [(_, body)] = push.to("/client-phone")
    assert phone.decrypt(body) == {"type": "reminder", "appointment_id": appt}
