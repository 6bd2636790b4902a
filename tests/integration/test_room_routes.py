"""Rooms, room devices, a session's added staff and in-room presence over HTTP, on SQLite and
PostgreSQL, in a world of two offices: who may register and pair, the unsigned pairing and
claim (flood-limited, codes answered alike whether wrong, expired or used), the device's
session (a fresh token, never one the request brought), a device refused every case and
client route, and each office's rooms and sessions out of the other's reach."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from server.groups.session_values import Role as SessionRole
from server.groups.sessions import NewSession
from server.identity.model import Role
from server.web.routing import COOKIE
from tests.helpers.world import PASSWORD, World, add_office_b, build, login


async def _room(client: Any, headers: dict[str, str], name: str = "Room 2", kind: str = "office") -> str:
    resp = await client.post("/api/rooms", headers=headers, json={"name": name, "kind": kind})
    assert resp.status == 201, await resp.text()
    room_id: str = (await resp.json())["id"]
    return room_id


async def _pairing(client: Any) -> dict[str, Any]:
    resp = await client.post("/api/room-devices/pairing")
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def _claim(client: Any, pairing: dict[str, Any], **extra: Any) -> Any:
    return await client.post("/api/room-devices/claim", json={"device_id": pairing["device_id"],
                                                               "secret": pairing["secret"], **extra})


async def _paired_device(client: Any, services: Any, w: World, room_id: str) -> dict[str, str]:
    """Bearer headers of a freshly paired device in ``room_id``."""
    pairing = await _pairing(client)
    await services.rooms.pair(w.actor("senior"), room_id, pairing["code"], "Room PC")
    resp = await _claim(client, pairing, kind="bearer")
    assert resp.status == 200, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def test_rooms_are_the_office_s_and_pairing_signs_the_device_in(api: Any) -> None:
    client, services = api
    w = await build(services)
    await add_office_b(services, w)
    admin, senior, fac = [await login(client, u) for u in ("admin", "senior", "facilitator")]
    senior_b, fac_b = await login(client, "senior_b"), await login(client, "facilitator_b")
    room = await _room(client, admin)
    prison = await _room(client, senior, "Wing C classroom", "prison")
    resp = await client.post("/api/rooms", headers=fac, json={"name": "Mine", "kind": "office"})
    assert resp.status == 403 and (await resp.json())["error"]["rule_id"] == "scope"
    resp = await client.post("/api/rooms", headers=admin, json={"name": "x" * 121, "kind": "office"})
    assert resp.status == 422

    # A device asks for a code with no sign-in; nothing is paired yet.
    pairing = await _pairing(client)
    assert len(pairing["code"]) == 6 and len(pairing["secret"]) >= 40
    resp = await _claim(client, pairing)
    assert resp.status == 200 and await resp.json() == {"paired": False, "user": None, "csrf_token": None,
                                                        "token": None}
    # Office B cannot pair into office A's room: answered as a room that does not exist.
    foreign = await client.post(f"/api/rooms/{room}/devices", headers=senior_b,
                                json={"code": pairing["code"], "name": "B PC"})
    missing = await client.post("/api/rooms/no-such-room/devices", headers=senior_b,
                                json={"code": pairing["code"], "name": "B PC"})
    assert foreign.status == missing.status == 404
    assert await foreign.json() == await missing.json()
    resp = await client.post(f"/api/rooms/{room}/devices", headers=fac, json={"code": pairing["code"], "name": "x"})
    assert resp.status == 403

    # A wrong code, an expired code and a used code are all answered as an unknown one.
    wrong = await client.post(f"/api/rooms/{room}/devices", headers=senior,
                              json={"code": "ZZZZZZ" if pairing["code"] != "ZZZZZZ" else "YYYYYY", "name": "PC"})
    unknown = await wrong.json()
    assert wrong.status == 404 and unknown["error"]["reason"] == "room_device.unknown_code"
    late = await _pairing(client)
    services.clock.advance(timedelta(minutes=11))
    expired = await client.post(f"/api/rooms/{room}/devices", headers=senior, json={"code": late["code"], "name": "PC"})
    assert expired.status == 404 and await expired.json() == unknown
    pairing = await _pairing(client)
    typed = f"{pairing['code'][:3].lower()}-{pairing['code'][3:]}"
    resp = await client.post(f"/api/rooms/{room}/devices", headers=senior, json={"code": typed, "name": "Room 2 PC"})
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["id"] == pairing["device_id"]
    used = await client.post(f"/api/rooms/{prison}/devices", headers=admin,
                             json={"code": pairing["code"], "name": "Again"})
    assert used.status == 404 and await used.json() == unknown

    # The claim signs the device in with a cookie; the secret works once.
    bad = await _claim(client, {**pairing, "secret": "a guess"})
    assert bad.status == 404 and (await bad.json())["error"]["reason"] == "room_device.unknown_pairing"
    resp = await _claim(client, pairing, kind="cookie")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["paired"] and body["user"]["role"] == "room_device" and body["token"] is None
    morsel = resp.cookies[COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Strict"
    client.session.cookie_jar.clear()  # sent by hand below: a sign-in would revoke a jar's cookie
    again = await _claim(client, pairing, kind="cookie")
    assert again.status == 404 and await again.json() == await bad.json()
    device = {"Cookie": f"{COOKIE}={morsel.value}"}
    me = await client.get("/api/me", headers=device)
    assert me.status == 200 and (await me.json())["display_name"] == "Room 2 PC"

    # Who sees which rooms: registrars with devices, facilitators bare, office B none of A's.
    listed = (await (await client.get("/api/rooms", headers=admin)).json())["rooms"]
    assert [(r["name"], [d["name"] for d in r["devices"]]) for r in listed] == [
        ("Room 2", ["Room 2 PC"]), ("Wing C classroom", [])]
    bare = (await (await client.get("/api/rooms", headers=fac)).json())["rooms"]
    assert [(r["name"], r["devices"]) for r in bare] == [("Room 2", None), ("Wing C classroom", None)]
    assert (await (await client.get("/api/rooms", headers=fac_b)).json())["rooms"] == []
    assert (await client.get("/api/rooms", headers=await login(client, "officer"))).status == 403

    # The device sees the sessions scheduled in its room, from the current one, nothing else.
    facilitator = w.actor("facilitator")
    cohort = await services.groups.create_cohort(facilitator, name="Hybrid", programme="Thinking Skills")
    await services.groups.enrol(facilitator, cohort, w.cases["own"])
    now = services.clock.now()
    here = await services.group_sessions.schedule(facilitator, cohort, NewSession(
        now + timedelta(hours=1), now + timedelta(hours=2), room_id=room))
    await services.group_sessions.schedule(facilitator, cohort, NewSession(
        now + timedelta(hours=3), now + timedelta(hours=4), room_id=prison))
    view = await (await client.get("/api/room-device", headers=device)).json()
    assert (view.get("device_name"), view.get("room_name"), [s["id"] for s in view.get("sessions", [])]) == (
        "Room 2 PC", "Room 2", [here[0].id]), view
    # A room device reads no case or client data, whatever route it tries.
    case, client_id, session = w.cases["own"], w.clients["own"], here[0].id
    for path in (f"/api/cases/{case}", f"/api/cases/{case}/file", f"/api/cases/{case}/notes", "/api/caseload",
                 f"/api/cases/{case}/export", f"/api/groups/{cohort}", f"/api/groups/{cohort}/sessions",
                 f"/api/group-sessions/{session}/register", f"/api/group-sessions/{session}/staff", "/api/my/case",
                 "/api/schedule?date=2026-01-05&view=week", "/api/followups", "/api/admin/users"):
        resp = await client.get(path, headers=device)
        assert resp.status in (403, 404), (path, resp.status)
    resp = await client.post(f"/api/group-sessions/{session}/in-room", headers={**device, "X-CSRF-Token":
                             body["csrf_token"]}, json={"user_id": client_id, "present": True})
    assert resp.status in (403, 404)
    # A person's account is no device.
    assert (await client.get("/api/room-device", headers=await login(client, "room_device"))).status == 404


async def test_a_claim_never_keeps_a_token_the_request_brought(api: Any) -> None:
    client, services = api
    w = await build(services)
    room = await services.rooms.create_room(w.actor("senior"), name="Room 1", kind="office")
    resp = await client.post("/api/session", json={"username": "officer", "password": PASSWORD,
                                                   "kind": "cookie"})
    planted = resp.cookies[COOKIE].value  # a session someone left (or planted) in this browser
    pairing = await _pairing(client)
    await services.rooms.pair(w.actor("senior"), room, pairing["code"], "Room 1 PC")
    client.session.cookie_jar.clear()
    resp = await _claim(client, pairing, kind="cookie")
    assert resp.status == 200
    fresh = resp.cookies[COOKIE].value
    assert fresh != planted
    client.session.cookie_jar.clear()
    resp = await client.post("/api/room-devices/claim", headers={"Cookie": f"{COOKIE}={planted}"},
                             json={"device_id": pairing["device_id"], "secret": pairing["secret"], "kind": "cookie"})
    assert resp.status == 404  # used: no second session from the same secret
    # A token the request presents is revoked when the device signs in.
    second = await _pairing(client)
    await services.rooms.pair(w.actor("senior"), room, second["code"], "Room 1 PC 2")
    client.session.cookie_jar.clear()
    resp = await client.post("/api/room-devices/claim", headers={"Cookie": f"{COOKIE}={planted}"},
                             json={"device_id": second["device_id"], "secret": second["secret"], "kind": "cookie"})
    assert resp.status == 200 and resp.cookies[COOKIE].value not in (planted, fresh)
    client.session.cookie_jar.clear()
    assert (await client.get("/api/me", headers={"Cookie": f"{COOKIE}={planted}"})).status == 401
    assert (await client.get("/api/me", headers={"Cookie": f"{COOKIE}={fresh}"})).status == 200


async def test_pairing_is_flood_limited(api: Any) -> None:
    client, services = api
    await build(services)
    answers = [(await client.post("/api/room-devices/pairing")).status for _ in range(12)]
    assert answers[:10] == [201] * 10 and answers[10:] == [429, 429]
    services.clock.advance(timedelta(seconds=7))  # one more token per 6 s
    assert (await client.post("/api/room-devices/pairing")).status == 201


async def test_staff_and_in_room_presence_feed_the_register(api: Any) -> None:
    client, services = api
    w = await build(services)
    await add_office_b(services, w)
    co = await services.identity.create_user(None, username="co", display_name="Co Facilitator",
                                             role=Role.FACILITATOR, office_id=w.offices["A"], password=None)
    mentor = await services.identity.create_user(None, username="pm", display_name="Programme Mentor",
                                                 role=Role.FACILITATOR, office_id=w.offices["A"], password=None)
    fac = w.actor("facilitator")
    room = await services.rooms.create_room(w.actor("senior"), name="Room 3", kind="office")
    cohort = await services.groups.create_cohort(fac, name="Hybrid", programme="Thinking Skills")
    await services.groups.enrol(fac, cohort, w.cases["own"])
    start = services.clock.now() - timedelta(minutes=5)
    session = (await services.group_sessions.schedule(fac, cohort, NewSession(
        start, start + timedelta(hours=1), room_id=room)))[0].id
    headers = await login(client, "facilitator")
    url = f"/api/group-sessions/{session}/staff"
    got = await (await client.get(url, headers=headers)).json()
    assert got == {"staff": [], "candidates": [{"id": co, "display_name": "Co Facilitator"},
                                               {"id": mentor, "display_name": "Programme Mentor"}]}
    resp = await client.post(url, headers=headers, json={"user_id": co, "role": "co_facilitator"})
    assert resp.status == 201, await resp.text()
    resp = await client.post(url, headers=headers, json={"user_id": mentor, "role": "observer"})
    got = await resp.json()
    assert [(x["display_name"], x["role"]) for x in got["staff"]] == [("Co Facilitator", "co_facilitator"),
                                                                      ("Programme Mentor", "observer")]
    assert got["candidates"] == []
    resp = await client.post(url, headers=headers, json={"user_id": co, "role": "participant"})
    assert resp.status == 422
    # Office B: the session and office A's facilitators are answered as absent.
    for who in ("senior_b", "facilitator_b"):
        other = await login(client, who)
        assert (await client.get(url, headers=other)).status == 404
        assert (await client.post(f"/api/group-sessions/{session}/in-room", headers=other,
                                  json={"user_id": w.clients["own"], "present": True})).status == 404

    # In-room presence: the register shows it; a non-participant is not in the register.
    mark = f"/api/group-sessions/{session}/in-room"
    resp = await client.post(mark, headers=headers, json={"user_id": w.clients["own"], "present": True})
    assert resp.status == 204, await resp.text()
    resp = await client.post(mark, headers=headers, json={"user_id": w.users["officer"], "present": True})
    assert resp.status == 404
    register = await (await client.get(f"/api/group-sessions/{session}/register", headers=headers)).json()
    assert [(x["user_id"], x["in_room"]) for x in register["lines"]] == [(w.clients["own"], True)]
    services.clock.advance(timedelta(seconds=1))
    resp = await client.post(mark, headers=headers, json={"user_id": w.clients["own"], "present": False})
    register = await (await client.get(f"/api/group-sessions/{session}/register", headers=headers)).json()
    assert [x["in_room"] for x in register["lines"]] == [False]
    # The co-facilitator runs the session too (marks presence), but adds no one.
    co_actor = await services.identity.create_user(None, username="co2", display_name="Co Two",
                                                   role=Role.FACILITATOR, office_id=w.offices["A"], password=PASSWORD)
    await services.group_sessions.add_staff(fac, session, co_actor, SessionRole.CO_FACILITATOR)
    co_headers = await login(client, "co2")
    assert (await (await client.get(url, headers=co_headers)).json())["candidates"] == []
    assert (await client.post(mark, headers=co_headers, json={"user_id": w.clients["own"],
                                                              "present": True})).status == 204
