"""A video appointment and its check-in move together: scheduling one opens its check-in in
the same transaction, moving it moves the check-in's window, cancelling it cancels the
check-in, and the check-in's outcome is recorded on the appointment (so it leaves the
follow-up list). SQLite and PostgreSQL, through the real HTTP API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from server.store.schema import appointments, checkin_events, checkins
from tests.helpers.world import build, login
from tests.integration.test_scheduling import TOMORROW, body, schedule


async def _checkins_of(services: Any, appointment_id: str) -> list[Any]:
    async with services.store.read("t") as conn:
        rows = await conn.execute(select(checkins).where(checkins.c.appointment_id == appointment_id))
        return list(rows.all())


async def test_a_video_appointment_carries_its_checkin(api: Any) -> None:
    client, services = api
    w = await build(services)
    o_h = await login(client, "officer")
    [in_person] = await schedule(client, o_h, w.cases["own"], body("in_person"))
    assert await _checkins_of(services, in_person["id"]) == []  # only video appointments have one
    [video] = await schedule(client, o_h, w.cases["own"], body("video"))
    [row] = await _checkins_of(services, video["id"])
    assert (row.state, row.opens_at, row.closes_at) == (
        "scheduled", datetime.fromisoformat(video["opens_at"]), datetime.fromisoformat(video["closes_at"]))

    # Moved: the check-in's window follows.
    later = TOMORROW + timedelta(days=1)
    resp = await client.patch(f"/api/appointments/{video['id']}", headers=o_h, json={"starts_at": later.isoformat()})
    moved = await resp.json()
    assert resp.status == 200, moved
    [row] = await _checkins_of(services, video["id"])
    [after] = moved["appointments"]
    assert (row.opens_at, row.closes_at) == (datetime.fromisoformat(after["opens_at"]),
                                             datetime.fromisoformat(after["closes_at"]))
    assert row.opens_at > TOMORROW
    read = await (await client.get(f"/api/checkins/{row.id}", headers=o_h)).json()
    assert read["starts_at"] == after["starts_at"]  # the waiting room shows the appointment's time

    # Cancelled: so is its check-in.
    [other] = await schedule(client, o_h, w.cases["own"], body("video", start=TOMORROW + timedelta(hours=3)))
    resp = await client.post(f"/api/appointments/{other['id']}/cancel", headers=o_h, json={"scope": "one"})
    assert resp.status == 200, await resp.text()
    [row] = await _checkins_of(services, other["id"])
    assert row.state == "cancelled"


async def test_the_checkin_outcome_is_the_appointments(api: Any) -> None:
    client, services = api
    w = await build(services)
    o_h = await login(client, "officer")
    [video] = await schedule(client, o_h, w.cases["own"], body("video"))
    [row] = await _checkins_of(services, video["id"])
    services.clock.advance(timedelta(days=2))  # the window has closed; the client never came
    o_h = await login(client, "officer")
    follow = (await (await client.get("/api/followups", headers=o_h)).json())["appointments"]
    assert [f["id"] for f in follow] == [video["id"]]
    resp = await client.post(f"/api/checkins/{row.id}/outcome", headers=o_h,
                             json={"outcome": "technical_failure", "note": "The phone could not connect"})
    assert resp.status == 200, await resp.text()
    async with services.store.read("t") as conn:
        appt = (await conn.execute(select(appointments).where(appointments.c.id == video["id"]))).one()
    assert (appt.outcome, appt.outcome_by) == ("technical_failure", w.users["officer"])
    assert appt.outcome_note is not None and b"phone" not in appt.outcome_note  # encrypted, like the check-in's
    assert (await (await client.get("/api/followups", headers=o_h)).json())["appointments"] == []


async def test_retention_clears_outcome_notes_and_deletes_evidence(api: Any) -> None:
    # The check-in and its appointment stay (the record that it happened, and its outcome);
    # the notes inside them, and the evidence rows, go with their bucket keys.
    client, services = api
    w = await build(services)
    o_h = await login(client, "officer")
    [video] = await schedule(client, o_h, w.cases["own"], body("video"))
    [row] = await _checkins_of(services, video["id"])
    services.clock.advance(timedelta(days=2))
    o_h = await login(client, "officer")
    resp = await client.post(f"/api/checkins/{row.id}/outcome", headers=o_h,
                             json={"outcome": "excused", "note": "Hospital appointment"})
    assert resp.status == 200, await resp.text()
    services.clock.advance(timedelta(days=4 * 365))  # past checkin_records' 1095 days
    receipt = await services.retention.sweeper.run()
    assert receipt["counts"].get("checkin_records", 0) >= 2, receipt
    [row] = await _checkins_of(services, video["id"])
    async with services.store.read("t") as conn:
        appt = (await conn.execute(select(appointments).where(appointments.c.id == video["id"]))).one()
        events = (await conn.execute(select(checkin_events).where(checkin_events.c.checkin_id == row.id))).all()
    assert (row.outcome, row.key_id, row.outcome_note) == ("excused", None, None)
    assert (appt.outcome, appt.outcome_key_id, appt.outcome_note) == ("excused", None, None)
    assert events == []
