from __future__ import annotations

import pytest

from server.identity.model import Actor, Role
from server.identity.scope import CaseRef, in_scope, relation

CASE = CaseRef("c1", client_id="cl", officer_id="of", office_id="A", mentor_ids=frozenset({"me"}),
               partner_ids=frozenset({"pa"}))


def actor(user_id: str, role: Role, office: str | None = "A") -> Actor:
    return Actor(user_id, user_id, user_id, role, office, "en", False)


@pytest.mark.parametrize(("who", "expected"), [
    (actor("cl", Role.CLIENT, None), "client_self"),
    (actor("x", Role.CLIENT, None), "none"),
    (actor("of", Role.OFFICER), "supervising_officer"),
    (actor("o2", Role.OFFICER), "none"),
    (actor("of", Role.SENIOR_OFFICER), "supervising_officer"),
    (actor("se", Role.SENIOR_OFFICER), "office_senior"),
    (actor("se", Role.SENIOR_OFFICER, "B"), "none"),
    (actor("se", Role.SENIOR_OFFICER, None), "none"),
    (actor("me", Role.MENTOR), "mentor"),
    (actor("m2", Role.MENTOR), "none"),
    (actor("pa", Role.PARTNER, None), "network_partner"),
    (actor("p2", Role.PARTNER, None), "none"),
    (actor("ad", Role.ADMIN), "none"),
    (actor("fa", Role.FACILITATOR), "none"),
    (actor("in", Role.INTERPRETER, None), "none"),
    (actor("rd", Role.ROOM_DEVICE), "none"),
])
def test_relation(who: Actor, expected: str) -> None:
    assert relation(who, CASE) == expected
    # With no relation the case is outside the actor's scope: to them it does not exist.
    assert in_scope(who, CASE) is (expected != "none")
