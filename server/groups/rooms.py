"""Rooms and room devices: an office or prison room where a group meets, and the PC in it
that joins the session as one participant representing the room.

Design note. A room device holds no personal data and no password. It pairs as a TV does:
it asks for a pairing (``start_pairing``, no sign-in) and shows the short code on its screen,
keeping a long secret to itself; an admin or senior officer of the office enters the code to
register it for one of the office's rooms (``pair``), which creates the device's own
``room_device`` account (named after the device, never after a person); the device then
claims that account with its secret (``claim``), once. Codes are stored as SHA-256 digests,
expire after ``code_ttl`` and are single-use; a wrong or expired code is answered exactly as
one that never existed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from server.audit import store as audit
from server.clock import Clock
from server.errors import BadRequest, NotFound, OutOfScope, PolicyRefused
from server.groups import session_store as store
from server.identity.model import Actor, Role
from server.identity.service import IdentityService
from server.ids import new_id
from server.store.tx import Store

#: Letters and digits that cannot be mistaken for one another on a screen across a room.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
REGISTRARS = frozenset({Role.ADMIN, Role.SENIOR_OFFICER})
RoomKind = Literal["office", "prison"]


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


class RoomService:
    def __init__(self, store_: Store, clock: Clock, identity: IdentityService, *,
                 code_ttl: timedelta = timedelta(minutes=10)) -> None:
        self.store = store_
        self.clock = clock
        self.identity = identity
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
        device_id, code, secret, now = new_id(), new_code(), secrets.token_urlsafe(32), self.clock.now()
        async with self.store.write("room_device.start") as conn:
            await store.insert_device(conn, id=device_id, code_hash=digest(code), secret_hash=digest(secret),
                                      code_expires_at=now + self.code_ttl, created_at=now)
        return Pairing(device_id, code, secret)

    async def pair(self, by: Actor, room_id: str, code: str, name: str) -> str:
        """Register the device showing ``code`` for one of the office's rooms; returns its id."""
        office_id = self._registrar(by)
        now = self.clock.now()
        async with self.store.write("room_device.pair") as conn:
            room = await store.room(conn, room_id)
            if room is None or room.office_id != office_id:
                raise OutOfScope("No such room")
            device = await store.device_by_code(conn, digest(normalise(code)))
            if device is None or device.code_expires_at is None or device.code_expires_at <= now:
                raise NotFound("No device is showing that code; start pairing on the device again")
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

    async def claim(self, device_id: str, secret: str) -> str | None:
        """The device's account once it is paired (None: not yet). The secret works once."""
        async with self.store.write("room_device.claim") as conn:
            device = await store.device(conn, device_id)
            if device is None or device.secret_hash is None or device.revoked_at is not None or \
                    not hmac.compare_digest(device.secret_hash, digest(secret)):
                raise NotFound("No such pairing")
            if device.user_id is None:
                return None
            await store.update_device(conn, device.id, secret_hash=None)
            await audit.append(conn, at=self.clock.now(), actor_id=device.user_id, action="room_device.claim",
                               target_type="room_device", target_id=device.id)
            return str(device.user_id)

    async def rooms(self, by: Actor) -> list[tuple[object, list[object]]]:
        """The office's rooms with their devices (for those who register them)."""
        office_id = self._registrar(by)
        async with self.store.read("room.list") as conn:
            return [(r, await store.devices_of_room(conn, r.id)) for r in await store.rooms_of_office(conn, office_id)]
