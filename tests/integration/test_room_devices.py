"""Rooms and room devices on SQLite and PostgreSQL: registered by an admin or senior of the
office, paired by a short code shown on the device, holding no personal data, and joining a
session scheduled in their room as the room."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server.errors import NotFound, OutOfScope, PolicyRefused
from server.groups.rooms import ALPHABET, CODE_LENGTH, RoomService
from server.groups.session_values import Role
from server.groups.sessions import NewSession
from server.identity.model import Actor
from server.identity.model import Role as UserRole
from server.store.schema import users
from server.store.schema_groups import room_devices
from tests.helpers.world import add_office_b, build


async def test_pair_by_the_code_on_the_screen_then_claim_once(api: Any) -> None:
    _client, services = api
    w = await build(services)
    await add_office_b(services, w)
    rooms, clock = services.rooms, services.clock
    room = await rooms.create_room(w.actor("senior"), name="Room 2", kind="office")
    prison = await rooms.create_room(w.actor("admin"), name="Wing C classroom", kind="prison")
    for outsider in ("facilitator", "officer", "client"):
        with pytest.raises(PolicyRefused):
            await rooms.create_room(w.actor(outsider), name="X", kind="office")

    pairing = await rooms.start_pairing()
    assert len(pairing.code) == CODE_LENGTH and set(pairing.code) <= set(ALPHABET)
    assert await rooms.claim(pairing.device_id, pairing.secret, kind="bearer", address="test") is None  # not paired yet
    with pytest.raises(NotFound):
        await rooms.claim(pairing.device_id, "a guess", kind="bearer", address="test")
    with pytest.raises(OutOfScope):  # office B cannot register a device in office A's room
        await rooms.pair(w.actor("senior_b"), room, pairing.code, "Room 2 PC")
    with pytest.raises(NotFound):
        await rooms.pair(w.actor("senior"), room, "ZZZZZZ" if pairing.code != "ZZZZZZ" else "YYYYYY", "PC")
    typed = "-".join([pairing.code[:3].lower(), pairing.code[3:]])  # as someone types it
    device_id = await rooms.pair(w.actor("senior"), room, typed, "Room 2 PC")
    assert device_id == pairing.device_id
    with pytest.raises(NotFound):  # single use
        await rooms.pair(w.actor("senior"), prison, pairing.code, "Again")
    claimed = await rooms.claim(pairing.device_id, pairing.secret, kind="bearer", address="test")
    assert claimed is not None
    user_id = claimed.actor.user_id
    with pytest.raises(NotFound):  # the secret works once
        await rooms.claim(pairing.device_id, pairing.secret, kind="bearer", address="test")
    async with services.store.read("test") as conn:
        account = (await conn.execute(select(users).where(users.c.id == user_id))).one()
        device = (await conn.execute(select(room_devices).where(room_devices.c.id == device_id))).one()
    # No personal data: named after the device, no password, no code or secret kept.
    assert (account.role, account.display_name, account.password_hash) == ("room_device", "Room 2 PC", None)
    assert (device.room_id, device.code_hash, device.secret_hash) == (room, None, None)

    late = await rooms.start_pairing()
    clock.advance(timedelta(minutes=11))
    with pytest.raises(NotFound):  # the code expired
        await rooms.pair(w.actor("admin"), prison, late.code, "Late PC")
    listed = await rooms.rooms(w.actor("admin"))
    assert [(r.row.name, [d.name for d in r.devices or []]) for r in listed] == [("Room 2", ["Room 2 PC"]),
                                                                     ("Wing C classroom", [])]
    assert await rooms.rooms(w.actor("senior_b")) == []

    # The device joins a session scheduled in its room, as the room; not one elsewhere.
    fac = w.actor("facilitator")
    cohort_id = await services.groups.create_cohort(fac, name="Hybrid", programme="Thinking Skills")
    await services.groups.enrol(fac, cohort_id, w.cases["own"])
    start = clock.now() + timedelta(hours=1)
    in_room = (await services.group_sessions.schedule(fac, cohort_id, NewSession(
        start, start + timedelta(hours=1), room_id=room)))[0]
    assert in_room.room_name == "Room 2"
    elsewhere = (await services.group_sessions.schedule(fac, cohort_id, NewSession(
        start + timedelta(days=1), start + timedelta(days=1, hours=1), room_id=prison)))[0]
    device = Actor(user_id, "room-device", "Room 2 PC", UserRole.ROOM_DEVICE, w.offices["A"], "en", False)
    assert (await services.group_sessions.join_context(device, in_room.id))[0] is Role.ROOM_DEVICE
    with pytest.raises(OutOfScope):
        await services.group_sessions.join_context(device, elsewhere.id)
    # A room device reads no case data.
    with pytest.raises(OutOfScope):
        await services.attendance.of_case(device, w.cases["own"])
    with pytest.raises(PolicyRefused):
        await services.attendance.register(device, in_room.id)
    other = await rooms.create_room(w.actor("senior_b"), name="B room", kind="office")
    with pytest.raises(NotFound):  # a room of another office cannot be named in a schedule
        await services.group_sessions.schedule(fac, cohort_id, NewSession(start, start + timedelta(hours=1),
                                                                          room_id=other))


async def test_a_code_on_a_screen_is_never_given_twice(api: Any) -> None:
    _client, services = api
    w = await build(services)
    sequence = iter(["AAAAAA", "AAAAAA", "BBBBBB", "AAAAAA"])
    rooms = RoomService(services.store, services.clock, services.identity, services.group_sessions,
                        codes=lambda: next(sequence))
    first = await rooms.start_pairing()
    second = await rooms.start_pairing()  # AAAAAA is on the first screen: drawn again
    assert (first.code, second.code) == ("AAAAAA", "BBBBBB")
    services.clock.advance(timedelta(minutes=11))
    third = await rooms.start_pairing()  # the first code expired: it is taken back, never matched twice
    assert third.code == "AAAAAA"
    room = await rooms.create_room(w.actor("senior"), name="Room 9", kind="office")
    assert await rooms.pair(w.actor("senior"), room, "AAAAAA", "Room 9 PC") == third.device_id
