"""The safe-space check (pure): which questions one person answers, and what the answers mean.

CEP practice recommendations (2024), §5 good practices ("what constitutes a safe space
for the client and staff to undertake probation work") and §4.4 (staff working from
home pass the same check). The questions come from ``policies/safe_space.toml`` through
the policy rule, so the rule and this check can never disagree on what is asked.

Every question is asked so that one answer (``safe_answer``, "yes" by default) is the
safe one. Any other answer, or the discreet "I can't talk safely now", ends the attempt
without penalty: the result says so and the caller alerts the officer quietly.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Literal

import msgspec

from server.errors import BadRequest
from server.policy.facts import CaseFacts
from server.policy.rules.safe_space import questions_for
from server.policy.schema import Question, SafeSpaceConfig

Side = Literal["client", "staff"]


class Verdict(StrEnum):
    PASSED = "passed"
    UNSAFE = "unsafe"  # an answer that is not the safe one
    CANT_TALK = "cant_talk"  # the discreet button


class Result(msgspec.Struct, frozen=True, kw_only=True):
    verdict: Verdict
    #: Question ids answered with the unsafe answer (for the officer's alert; never shown to the client).
    unsafe: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED


def side_of(role: str) -> Side:
    """Clients answer the client questions; staff and interpreters (professionals in the call,
    perhaps working from home) answer the staff questions."""
    return "client" if role == "client" else "staff"


def questions(config: SafeSpaceConfig, case: CaseFacts, side: Side) -> tuple[Question, ...]:
    return questions_for(config, case, side)


def evaluate(asked: tuple[Question, ...], answers: Mapping[str, bool], *, cant_talk: bool = False) -> Result:
    """Judge a complete set of answers. Unknown or missing question ids are a bad request,
    never a silent pass: a client that skips a question has not confirmed anything."""
    if cant_talk:
        return Result(verdict=Verdict.CANT_TALK)
    ids = [q.id for q in asked]
    unknown = sorted(set(answers) - set(ids))
    if unknown:
        raise BadRequest(f"Unknown safe-space questions: {', '.join(unknown)}", reason="safe_space.unknown_questions")
    missing = [i for i in ids if i not in answers]
    if missing:
        raise BadRequest(f"Answer every safe-space question; missing: {', '.join(missing)}",
                         reason="safe_space.unanswered")
    unsafe = tuple(q.id for q in asked if answers[q.id] != q.safe_answer)
    return Result(verdict=Verdict.UNSAFE if unsafe else Verdict.PASSED, unsafe=unsafe)
