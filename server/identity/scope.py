"""Who may see which case (pure).

CEP practice recommendations and GDPR art. 5(1)(c) (data minimisation): an officer
sees their caseload, a senior officer their office, a client their own case, a mentor
only their mentees' conversations (never case data), a partner only the case networks
they were invited to. ``relation`` names the actor's tie to one case; the policy
engine's ``scope`` rule turns a relation into allow or deny for an action.

The office boundary (docs/threat-model.md): staff act within their own office.
``office_relation`` names the actor's tie to one office, the office of whatever an
office-scoped action touches (an account, a new case); the ``scope`` rule decides
``act_in_office`` on it. Only a cross-office administrator crosses the boundary: an
admin account with no office whose username the deployment lists in
``TANDEM_CROSS_OFFICE_ADMINS``. Nobody can make one through the API, because only a
cross-office administrator or the CLI creates accounts with no office.

An actor with no relation to a case is outside its scope: for them the case does not
exist, and every route answers as it does for an id that was never issued (issue 12),
so case ids cannot be probed. An actor with a relation who is refused an action (a
client writing their own case, a mentor reading case data) is told why, with a rule id.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.identity.model import Actor, Role


@dataclass(frozen=True)
class CaseRef:
    case_id: str
    client_id: str
    officer_id: str
    office_id: str
    mentor_ids: frozenset[str] = frozenset()
    partner_ids: frozenset[str] = frozenset()


def relation(actor: Actor, case: CaseRef) -> str:
    if actor.role is Role.CLIENT:
        return "client_self" if actor.user_id == case.client_id else "none"
    if actor.role is Role.OFFICER:
        return "supervising_officer" if actor.user_id == case.officer_id else "none"
    if actor.role is Role.SENIOR_OFFICER:
        if actor.user_id == case.officer_id:
            return "supervising_officer"
        return "office_senior" if actor.office_id is not None and actor.office_id == case.office_id else "none"
    if actor.role is Role.MENTOR:
        return "mentor" if actor.user_id in case.mentor_ids else "none"
    if actor.role is Role.PARTNER:
        return "network_partner" if actor.user_id in case.partner_ids else "none"
    return "none"


def is_cross_office(actor: Actor, named: frozenset[str]) -> bool:
    """Is ``actor`` one of the cross-office administrators the deployment ``named``?"""
    return actor.role is Role.ADMIN and actor.office_id is None and actor.username in named


def office_relation(actor: Actor, office_id: str | None) -> str:
    """The actor's tie to an office; ``office_id`` None is an account of no office."""
    if actor.office_id is not None and actor.office_id == office_id:
        return "own_office"
    return "cross_office" if actor.cross_office else "none"


def audit_mark(actor: Actor | None) -> dict[str, object]:
    """What the audit row of an office-scoped action adds when a cross-office administrator acts
    (``actor`` None: the system)."""
    return {"cross_office": True} if actor is not None and actor.cross_office else {}

def followup_scope(actor: Actor) -> tuple[str | None, str | None] | None:
    """Whose follow-up list an actor reads, as (officer_id, office_id) filters: an officer
    their own caseload's, a senior their office's; None for anyone else (the caller refuses,
    naming its own rule)."""
    if actor.role is Role.OFFICER:
        return actor.user_id, None
    if actor.role is Role.SENIOR_OFFICER:
        return None, actor.office_id
    return None


def in_scope(actor: Actor, case: CaseRef) -> bool:
    return relation(actor, case) != "none"
