"""Network meetings remind their members (issue 16, TUKO stage 2) on SQLite and PostgreSQL: in
scheduling's reminder pass, once each across passes and restarts, to the case's officer and the
members whose access lasts (not one whose last day has passed), by a push that names nothing but
the meeting's id; nothing once the process has closed; each reminder audited."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.identity.model import Actor, Role
from server.store.schema import audit_log
from server.store.schema_networks import network_meeting_reminders
from tests.helpers.world import PASSWORD, build, login
from tests.integration.test_group_calendar import PUSH_TO_LOOPBACK, move_to
from tests.integration.test_push import Browser, start_push_endpoint, subscribe


async def recorded(services: Any) -> list[tuple[str, int, bool]]:
    async with services.store.read("t") as conn:
        rows = await conn.execute(select(network_meeting_reminders.c.user_id, network_meeting_reminders.c.offset_s,
                                         network_meeting_reminders.c.delivered))
        return sorted((r.user_id, int(r.offset_s), bool(r.delivered)) for r in rows)


async def test_network_meetings_are_reminded_once_to_members_whose_access_lasts(app_factory: Any,
                                                                               aiohttp_server: Any) -> None:
    push = await start_push_endpoint(aiohttp_server)
    client, services = await app_factory(**PUSH_TO_LOOPBACK)
    w = await build(services)
    nets, officer, case = services.networks, w.actor("officer"), w.cases["own"]
    partners = {}
    for name in ("police", "social"):
        uid = await services.identity.create_user(None, username=name, display_name=name.title(), role=Role.PARTNER,
                                                  office_id=None, password=PASSWORD)
        partners[name] = Actor(uid, name, name.title(), Role.PARTNER, None, "en", False)
    now = services.clock.now()
    start = now + timedelta(days=2)
    await nets.raise_concern(officer, case, noticed="Threats by phone", noticed_by="Victim support")
    await nets.invite_member(officer, case, user_id=partners["police"].user_id, agency="Police",
                             ends_on=now.date() + timedelta(days=30))
    await nets.invite_member(officer, case, user_id=partners["social"].user_id, agency="Social work",
                             ends_on=now.date())  # their last day is today: over before the reminder
    await nets.invite_member(officer, case, user_id=w.clients["own"], agency="Client",
                             ends_on=now.date() + timedelta(days=30))
    meeting = await nets.schedule_meeting(officer, case, starts_at=start, mode="in_person", place="Office, room 2")
    phone = Browser(f"{push.base}/police-phone")
    await subscribe(client, await login(client, "police"), phone)

    assert await services.reminders.run_once() == 0  # two days ahead: nothing due
    move_to(services, start - timedelta(hours=24))
    assert await services.reminders.run_once() == 3  # the officer, the police and the client; not social work
    await services.push.drain()
    [(headers, body)] = push.to("/police-phone")
    assert phone.decrypt(body) == {"type": "reminder", "network_meeting_id": meeting}
    for leak in (b"Office", b"Police", b"Threats", b"2026", b"Client", case.encode()):
        assert leak not in body and leak not in json.dumps(headers).encode()
    # Once: a second pass and a restarted node send nothing more.
    assert await services.reminders.run_once() == 0
    _c2, restarted = await app_factory(**PUSH_TO_LOOPBACK)
    assert await restarted.reminders.run_once() == 0
    people = [w.users["officer"], partners["police"].user_id, w.clients["own"]]
    assert await recorded(services) == sorted([(u, 86400, True) for u in people])
    async with services.store.read("t") as conn:
        sent = (await conn.execute(select(audit_log.c.target_type, audit_log.c.target_id, audit_log.c.case_id)
                                   .where(audit_log.c.action == "reminder.send"))).all()
    assert {(r.target_type, r.target_id, r.case_id) for r in sent} == {("network_meeting", meeting, case)}
    # Closed before the meeting: no 15-minute reminder to anyone.
    await nets.close(officer, case, conclusion="The threats stopped")
    move_to(services, start - timedelta(minutes=10))
    assert await services.reminders.run_once() == 0
