"""Names as one viewer is shown them in a conversation (pure)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from server.messaging.model import FIRST_NAME, INITIALS, Kind, as_seen_by, group_name

MEMBERS = [SimpleNamespace(conversation_id="c", id="1", display_name="Kalle Tamm", role="client"),
           SimpleNamespace(conversation_id="c", id="2", display_name="Fiona Facilitator", role="facilitator"),
           SimpleNamespace(conversation_id="c", id="3", display_name="Mononym", role="client")]


def test_participants_of_a_group_see_one_another_by_first_name() -> None:
    shown = as_seen_by("client", Kind.GROUP, MEMBERS)
    assert [m.display_name for m in shown] == ["Kalle", "Fiona Facilitator", "Mononym"]
    assert [(m.id, m.role, m.conversation_id) for m in shown] == [("1", "client", "c"), ("2", "facilitator", "c"),
                                                                   ("3", "client", "c")]


@pytest.mark.parametrize(("viewer", "kind"), [("facilitator", Kind.GROUP), ("officer", Kind.GROUP),
                                              ("client", Kind.CASE), ("client", Kind.MENTORING)])
def test_staff_and_other_conversations_see_full_names(viewer: str, kind: Kind) -> None:
    assert [m.display_name for m in as_seen_by(viewer, kind, MEMBERS)] == ["Kalle Tamm", "Fiona Facilitator",
                                                                           "Mononym"]


def test_a_group_may_use_initials_instead() -> None:
    shown = as_seen_by("client", Kind.GROUP, MEMBERS, INITIALS)
    assert [m.display_name for m in shown] == ["K. T.", "Fiona Facilitator", "M."]
    assert as_seen_by("officer", Kind.GROUP, MEMBERS, INITIALS)[0].display_name == "Kalle Tamm"


@pytest.mark.parametrize(("name", "naming", "shown"), [
    ("Anna Maria Berg", FIRST_NAME, "Anna"), ("Anna Maria Berg", INITIALS, "A. M. B."), ("  ", FIRST_NAME, "  "),
    ("Ülle Õun", INITIALS, "Ü. Õ."),
])
def test_group_names(name: str, naming: str, shown: str) -> None:
    assert group_name(name, naming) == shown
