from __future__ import annotations

from server.groups.model import CohortRef, manages
from server.identity.model import Actor, Role

COHORT = CohortRef("c1", "office-a", frozenset({"fac1"}))


def _actor(user_id: str, role: Role, office_id: str | None = "office-a") -> Actor:
    return Actor(user_id, user_id, user_id, role, office_id, "en", False)


def test_a_cohort_is_managed_by_its_facilitators() -> None:
    assert manages(_actor("fac1", Role.FACILITATOR), COHORT)
    assert not manages(_actor("fac2", Role.FACILITATOR), COHORT)


def test_and_by_the_senior_officers_of_its_office_only() -> None:
    assert manages(_actor("sen", Role.SENIOR_OFFICER), COHORT)
    assert not manages(_actor("sen_b", Role.SENIOR_OFFICER, "office-b"), COHORT)
    assert not manages(_actor("off", Role.OFFICER), COHORT)
