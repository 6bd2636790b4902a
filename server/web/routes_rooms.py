"""Hybrid group sessions over HTTP (issue 14): an office's rooms, pairing a room device by the
code on its screen, what a paired device sees, and, for those who run a session, its added
staff (co-facilitators, an observer) and who is present in the room.

Pairing has two unsigned routes, each flood-limited per address and overall
(``web/flood.py``): a device asks for a code (``/pairing``), then polls ``/claim`` with its
secret until an admin or senior of the office has entered the code; the claim answers with
a sign-in session of the device's own account (a cookie for a browser), never one it chose.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from msgspec import Meta, Struct

from server.errors import RateLimited
from server.groups.rooms import OfficeRoom
from server.groups.session_values import Role as SessionRole
from server.identity.model import Role
from server.identity.service import Authenticated
from server.web import schemas as s
from server.web.flood import KeyedBudgets
from server.web.routes_group_sessions import RUNNERS, SessionOut, session_out
from server.web.routes_identity import client_address, is_browser, me
from server.web.routing import COOKIE, Call, Permission, Registry, check_origin
from server.web.state import SERVICES

REGISTRARS = frozenset({Role.ADMIN, Role.SENIOR_OFFICER})
LIST_ROOMS = Permission("see the office's rooms", roles=REGISTRARS | {Role.FACILITATOR})
REGISTER_ROOMS = Permission("register the office's rooms and room devices", roles=REGISTRARS)
PAIRING = Permission("pair a room device", public=True)
DEVICE = Permission("see its room's sessions", roles=frozenset({Role.ROOM_DEVICE}))
STAFF = Permission("choose a group session's co-facilitators and observer", roles=RUNNERS)
IN_ROOM = Permission("mark who is present in the room", roles=RUNNERS)

#: Per address: a device asks for a code when its screen opens and again after a code expires.
PAIRING_FLOOD = web.AppKey("pairing_flood", KeyedBudgets)
#: Per address: a device polls its claim every few seconds until it is paired.
CLAIM_FLOOD = web.AppKey("claim_flood", KeyedBudgets)

#: The name of a room or a device (the columns hold 120 characters).
RoomName = Annotated[str, Meta(min_length=1, max_length=120, extra_json_schema={
    "x-name": True, "description": "A room's or a device's name, shown to the office (400 invalid_name)"})]
Secret = Annotated[str, Meta(min_length=1, max_length=128)]
PairingCode = Annotated[str, Meta(min_length=1, max_length=32)]


def pairing_flood() -> KeyedBudgets:
    return KeyedBudgets(rate=1 / 6, burst=10, overall_rate=5.0, overall_burst=60)


def claim_flood() -> KeyedBudgets:
    return KeyedBudgets(rate=2.0, burst=20, overall_rate=200.0, overall_burst=400)


class NewRoom(s.Strict, kw_only=True):
    name: RoomName
    kind: Literal["office", "prison"]


class PairDevice(s.Strict, kw_only=True):
    code: PairingCode
    name: RoomName


class Claim(s.Strict, kw_only=True):
    device_id: s.Id
    secret: Secret
    kind: Literal["cookie", "bearer"] | None = None


class DeviceOut(Struct, kw_only=True):
    id: str
    name: str | None
    paired_at: datetime | None


class RoomOut(Struct, kw_only=True):
    id: str
    name: str
    kind: str
    #: Its devices, to those who register them; null to those who only choose a room.
    devices: list[DeviceOut] | None


class Rooms(Struct, kw_only=True):
    rooms: list[RoomOut]


class PairingOut(Struct, kw_only=True):
    device_id: str
    code: str  # show it on the screen
    secret: str  # keep it in the page's memory only, to claim the account once paired
    expires_at: datetime


class ClaimOut(Struct, kw_only=True):
    paired: bool
    user: s.Me | None = None
    csrf_token: str | None = None
    token: str | None = None  # bearer claims only


class DeviceView(Struct, kw_only=True):
    device_name: str
    room_name: str
    room_kind: str
    sessions: list[SessionOut]


class AddStaff(s.Strict, kw_only=True):
    user_id: s.Id
    role: Literal["co_facilitator", "observer"]


class StaffMember(Struct, kw_only=True):
    user_id: str
    display_name: str
    role: str


class Colleague(Struct, kw_only=True):
    id: str
    display_name: str


class Staff(Struct, kw_only=True):
    staff: list[StaffMember]
    #: Facilitators of the office who could be added (empty for a co-facilitator).
    candidates: list[Colleague]


class InRoom(s.Strict, kw_only=True):
    user_id: s.Id
    present: bool


def room_out(r: OfficeRoom) -> RoomOut:
    return RoomOut(id=r.row.id, name=r.row.name, kind=r.row.kind,
                   devices=None if r.devices is None else [DeviceOut(id=d.id, name=d.name, paired_at=d.paired_at)
                                                           for d in r.devices])


def _flood(call: Call[Claim] | Call[None], key: web.AppKey[KeyedBudgets]) -> None:
    budgets = call.request.app[key]
    if not budgets.take(client_address(call.request), call.request.app[SERVICES].clock.monotonic()):
        raise RateLimited("Too many requests; try again shortly", retry_after=1 / budgets.rate)


def register(api: Registry) -> None:
    @api.route("GET", "/api/rooms", permission=LIST_ROOMS, summary="The office's rooms (with devices, to those "
               "who register them)", response=Rooms, tag="rooms")
    async def rooms(call: Call[None]) -> Rooms:
        return Rooms(rooms=[room_out(r) for r in await call.request.app[SERVICES].rooms.rooms(call.actor)])

    @api.route("POST", "/api/rooms", permission=REGISTER_ROOMS, summary="Register a room of the office",
               body=NewRoom, response=RoomOut, status=201, tag="rooms",
               example={"name": "Room 2", "kind": "office"})
    async def create(call: Call[NewRoom]) -> RoomOut:
        room_id = await call.request.app[SERVICES].rooms.create_room(call.actor, name=call.body.name,
                                                                     kind=call.body.kind)
        return RoomOut(id=room_id, name=call.body.name, kind=call.body.kind, devices=[])

    @api.route("POST", "/api/room-devices/pairing", permission=PAIRING, summary="A device asks to be paired: "
               "a short code for its screen and a secret to claim its account with", response=PairingOut,
               status=201, tag="rooms")
    async def start(call: Call[None]) -> PairingOut:
        check_origin(call.request)
        _flood(call, PAIRING_FLOOD)
        p = await call.request.app[SERVICES].rooms.start_pairing()
        return PairingOut(device_id=p.device_id, code=p.code, secret=p.secret, expires_at=p.expires_at)

    @api.route("POST", "/api/rooms/{room_id}/devices", permission=REGISTER_ROOMS,
               summary="Register the device showing this code for the room (a wrong or expired code is "
               "answered as an unknown one)", body=PairDevice, response=DeviceOut, status=201, tag="rooms",
               example={"code": "ABC234", "name": "Room 2 PC"})
    async def pair(call: Call[PairDevice]) -> DeviceOut:
        device_id = await call.request.app[SERVICES].rooms.pair(
            call.actor, call.param("room_id"), call.body.code, call.body.name, address=client_address(call.request))
        return DeviceOut(id=device_id, name=call.body.name, paired_at=call.request.app[SERVICES].clock.now())

    @api.route("POST", "/api/room-devices/claim", permission=PAIRING, summary="The device signs in once it is "
               "paired (paired: false until then); the secret works once", body=Claim, response=ClaimOut,
               tag="rooms", example={"device_id": "DEVICE", "secret": "SECRET"})
    async def claim(call: Call[Claim]) -> web.Response:
        services = call.request.app[SERVICES]
        check_origin(call.request)
        _flood(call, CLAIM_FLOOD)
        kind = call.body.kind or ("cookie" if is_browser(call.request) else "bearer")
        previous = call.request.cookies.get(COOKIE)
        result = await services.rooms.claim(call.body.device_id, call.body.secret, kind=kind,
                                            address=client_address(call.request),
                                            previous_token=previous if kind == "cookie" else None)
        if result is None:
            return web.json_response(s.to_builtins(ClaimOut(paired=False)))
        auth = Authenticated(result.actor, result.session)
        body = ClaimOut(paired=True, user=me(result.actor, auth, require_staff_mfa=services.settings.require_staff_mfa),
                        csrf_token=result.session.csrf_token, token=result.token if kind == "bearer" else None)
        response = web.json_response(s.to_builtins(body))
        if kind == "cookie":
            response.set_cookie(COOKIE, result.token, httponly=True, secure=services.settings.cookie_secure,
                                samesite="Strict", path="/",
                                max_age=int((result.session.expires_at - result.session.created_at).total_seconds()))
        return response

    @api.route("GET", "/api/room-device", permission=DEVICE, summary="A room device's room and the sessions "
               "scheduled in it, from the one going on now", response=DeviceView, tag="rooms")
    async def device(call: Call[None]) -> DeviceView:
        v = await call.request.app[SERVICES].rooms.device_view(call.actor)
        return DeviceView(device_name=v.device_name, room_name=v.room_name, room_kind=v.room_kind,
                          sessions=[session_out(e) for e in v.sessions])

    async def _staff(call: Call[None] | Call[AddStaff]) -> Staff:
        staff, candidates = await call.request.app[SERVICES].group_sessions.staffing(call.actor,
                                                                                     call.param("session_id"))
        return Staff(staff=[StaffMember(user_id=x.user_id, display_name=x.display_name, role=x.role) for x in staff],
                     candidates=[Colleague(id=c.id, display_name=c.display_name) for c in candidates])

    @api.route("GET", "/api/group-sessions/{session_id}/staff", permission=STAFF,
               summary="A session's co-facilitators and observer, and who could be added", response=Staff,
               tag="group sessions")
    async def staff(call: Call[None]) -> Staff:
        return await _staff(call)

    @api.route("POST", "/api/group-sessions/{session_id}/staff", permission=STAFF,
               summary="Add a facilitator of the office as a co-facilitator or as the observer (a programme "
               "mentor, shown to everyone as observer)", body=AddStaff, response=Staff, status=201,
               tag="group sessions", example={"user_id": "FACILITATOR", "role": "observer"})
    async def add_staff(call: Call[AddStaff]) -> Staff:
        await call.request.app[SERVICES].group_sessions.add_staff(call.actor, call.param("session_id"),
                                                                  call.body.user_id, SessionRole(call.body.role))
        return await _staff(call)

    @api.route("POST", "/api/group-sessions/{session_id}/in-room", permission=IN_ROOM,
               summary="Mark an enrolled participant present in the room (or not): evidence for the register",
               body=InRoom, tag="group sessions", example={"user_id": "CLIENT", "present": True})
    async def in_room(call: Call[InRoom]) -> None:
        await call.request.app[SERVICES].attendance.mark_in_room(call.actor, call.param("session_id"),
                                                                 call.body.user_id, call.body.present)
