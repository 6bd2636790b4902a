"""Rooms and room devices: an office or prison room where a group meets, and the PC in it
that joins the session as one participant representing the room.

Design note. A room device holds no personal data and no password. It pairs as a TV does:
it asks for a pairing (``start_pairing``, no sign-in) and shows the short code on its screen,
keeping a long secret to itself; an admin or senior officer of the office enters the code to
register it for one of the office's rooms (``pair``), which creates the device's own
``room_device`` account (named after the device, never after a person); the device then
claims that account with its secret (``claim``), once. Codes are stored as SHA-256 digests,
expire after ``code_ttl`` and are single-use; a wrong or expired code is answered exactly as
one that never existed, and an admin or senior who keeps entering wrong codes is throttled as
a sign-in is. A claimed device signs in with a normal session of its account (a fresh token
the server chose); that account reads no case data, only its room's sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from server.audit import store as audit
from server.clock import Clock
from server.errors import BadRequest, NotFound, OutOfScope, PolicyRefused
from server.groups import session_store as store
from server.groups.sessions import GroupSessionService, SessionEntry
from server.identity import store as identity_store
from server.identity.model import Actor, Role
from server.identity.service import IdentityService, LoginResult
from server.ids import new_id
from server.store.tx import Store

#: Letters and digits that cannot be mistaken for one another on a screen across a room.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
REGISTRARS = frozenset({Role.ADMIN, Role.SENIOR_OFFICER})
RoomKind = Literal["office", "prison"]
#: Who picks a room when scheduling: those who run groups, besides those who register rooms.
CHOOSERS = REGISTRARS | {Role.FACILITATOR}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise(code: str) -> str:
    """What someone typed: case and spaces or dashes do not matter."""
    return "".join(c for c in code.upper() if c.isalnum())


@dataclass(frozen=True)
class Pairing:
    device_id: str
    code: str  # shown on the device's screen
    secret: str  # kept by the device, to claim its account once paired
    expires_at: datetime


@dataclass(frozen=True)
class OfficeRoom:
    row: Any
    #: Its devices, for those who register them; None for those who only choose a room.
    devices: list[Any] | None


@dataclass(frozen=True)
class DeviceView:
    """What a room device sees: its room and the sessions scheduled there, from the current one on."""

    device_name: str
    room_name: str
    room_kind: str
    sessions: list[SessionEntry]


class RoomService:
    def __init__(self, store_: Store, clock: Clock, identity: IdentityService, sessions: GroupSessionService, *,
                 code_ttl: timedelta = timedelta(minutes=10), codes: Callable[[], str] = new_code) -> None:
        self.store = store_
        self.codes = codes  # a pairing code's generator (tests give their own sequence)
        self.clock = clock
        self.identity = identity
        self.sessions = sessions
        self.code_ttl = code_ttl

    @staticmethod
    def _registrar(by: Actor) -> str:
        if by.role not in REGISTRARS or by.office_id is None:
            raise PolicyRefused("Only an office's admins and senior officers register rooms and room devices "
                                "(rule scope)", rule_id="scope", reason="scope.room_registrars")
        return by.office_id

    async def create_room(self, by: Actor, *, name: str, kind: RoomKind) -> str:
        office_id = self._registrar(by)
        if kind not in ("office", "prison"):
            raise BadRequest("A room is in an office or a prison")
        room_id, now = new_id(), self.clock.now()
        async with self.store.write("room.create") as conn:
            await store.insert_room(conn, id=room_id, office_id=office_id, name=name, kind=kind,
                                    created_by=by.user_id, created_at=now)
            await audit.append(conn, at=now, actor_id=by.user_id, action="room.create", target_type="room",
                               target_id=room_id, details={"kind": kind})
        return room_id

    async def start_pairing(self) -> Pairing:
        """A device asks to be paired (no sign-in): a code for its screen, a secret for itself."""
        device_id, secret, now = new_id(), secrets.token_urlsafe(32), self.clock.now()
        async with self.store.write("room_device.start") as conn:
            code = self.codes()
            while (taken := await store.device_by_code(conn, digest(code))) is not None:
                if taken.code_expires_at is not None and taken.code_expires_at > now:
                    code = self.codes()  # shown on another screen right now: never two alike
                else:  # an expired code of a device never paired: it can no longer be entered
                    await store.update_device(conn, taken.id, code_hash=None, code_expires_at=None)
            await store.insert_device(conn, id=device_id, code_hash=digest(code), secret_hash=digest(secret),
                                      code_expires_at=now + self.code_ttl, created_at=now)
        return Pairing(device_id, code, secret, now + self.code_ttl)

    async def pair(self, by: Actor, room_id: str, code: str, name: str, *, address: str = "unknown") -> str:
        """Register the device showing ``code`` for one of the office's rooms; returns its id."""
        office_id = self._registrar(by)
        key = f"room_pair:{by.user_id}"
        self.identity.throttle(key, address, account_wide=False)
        now = self.clock.now()
        async with self.store.write("room_device.pair") as conn:
            room = await store.room(conn, room_id)
            if room is None or room.office_id != office_id:
                raise OutOfScope("No such room")
            device = await store.device_by_code(conn, digest(normalise(code)))
            if device is None or device.code_expires_at is None or device.code_expires_at <= now:
                self.identity.limiter.failed(key, address, self.clock.monotonic(), account_wide=False)
                raise NotFound("No device is showing that code; start pairing on the device again",
                               reason="room_device.unknown_code")
            user_id = await self.identity.insert_user(
                conn, by, username=f"room-device-{device.id}", display_name=name, role=Role.ROOM_DEVICE,
                office_id=office_id, password_hash=None)
            await store.update_device(conn, device.id, room_id=room_id, user_id=user_id, name=name, code_hash=None,
                                      code_expires_at=None, registered_by=by.user_id, registered_at=now,
                                      paired_at=now)
            await audit.append(conn, at=now, actor_id=by.user_id, action="room_device.pair",
                               target_type="room_device", target_id=device.id,
                               details={"room_id": room_id, "user_id": user_id})
        return str(device.id)

    async def claim(self, device_id: str, secret: str, *, kind: str, address: str,
                    previous_token: str | None = None) -> LoginResult | None:
        """The device signs in to its account once it is paired (None: not yet). The secret
        works once; the session is a new one, any token the request presented is revoked."""
        async with self.store.write("room_device.claim") as conn:
            device = await store.device(conn, device_id)
            if device is None or device.secret_hash is None or device.revoked_at is not None or \
                    not hmac.compare_digest(device.secret_hash, digest(secret)):
                raise NotFound("No such pairing", reason="room_device.unknown_pairing")
            if device.user_id is None:
                return None
            user = await identity_store.user_by_id(conn, device.user_id)
            if user is None or user.disabled:
                raise NotFound("No such pairing", reason="room_device.unknown_pairing")
            await store.update_device(conn, device.id, secret_hash=None)
            await audit.append(conn, at=self.clock.now(), actor_id=device.user_id, action="room_device.claim",
                               target_type="room_device", target_id=device.id)
            return await self.identity.insert_session(conn, self.identity.actor_of(user), kind=kind,
                                                      address=address, previous_token=previous_token)

    async def rooms(self, by: Actor) -> list[OfficeRoom]:
        """The office's rooms: with their devices for those who register them, bare for a
        facilitator choosing where a session meets. Names no person but the devices."""
        if by.role not in CHOOSERS or by.office_id is None:
            self._registrar(by)
        async with self.store.read("room.list") as conn:
            rows = await store.rooms_of_office(conn, str(by.office_id))
            if by.role not in REGISTRARS:
                return [OfficeRoom(r, None) for r in rows]
            return [OfficeRoom(r, await store.devices_of_room(conn, r.id)) for r in rows]

    async def device_view(self, device: Actor, *, limit: int = 5) -> DeviceView:
        """A room device's own room and the sessions scheduled in it, from the one going on now."""
        async with self.store.read("room_device.view") as conn:
            row = await store.device_of_user(conn, device.user_id)
            room = await store.room(conn, row.room_id) if row is not None and row.room_id is not None else None
            if row is None or room is None or device.role is not Role.ROOM_DEVICE:
                raise OutOfScope("No such room device")
            start = self.clock.now() - self.sessions.windows.close_after
            listed = await store.sessions_of_room(conn, room.id, start=start, limit=limit)
        return DeviceView(str(row.name), str(room.name), str(room.kind),
                          [self.sessions.entry(r) for r in listed])
