"""Safe space: both sides confirm they can talk safely before any video session.

CEP practice recommendations (2024), §5 good practices: "what constitutes a safe space
for the client and staff to undertake probation work"; §4.4 working from home (staff
at home pass the same check). Domestic-violence and protected-person cases add
questions, because the person at risk may be in the same room as the client. The
engine only says which checks are owed; ``checkins/safe_space.py`` asks and records
them (answers kept under the ``safe_space_answers`` retention category).
"""

from __future__ import annotations

from typing import Literal

from server.policy.decision import Decision, allow, said
from server.policy.facts import START_VIDEO, CaseFacts, PolicyRequest
from server.policy.schema import Question, SafeSpaceConfig

RULE_ID = "safe_space"


def _domestic_violence(case: CaseFacts | None) -> bool:
    return case is not None and (case.domestic_violence or case.protected_person)


def questions_for(
    config: SafeSpaceConfig, case: CaseFacts | None, side: Literal["client", "staff"]
) -> tuple[Question, ...]:
    """The questions one side must answer, in the order to ask them."""
    if side == "staff":
        return config.staff_questions
    if side != "client":
        raise ValueError(f"side must be 'client' or 'staff', not {side!r}")
    questions = config.client_questions
    if _domestic_violence(case):
        questions += config.domestic_violence_questions
        if config.forbid_shared_address_when_dv:
            questions += (config.shared_address_question,)
    return questions


def evaluate(config: SafeSpaceConfig, request: PolicyRequest, version: int) -> Decision | None:
    if request.action != START_VIDEO:
        return None
    obligations = ["safe_space_check:client", "safe_space_check:staff"]
    sentences = [said("both_sides", "Client and staff confirm a safe space before the video starts")]
    if _domestic_violence(request.case):
        obligations.append("safe_space_check:domestic_violence")
        sentences.append(said("domestic_violence", "This case is flagged for domestic violence: extra questions apply"))
    return allow(RULE_ID, version, sentences, obligations)


def group_questions_for(
    config: SafeSpaceConfig, case: CaseFacts | None, side: Literal["client", "staff"]
) -> tuple[Question, ...]:
    """Before a live group session: one side's questions, then the group's own question (nobody
    outside the group sees or hears the session), asked of clients and staff alike."""
    return (*questions_for(config, case, side), config.group_question)
