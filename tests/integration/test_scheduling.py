"""Appointments: one-off and weekly series, day and week views, the client's list, policy
gates (face_to_face_first, alternatives, scope), edits and cancellations of one or all
following, outcomes, follow-ups, .ics export and the check-in seam. SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from server.errors import Conflict
from server.store.schema import appointments, audit_log
from tests.helpers.http import error_of, row_counts
from tests.helpers.world import PASSWORD, build, login

TOMORROW = datetime.fromisoformat("2026-01-06T10:00:00+00:00")  # the FakeClock starts 2026-01-05 09:00 UTC


def body(kind: str = "in_person", start: datetime = TOMORROW, minutes: int = 45, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
            **extra}


async def schedule(client: Any, headers: dict[str, str], case_id: str, payload: dict[str, Any],
                   status: int = 201) -> Any:
    resp = await client.post(f"/api/cases/{case_id}/appointments", json=payload, headers=headers)
    if status != 201:
        return await error_of(resp, status)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["appointments"]


async def actions(services: Any, prefix: str) -> list[str]:
    async with services.store.read("t") as conn:
        rows = await conn.execute(select(audit_log.c.action).where(audit_log.c.action.like(prefix + "%"))
                                  .order_by(audit_log.c.seq))
        return list(rows.scalars().all())


async def test_series_day_and_week_views_and_the_clients_list(api: Any) -> None:
    client, services = api
    w = await build(services)
    o_h, c_h = await login(client, "officer"), await login(client, "client")
    [one] = await schedule(client, o_h, w.cases["own"], body(location="Office A, room 3"))
    assert one["client"]["display_name"] == "Client" and one["status"] == "scheduled" and one.get("series_id") is None
    assert one["opens_at"] == "2026-01-06T09:50:00Z" and one["closes_at"] == "2026-01-06T11:00:00Z"
    # Every 4 weeks at 10:00 Helsinki time, across the start of summer time (2026-03-29).
    series = await schedule(client, o_h, w.cases["own"], body(
        start=datetime.fromisoformat("2026-01-07T10:00:00+02:00"),
        recurrence={"interval_weeks": 4, "count": 4, "timezone": "Europe/Helsinki"}))
    assert [a["starts_at"] for a in series] == ["2026-01-07T08:00:00Z", "2026-02-04T08:00:00Z",
                                                "2026-03-04T08:00:00Z", "2026-04-01T07:00:00Z"]
    assert len({a["series_id"] for a in series}) == 1
    day = await (await client.get("/api/schedule?date=2026-01-06&view=day", headers=o_h)).json()
    assert [a["id"] for a in day["appointments"]] == [one["id"]]
    week = await (await client.get("/api/schedule?date=2026-01-08&view=week&tz=Europe/Helsinki",
                                   headers=o_h)).json()
    assert week["start"] == "2026-01-04T22:00:00Z" and week["end"] == "2026-01-11T22:00:00Z"
    assert [a["id"] for a in week["appointments"]] == [one["id"], series[0]["id"]]
    # Another officer's schedule does not show them.
    other = await (await client.get("/api/schedule?date=2026-01-06&view=day",
                                    headers=await login(client, "officer2"))).json()
    assert other["appointments"] == []
    mine = await (await client.get("/api/my/appointments", headers=c_h)).json()
    assert [a["id"] for a in mine["appointments"]] == [one["id"]] + [a["id"] for a in series]
    assert "appointment.read" in await actions(services, "appointment.read")


async def test_video_is_refused_until_face_to_face_or_an_exception(api: Any) -> None:
    client, services = api
    w = await build(services)
    o2 = await login(client, "officer2")  # client_same has not met officer2
    before = await row_counts(services)
    err = await schedule(client, o2, w.cases["same_office"], body("video"), status=403)
    assert err["rule_id"] == "face_to_face_first" and "face-to-face" in err["message"]
    assert await row_counts(services) == before
    await schedule(client, o2, w.cases["same_office"], body("in_person"))  # the first meeting itself is fine
    resp = await client.post(f"/api/cases/{w.cases['same_office']}/exceptions", headers=await login(client, "senior"),
                             json={"days": 7, "reason": "Client in hospital"})
    assert resp.status == 201
    [video] = await schedule(client, o2, w.cases["same_office"], body("video"))
    assert video["kind"] == "video"


async def test_an_attended_in_person_appointment_is_the_face_to_face_meeting(api: Any) -> None:
    client, services = api
    w = await build(services)
    o2 = await login(client, "officer2")
    case = w.cases["same_office"]
    [meeting] = await schedule(client, o2, case, body("in_person", location="Office A, room 3"))
    [call] = await schedule(client, o2, case, body("phone", start=TOMORROW + timedelta(hours=1)))
    services.clock.advance(timedelta(days=1, hours=2))
    o2 = await login(client, "officer2")
    for appt, outcome in ((call, "attended"), (meeting, "missed")):  # neither is a meeting in person
        resp = await client.post(f"/api/appointments/{appt['id']}/outcome", headers=o2, json={"outcome": outcome})
        assert resp.status == 200, await resp.text()
    err = await schedule(client, o2, case, body("video", start=TOMORROW + timedelta(days=2)), status=403)
    assert err["rule_id"] == "face_to_face_first"
    # Corrected to "late": they came. That is the first face-to-face meeting, recorded once.
    for outcome in ("late", "attended"):
        resp = await client.post(f"/api/appointments/{meeting['id']}/outcome", headers=o2, json={"outcome": outcome})
        assert resp.status == 200, await resp.text()
    async with services.store.read("t") as conn:
        met = (await conn.execute(select(func.count()).where(audit_log.c.action == "case.face_to_face",
                                                             audit_log.c.case_id == case))).scalar_one()
    assert met == 1
    decision = await (await client.get(f"/api/cases/{case}/remote-decision", headers=o2)).json()
    assert decision["allowed"] is True
    [video] = await schedule(client, o2, case, body("video", start=TOMORROW + timedelta(days=2)))
    assert video["kind"] == "video"


async def test_low_digital_access_is_offered_phone_or_in_person(api: Any) -> None:
    client, services = api
    w = await build(services)
    made = await services.cases.create_case(w.actor("senior"), client_username="lowdigital",
                                            client_display_name="Low Digital", officer_id=w.users["officer"],
                                            password=PASSWORD, low_digital_access=True)
    await services.cases.record_face_to_face(w.actor("officer"), made.case_id,
                                             met_at=services.clock.now() - timedelta(days=2), location="Office A")
    o_h = await login(client, "officer")
    err = await schedule(client, o_h, made.case_id, body("video"), status=403)
    assert err["rule_id"] == "alternatives" and "phone or in-person" in err["message"]
    await schedule(client, o_h, made.case_id, body("phone"))
    await schedule(client, o_h, made.case_id, body("video", alternatives_offered=True))
    async with services.store.read("t") as conn:
        details = (await conn.execute(select(audit_log.c.details).where(audit_log.c.action == "appointment.create")
                                      .order_by(audit_log.c.seq))).scalars().all()
    assert ['"alternatives_offered":true' in d for d in details] == [False, True]


async def test_scope_fences_every_appointment_route(api: Any) -> None:
    client, services = api
    w = await build(services)
    o_h = await login(client, "officer")
    [appt] = await schedule(client, o_h, w.cases["own"], body())
    # Another office's case and appointments do not exist for officer3 (issue 12).
    err = await schedule(client, await login(client, "officer3"), w.cases["own"], body(), status=404)
    assert err == {"code": "not_found", "message": "No such case"}
    for who in ("officer2", "officer3", "client_same"):
        headers = await login(client, who)
        await error_of(await client.get(f"/api/appointments/{appt['id']}", headers=headers), 404)
        await error_of(await client.get(f"/api/appointments/{appt['id']}/ics", headers=headers), 404)
    for path, payload in (("cancel", {"scope": "one"}), ("outcome", {"outcome": "attended"})):
        err = await error_of(await client.post(f"/api/appointments/{appt['id']}/{path}", json=payload,
                                               headers=await login(client, "officer3")), 404)
        assert err == {"code": "not_found", "message": "No such appointment"}
    err = await error_of(await client.post(f"/api/appointments/{appt['id']}/cancel", json={"scope": "one"},
                                           headers=await login(client, "client")), 403)
    assert err["rule_id"] == "scope"
    assert (await client.get(f"/api/appointments/{appt['id']}", headers=await login(client, "client"))).status == 200


async def test_bad_edits_are_refused_and_change_nothing(api: Any) -> None:
    client, services = api
    w = await build(services)
    o_h = await login(client, "officer")
    [a] = await schedule(client, o_h, w.cases["own"], body())
    before = await row_counts(services)
    for payload, words in (({"starts_at": "2026-01-06T12:00:00"}, "timezone"),
                           ({"ends_at": "2026-01-06T09:00:00Z"}, "ends after it starts"),
                           ({"starts_at": "2026-01-01T10:00:00Z"}, "past"),
                           ({"scope": "all"}, "scope"),
                           ({"kind": "video", "alternatives_offered": "yes"}, "alternatives_offered")):
        err = await error_of(await client.patch(f"/api/appointments/{a['id']}", headers=o_h, json=payload), 422)
        assert words in err["message"], (payload, err)
    await error_of(await client.patch("/api/appointments/nope", headers=o_h, json={"location": "x"}), 404)
    # Turning it into a video call asks the policy engine again.
    o2 = await login(client, "officer2")
    [b] = await schedule(client, o2, w.cases["same_office"], body())
    err = await error_of(await client.patch(f"/api/appointments/{b['id']}", headers=o2, json={"kind": "video"}), 403)
    assert err["rule_id"] == "face_to_face_first"
    assert (await row_counts(services))["appointments"] == before["appointments"] + 1


async def test_bad_input_is_refused_and_writes_nothing(api: Any) -> None:
    client, services = api
    w = await build(services)
    o_h = await login(client, "officer")
    case = w.cases["own"]
    before = await row_counts(services)
    naive = {"kind": "phone", "starts_at": "2026-01-06T10:00:00", "ends_at": "2026-01-06T10:30:00"}
    cases: list[tuple[dict[str, Any], str]] = [
        (naive, "timezone"),
        (body(minutes=-30), "ends after it starts"),
        (body(minutes=0), "ends after it starts"),
        (body(minutes=60 * 24), "lasts between"),
        (body(start=TOMORROW - timedelta(days=3)), "past"),
        (body(start=TOMORROW + timedelta(days=3000)), "ahead"),
        (body(recurrence={"interval_weeks": 1, "count": 500}), "at most 52"),
        (body(recurrence={"interval_weeks": 1, "count": 100_000}), "count"),
        (body(recurrence={"interval_weeks": 1, "until": "2029-01-01"}), "at most 52"),
        (body(recurrence={"interval_weeks": 1}), "either after a count or on a date"),
        (body(recurrence={"interval_weeks": 1, "count": 2, "until": "2026-02-01"}), "either"),
        (body(recurrence={"interval_weeks": 1, "count": 2, "timezone": "Mars/Olympus"}), "time zone"),
        (body(recurrence={"interval_weeks": 0, "count": 2}), "interval_weeks"),
        (body(kind="hologram"), "kind"),
        (body(location="x" * 201), "location"),
        ({**body(), "surprise": 1}, "surprise"),
    ]
    for payload, words in cases:
        err = await schedule(client, o_h, case, payload, status=422)
        assert words in err["message"], (payload, err)
    err = await schedule(client, o_h, case, body(start=datetime.fromisoformat("0001-01-01T00:00:00+01:00")),
                         status=400)
    assert err["code"] == "date_out_of_range" and "starts_at" in err["message"]
    q = await client.get("/api/schedule?date=2026-02-30", headers=o_h)
    await error_of(q, 422)
    q = await client.get("/api/schedule?date=2026-01-06&tz=Nowhere/Here", headers=o_h)
    await error_of(q, 422)
    assert await row_counts(services) == before


async def test_edit_and_cancel_one_or_all_following(api: Any) -> None:
    client, services = api
    w = await build(services)
    o_h = await login(client, "officer")
    series = await schedule(client, o_h, w.cases["own"], body(recurrence={"interval_weeks": 1, "count": 4}))
    ids = [a["id"] for a in series]
    # Move the second one only, by an hour.
    resp = await client.patch(f"/api/appointments/{ids[1]}", headers=o_h, json={
        "starts_at": "2026-01-13T11:00:00Z", "location": "Room 9"})
    assert resp.status == 200, await resp.text()
    [moved] = (await resp.json())["appointments"]
    assert moved["starts_at"] == "2026-01-13T11:00:00Z" and moved["ends_at"] == "2026-01-13T11:45:00Z"
    # From the third on: 30 minutes later and an hour long.
    resp = await client.patch(f"/api/appointments/{ids[2]}", headers=o_h, json={
        "scope": "following", "starts_at": "2026-01-20T10:30:00Z", "ends_at": "2026-01-20T11:30:00Z"})
    got = [(a["starts_at"], a["ends_at"]) for a in (await resp.json())["appointments"]]
    assert got == [("2026-01-20T10:30:00Z", "2026-01-20T11:30:00Z"), ("2026-01-27T10:30:00Z", "2026-01-27T11:30:00Z")]
    # Cancel the second and everything after it.
    resp = await client.post(f"/api/appointments/{ids[1]}/cancel", headers=o_h, json={"scope": "following"})
    assert sorted((await resp.json())["cancelled"]) == sorted(ids[1:])
    async with services.store.read("t") as conn:
        statuses = dict((await conn.execute(select(appointments.c.id, appointments.c.status))).all())
    assert [statuses[i] for i in ids] == ["scheduled", "cancelled", "cancelled", "cancelled"]
    await error_of(await client.patch(f"/api/appointments/{ids[3]}", headers=o_h, json={"location": "x"}), 409)
    assert (await actions(services, "appointment.update")) == ["appointment.update"] * 2
    assert (await actions(services, "appointment.cancel")) == ["appointment.cancel"]


async def test_outcomes_and_unrecorded_follow_ups(api: Any) -> None:
    client, services = api
    w = await build(services)
    o_h, s_h = await login(client, "officer"), await login(client, "senior")
    [a] = await schedule(client, o_h, w.cases["own"], body("video"))
    [b] = await schedule(client, o_h, w.cases["own"], body("phone", start=TOMORROW + timedelta(hours=2)))
    err = await error_of(await client.post(f"/api/appointments/{a['id']}/outcome", headers=o_h,
                                           json={"outcome": "attended"}), 409)
    assert "window" in err["message"]
    services.clock.advance(timedelta(days=1, hours=1, minutes=30))  # 2026-01-06 10:30: a's window is open
    o_h = await login(client, "officer")  # the old sessions have expired
    assert (await (await client.get("/api/followups", headers=o_h)).json())["appointments"] == []
    services.clock.advance(timedelta(hours=4))  # both windows have closed, nothing recorded
    o_h, s_h = await login(client, "officer"), await login(client, "senior")
    follow = (await (await client.get("/api/followups", headers=o_h)).json())["appointments"]
    assert [f["id"] for f in follow] == [a["id"], b["id"]] and all(f["follow_up"] for f in follow)
    assert all(f.get("outcome") is None for f in follow)  # unrecorded, not marked as non-attendance
    office = (await (await client.get("/api/followups", headers=s_h)).json())["appointments"]
    assert {f["id"] for f in office} == {a["id"], b["id"]}
    note = "Call dropped twice; client tried to reconnect from the bus stop"
    resp = await client.post(f"/api/appointments/{a['id']}/outcome", headers=o_h,
                             json={"outcome": "technical_failure", "note": note})
    assert resp.status == 200, await resp.text()
    got = await resp.json()
    assert got["outcome"] == "technical_failure" and got["outcome_note"] == note and got["follow_up"] is False
    follow = (await (await client.get("/api/followups", headers=o_h)).json())["appointments"]
    assert [f["id"] for f in follow] == [b["id"]]
    async with services.store.read("t") as conn:
        blob = (await conn.execute(select(appointments.c.outcome_note).where(appointments.c.id == a["id"]))).scalar()
    assert blob is not None and b"bus stop" not in blob  # encrypted at rest
    # The client sees the outcome, never the officer's note.
    mine = await (await client.get(f"/api/appointments/{a['id']}", headers=await login(client, "client"))).json()
    assert mine["outcome"] == "technical_failure" and "outcome_note" not in mine
    await error_of(await client.post(f"/api/appointments/{a['id']}/outcome", headers=o_h,
                                     json={"outcome": "no_show"}), 422)


async def test_ics_export_per_appointment_and_feed(api: Any) -> None:
    client, services = api
    w = await build(services)
    o_h, c_h = await login(client, "officer"), await login(client, "client")
    [a] = await schedule(client, o_h, w.cases["own"], body("video", location="Office A; room 3, desk 2"))
    resp = await client.get(f"/api/appointments/{a['id']}/ics", headers=c_h)
    assert resp.status == 200 and resp.content_type == "text/calendar"
    text = await resp.text()
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert f"UID:{a['id']}@tandem\r\n" in text and "DTSTART:20260106T100000Z\r\n" in text
    assert "LOCATION:Office A\\; room 3\\, desk 2\r\n" in text and "SUMMARY:Appointment (video)\r\n" in text
    assert "Client" not in text and "Officer" not in text  # a calendar names nobody
    await client.post(f"/api/appointments/{a['id']}/cancel", headers=o_h, json={"scope": "one"})
    feed = await (await client.get("/api/calendar.ics", headers=o_h)).text()
    assert feed.count("BEGIN:VEVENT") == 1 and "STATUS:CANCELLED" in feed and "SEQUENCE:1" in feed
    await error_of(await client.get("/api/calendar.ics", headers=await login(client, "mentor")), 403)
    async with services.store.read("t") as conn:
        vias = (await conn.execute(select(audit_log.c.details).where(audit_log.c.action == "appointment.read")
                                   )).scalars().all()
    assert sum('"via":"ics"' in v for v in vias) == 2


async def test_video_hooks_run_inside_the_scheduling_transaction(api: Any) -> None:
    client, services = api
    w = await build(services)
    o_h = await login(client, "officer")
    seen: list[tuple[str, datetime, datetime]] = []

    async def open_for_appointment(conn: Any, *, actor: Any, appointment: Any, opens_at: datetime,
                                   closes_at: datetime) -> None:
        seen.append((appointment.id, opens_at, closes_at))
        count = (await conn.execute(select(func.count()).select_from(appointments))).scalar_one()
        assert count >= 1  # the appointment is visible to the hook: same transaction
        if appointment.location == "fail":
            raise Conflict("check-in could not be opened")

    services.scheduling.video_scheduled_hooks.append(open_for_appointment)
    await schedule(client, o_h, w.cases["own"], body("in_person"))
    assert seen == []
    [v] = await schedule(client, o_h, w.cases["own"], body("video", recurrence={"interval_weeks": 1, "count": 1}))
    assert seen == [(v["id"], datetime.fromisoformat(v["opens_at"]), datetime.fromisoformat(v["closes_at"]))]
    before = await row_counts(services)
    await schedule(client, o_h, w.cases["own"], body("video", location="fail"), status=409)
    assert await row_counts(services) == before  # the hook failed: no appointment either
    # Moves and cancellations of a video occurrence reach the "changed" hooks, with the new window.
    changed: list[tuple[str, str, datetime]] = []

    async def follow(conn: Any, *, actor: Any, appointment: Any, opens_at: datetime, closes_at: datetime) -> None:
        changed.append((appointment.id, appointment.status.value, opens_at))

    services.scheduling.video_changed_hooks.append(follow)
    resp = await client.patch(f"/api/appointments/{v['id']}", headers=o_h, json={"starts_at": "2026-01-06T12:00:00Z"})
    assert resp.status == 200, await resp.text()
    resp = await client.post(f"/api/appointments/{v['id']}/cancel", headers=o_h, json={"scope": "one"})
    assert resp.status == 200
    opens = datetime.fromisoformat("2026-01-06T11:50:00+00:00")
    assert changed == [(v["id"], "scheduled", opens), (v["id"], "cancelled", opens)]
    assert len(seen) == 2  # the two creations above (one rolled back); moving and cancelling opened nothing
