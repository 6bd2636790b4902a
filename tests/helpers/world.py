"""A small probation world built through the action functions, never raw INSERTs.

Office A: officer (supervises case ``own``), officer2 (supervises ``same_office``),
senior, facilitator, admin, mentor (mentor of ``own``'s client), partner (in
``own``'s case network), interpreter, room_device, evaluator (issue 16: reads every office's
figures, no case). Office B: officer3 (supervises
``other_office``). One client per case; ``own`` has a face-to-face meeting.

``add_office_b`` gives office B a user in every role (tests that probe from the other
office call it; the others do not pay for the extra accounts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from server.identity.model import Actor, Role
from server.web.state import Services

PASSWORD = "correct horse battery"
ROLES = ("client", "officer", "senior_officer", "facilitator", "mentor", "partner", "interpreter", "admin",
         "room_device", "evaluator")


@dataclass
class World:
    offices: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # username -> id
    actors: dict[str, Actor] = field(default_factory=dict)
    cases: dict[str, str] = field(default_factory=dict)  # own | same_office | other_office -> case id
    clients: dict[str, str] = field(default_factory=dict)  # same keys -> client user id
    codes: dict[str, str] = field(default_factory=dict)

    def actor(self, username: str) -> Actor:
        return self.actors[username]


async def build(services: Services) -> World:
    w = World()
    ident, cases, now = services.identity, services.cases, services.clock.now()
    w.offices["A"] = await ident.create_office(None, "Office A")
    w.offices["B"] = await ident.create_office(None, "Office B")
    staff = [
        ("officer", Role.OFFICER, "A"), ("officer2", Role.OFFICER, "A"), ("officer3", Role.OFFICER, "B"),
        ("senior", Role.SENIOR_OFFICER, "A"), ("facilitator", Role.FACILITATOR, "A"), ("admin", Role.ADMIN, "A"),
        ("mentor", Role.MENTOR, "A"), ("partner", Role.PARTNER, None), ("interpreter", Role.INTERPRETER, None),
        ("room_device", Role.ROOM_DEVICE, "A"), ("senior_b", Role.SENIOR_OFFICER, "B"),
        ("evaluator", Role.EVALUATOR, "A"),
    ]
    for username, role, office in staff:
        office_id = w.offices[office] if office else None
        uid = await ident.create_user(None, username=username, display_name=username.title(), role=role,
                                      office_id=office_id, password=PASSWORD)
        w.users[username] = uid
        w.actors[username] = Actor(uid, username, username.title(), role, office_id, "en", False)
    senior, senior_b = w.actor("senior"), w.actor("senior_b")
    for key, client, officer, opener in (("own", "client", "officer", senior),
                                         ("same_office", "client_same", "officer2", senior),
                                         ("other_office", "client_other", "officer3", senior_b)):
        created = await cases.create_case(opener, client_username=client, client_display_name=client.title(),
                                          officer_id=w.users[officer], password=PASSWORD,
                                          domestic_violence=key == "same_office")
        w.cases[key] = created.case_id
        w.clients[key] = created.client_id
        w.codes[key] = created.enrolment_code
        w.users[client] = created.client_id
        w.actors[client] = Actor(created.client_id, client, client.title(), Role.CLIENT, None, "en", False)
    officer = w.actor("officer")
    await cases.record_face_to_face(officer, w.cases["own"], met_at=now - timedelta(days=1), location="Office A")
    await cases.assign_mentor(officer, mentor_id=w.users["mentor"], client_id=w.clients["own"])
    await cases.add_network_member(officer, w.cases["own"], w.users["partner"])
    return w


#: role -> the office-B user acting in it, once ``add_office_b`` has run.
OFFICE_B = {"client": "client_other", "officer": "officer3", "senior_officer": "senior_b",
            "facilitator": "facilitator_b", "mentor": "mentor_b", "partner": "partner_b",
            "interpreter": "interpreter_b", "admin": "admin_b", "room_device": "room_device_b",
            "evaluator": "evaluator_b"}


async def add_office_b(services: Services, w: World) -> None:
    """Office B's staff in every role: mentor_b mentors ``other_office``'s client and
    partner_b is in its case network (partners and interpreters belong to no office)."""
    ident, cases = services.identity, services.cases
    staff = [("admin_b", Role.ADMIN, "B"), ("facilitator_b", Role.FACILITATOR, "B"), ("mentor_b", Role.MENTOR, "B"),
             ("partner_b", Role.PARTNER, None), ("interpreter_b", Role.INTERPRETER, None),
             ("room_device_b", Role.ROOM_DEVICE, "B"), ("evaluator_b", Role.EVALUATOR, "B")]
    for username, role, office in staff:
        if username in w.users:  # already part of the base world
            continue
        office_id = w.offices[office] if office else None
        uid = await ident.create_user(None, username=username, display_name=username.title(), role=role,
                                      office_id=office_id, password=PASSWORD)
        w.users[username] = uid
        w.actors[username] = Actor(uid, username, username.title(), role, office_id, "en", False)
    officer3 = w.actor("officer3")
    await cases.assign_mentor(officer3, mentor_id=w.users["mentor_b"], client_id=w.clients["other_office"])
    await cases.add_network_member(officer3, w.cases["other_office"], w.users["partner_b"])


async def login(client: TestClient[Any, Any], username: str, password: str = PASSWORD) -> dict[str, str]:
    """Bearer headers for ``username``."""
    resp = await client.post("/api/session", json={"username": username, "password": password, "kind": "bearer"})
    body = await resp.json()
    assert resp.status == 200, body
    return {"Authorization": f"Bearer {body['token']}"}
