"""Programme groups (pure).

A cohort is one run of an accredited programme in an office: its facilitators and
the participants referred to it (each through their case). The group conversation
holds the cohort's current members; a participant who leaves keeps no access to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.identity.model import Actor, Role


class CohortRole(StrEnum):
    FACILITATOR = "facilitator"
    PARTICIPANT = "participant"


#: Who may open a cohort: facilitators run programmes, senior officers organise them.
COHORT_OPENERS = frozenset({Role.FACILITATOR, Role.SENIOR_OFFICER})


@dataclass(frozen=True)
class CohortRef:
    cohort_id: str
    office_id: str
    facilitator_ids: frozenset[str]


def manages(actor: Actor, cohort: CohortRef) -> bool:
    """A cohort is managed by its own facilitators and by the senior officers of its office."""
    if actor.user_id in cohort.facilitator_ids:
        return True
    return actor.role is Role.SENIOR_OFFICER and actor.office_id == cohort.office_id
