from __future__ import annotations

import pytest

from server.identity.model import Actor, Role
from server.identity.scope import CaseRef, audit_mark, in_scope, is_cross_office, office_relation, relation

CASE = CaseRef("c1", client_id="cl", officer_id="of", office_id="A", mentor_ids=frozenset({"me"}),
               partner_ids=frozenset({"pa"}))


def actor(user_id: str, role: Role, office: str | None = "A", *, cross_office: bool = False) -> Actor:
    return Actor(user_id, user_id, user_id, role, office, "en", False, cross_office)


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


NAMED = frozenset({"root"})


@pytest.mark.parametrize(("who", "expected"), [
    (actor("root", Role.ADMIN, None), True),
    (actor("root", Role.ADMIN, "A"), False),  # an admin of an office stays in it, named or not
    (actor("root", Role.OFFICER, None), False),
    (actor("other", Role.ADMIN, None), False),
])
def test_only_a_named_admin_with_no_office_is_cross_office(who: Actor, expected: bool) -> None:
    assert is_cross_office(who, NAMED) is expected


@pytest.mark.parametrize(("who", "office", "expected"), [
    (actor("ad", Role.ADMIN), "A", "own_office"),
    (actor("of", Role.OFFICER), "A", "own_office"),
    (actor("ad", Role.ADMIN), "B", "none"),
    (actor("ad", Role.ADMIN), None, "none"),
    (actor("ad", Role.ADMIN, None), None, "none"),
    (actor("ad", Role.ADMIN, None), "A", "none"),
    (actor("root", Role.ADMIN, None, cross_office=True), "B", "cross_office"),
    (actor("root", Role.ADMIN, None, cross_office=True), None, "cross_office"),
])
def test_office_relation(who: Actor, office: str | None, expected: str) -> None:
    assert office_relation(who, office) == expected


def test_a_cross_office_administrators_acts_are_marked() -> None:
    assert audit_mark(actor("root", Role.ADMIN, None, cross_office=True)) == {"cross_office": True}
    assert audit_mark(actor("ad", Role.ADMIN)) == {}
    assert audit_mark(None) == {}
