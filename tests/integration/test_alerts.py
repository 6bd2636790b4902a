"""Staff alerts (issue 13, item 8), on SQLite and PostgreSQL: a client waiting and a client's
"I can't talk safely now" are stored for the case's officer until acknowledged (a waiting
alert until the client is let in or leaves), reach their open pages as frames and their
phone by a content-free push, and stay inside the officer's own scope. The officer's own
"no" to the safe-space check tells the client waiting, instead of leaving them there."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.store.schema import audit_log, staff_alerts
from server.web.state import Services
from tests.helpers.checkins import pass_safe_space, peer, ready, schedule
from tests.helpers.http import error_of, row_counts
from tests.helpers.world import build, login
from tests.integration.test_push import Browser, PushEndpoint, endpoint, subscribe  # noqa: F401 (fixture)


async def alerts_of(client: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    resp = await client.get("/api/alerts", headers=headers)
    body = await resp.json()
    assert resp.status == 200, body
    out: list[dict[str, Any]] = body["alerts"]
    return out


async def audit_actions(services: Services, action: str) -> list[Any]:
    async with services.store.read("test.audit") as conn:
        return list((await conn.execute(select(audit_log).where(audit_log.c.action == action))).all())


async def test_a_waiting_client_is_an_alert_until_admitted(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    o_h = await login(client, "officer")
    pages = await peer(client, o_h)  # the officer's Schedule page, not in the call
    _, cli = await ready(client, "client", checkin_id)
    assert await alerts_of(client, o_h) == []

    await cli.send(type="join", room=checkin_id)
    waiting = await cli.next("joined")
    frame = await pages.next("staff_alert")
    assert frame["kind"] == "client_waiting" and frame["checkin_id"] == checkin_id
    assert "Client" not in json.dumps(frame)  # ids only on the bus; names on an audited read
    [alert] = await alerts_of(client, o_h)
    assert alert["id"] == frame["id"] and alert["kind"] == "client_waiting"
    assert alert["client"] == {"id": w.users["client"], "display_name": "Client"}
    assert alert["case_id"] == w.cases["own"]
    read = await audit_actions(services, "case.read")
    assert any(json.loads(r.details or "{}").get("via") == "alerts" and r.case_id == w.cases["own"] for r in read)

    # A reload of the waiting room (a second join) is still one waiting client.
    await cli.close()
    _, cli = await ready(client, "client", checkin_id)
    await cli.send(type="join", room=checkin_id)
    waiting = await cli.next("joined")
    assert len(await alerts_of(client, o_h)) == 1

    _, off = await ready(client, "officer", checkin_id)
    await off.send(type="join", room=checkin_id)
    await off.next("joined")
    await off.send(type="admit", room=checkin_id, participant=waiting["participant"])
    await cli.next("admitted")
    resolved = await pages.next("staff_alert_resolved")
    assert resolved == {"type": "staff_alert_resolved", "id": alert["id"], "resolution": "admitted"}
    assert await alerts_of(client, o_h) == []
    for p in (pages, cli, off):
        await p.close()


async def test_a_client_who_leaves_the_waiting_room_resolves_the_alert(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    o_h = await login(client, "officer")
    pages = await peer(client, o_h)
    _, cli = await ready(client, "client", checkin_id)
    await cli.send(type="join", room=checkin_id)
    await cli.next("joined")
    await pages.next("staff_alert")
    [alert] = await alerts_of(client, o_h)
    await cli.send(type="leave", room=checkin_id)
    await cli.next("left")
    assert (await pages.next("staff_alert_resolved"))["id"] == alert["id"]
    assert await alerts_of(client, o_h) == []
    async with services.store.read("test") as conn:
        row = (await conn.execute(select(staff_alerts).where(staff_alerts.c.id == alert["id"]))).one()
    assert row.resolution == "left" and row.resolved_at is not None
    await cli.close()
    await pages.close()


async def test_cant_talk_stays_until_acknowledged_and_only_the_officer_may(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    o_h, c_h = await login(client, "officer"), await login(client, "client")
    await pass_safe_space(client, c_h, checkin_id)
    pages, cli = await peer(client, o_h), await peer(client, c_h)
    await cli.send(type="join", room=checkin_id)
    await cli.next("joined")
    await cli.send(type="cant_talk", room=checkin_id)
    assert (await cli.next("ended"))["reason"] == "ended"  # neutral to the client
    while (await pages.next("staff_alert"))["kind"] != "cant_talk_safely":
        pass  # the waiting alert came first
    await pages.next("staff_alert_resolved", resolution="left")  # nobody waits any more

    [alert] = await alerts_of(client, o_h)  # the waiting alert resolved (left), this one stays
    assert alert["kind"] == "cant_talk_safely" and alert["client"]["display_name"] == "Client"
    assert [a["id"] for a in await alerts_of(client, o_h)] == [alert["id"]]  # a reload still shows it

    # Nobody else may see or acknowledge it: not the office's senior, not office B, not the client.
    senior, officer3 = await login(client, "senior"), await login(client, "officer3")
    assert await alerts_of(client, senior) == [] and await alerts_of(client, officer3) == []
    before = await row_counts(services)
    for headers in (senior, officer3):
        real = await error_of(await client.post(f"/api/alerts/{alert['id']}/ack", headers=headers), 404, "not_found")
        random = await error_of(await client.post(f"/api/alerts/{'0' * 32}/ack", headers=headers), 404, "not_found")
        assert real == random  # another's alert cannot be told from none
    await error_of(await client.post(f"/api/alerts/{alert['id']}/ack", headers=c_h), 403, "forbidden")
    await error_of(await client.get("/api/alerts", headers=c_h), 403, "forbidden")
    assert await row_counts(services) == before

    resp = await client.post(f"/api/alerts/{alert['id']}/ack", headers=o_h)
    assert resp.status == 204, await resp.text()
    assert (await pages.next("staff_alert_resolved"))["resolution"] == "acknowledged"  # every device
    assert await alerts_of(client, o_h) == []
    assert (await client.post(f"/api/alerts/{alert['id']}/ack", headers=o_h)).status == 204  # twice: no error
    assert len(await audit_actions(services, "alert.ack")) == 1
    for p in (pages, cli):
        await p.close()


async def test_an_officer_with_no_page_open_gets_a_content_free_push(app_factory: Any,
                                                                     endpoint: PushEndpoint) -> None:  # noqa: F811
    client, services = await app_factory(push_allow_loopback_http=True)
    w = await build(services)
    checkin_id = await schedule(services, w)
    o_h, c_h = await login(client, "officer"), await login(client, "client")
    phone = Browser(f"{endpoint.base}/officer-phone")
    await subscribe(client, o_h, phone)
    resp = await client.post(f"/api/checkins/{checkin_id}/cant-talk", headers=c_h)
    assert resp.status == 204, await resp.text()
    await services.push.drain()
    [(headers, body)] = endpoint.to("/officer-phone")
    assert phone.decrypt(body) == {"type": "staff_alert", "kind": "cant_talk_safely", "checkin_id": checkin_id}
    for leak in (b"Client", b"client", w.cases["own"].encode()):
        assert leak not in body and leak not in json.dumps(headers).encode()


async def test_the_officers_own_no_tells_the_client_waiting(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    o_h = await login(client, "officer")
    _, cli = await ready(client, "client", checkin_id)
    await cli.send(type="join", room=checkin_id)
    await cli.next("joined")
    asked = await (await client.get(f"/api/checkins/{checkin_id}/safe-space", headers=o_h)).json()
    answers = {q["id"]: q["id"] != asked["questions"][0]["id"] for q in asked["questions"]}
    resp = await client.post(f"/api/checkins/{checkin_id}/safe-space", headers=o_h, json={"answers": answers})
    assert resp.status == 200 and (await resp.json()) == {"passed": False, "ended": True}
    assert (await cli.next("ended")) == {"type": "ended", "room": checkin_id, "reason": "officer_unavailable"}
    assert await alerts_of(client, o_h) == []  # nobody waits any more
    checkin = await (await client.get(f"/api/checkins/{checkin_id}", headers=o_h)).json()
    assert checkin["state"] == "scheduled"  # no outcome is implied; the officer offers another time
    await cli.close()


async def test_the_schedule_shows_each_video_check_ins_state(api: Any) -> None:
    client, services = api
    w = await build(services)
    o_h, c_h = await login(client, "officer"), await login(client, "client")
    start = services.clock.now()
    resp = await client.post(f"/api/cases/{w.cases['own']}/appointments", headers=o_h, json={
        "kind": "video", "starts_at": (start + timedelta(minutes=2)).isoformat(),
        "ends_at": (start + timedelta(minutes=32)).isoformat()})
    assert resp.status == 201, await resp.text()
    appointment_id = (await resp.json())["appointments"][0]["id"]
    day = start.date().isoformat()

    async def state() -> str | None:
        body = await (await client.get(f"/api/schedule?date={day}", headers=o_h)).json()
        [a] = [a for a in body["appointments"] if a["id"] == appointment_id]
        return a.get("checkin_state")

    assert await state() == "scheduled"
    listed = await (await client.get("/api/checkins", headers=c_h)).json()
    [checkin_id] = [c["id"] for c in listed["checkins"] if c["appointment_id"] == appointment_id]
    await pass_safe_space(client, c_h, checkin_id)
    pages, cli = await peer(client, o_h), await peer(client, c_h)
    await cli.send(type="join", room=checkin_id)
    await pages.next("staff_alert")  # sent once the check-in's state has changed
    assert await state() == "waiting"
    assert (await client.post(f"/api/checkins/{checkin_id}/cant-talk", headers=c_h)).status == 204
    assert await state() == "not_safe"
    await cli.close()
    await pages.close()


async def test_recording_the_outcome_resolves_the_check_ins_alerts(api: Any) -> None:
    client, services = api
    w = await build(services)
    checkin_id = await schedule(services, w)
    o_h, c_h = await login(client, "officer"), await login(client, "client")
    assert (await client.post(f"/api/checkins/{checkin_id}/cant-talk", headers=c_h)).status == 204
    [alert] = await alerts_of(client, o_h)
    pages = await peer(client, o_h)
    resp = await client.post(f"/api/checkins/{checkin_id}/outcome", headers=o_h,
                             json={"outcome": "not_safe_to_talk", "note": ""})
    assert resp.status == 200, await resp.text()
    assert (await pages.next("staff_alert_resolved")) == {"type": "staff_alert_resolved", "id": alert["id"],
                                                          "resolution": "recorded"}
    assert await alerts_of(client, o_h) == []
    await pages.close()
