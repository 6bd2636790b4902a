"""What the engine answers: one explainable, frozen decision.

Every reason is given twice, in parallel: as an English sentence that names the rule it
comes from ("... (rule face_to_face_first)"), for logs, the audit chain and API users, and
as a :class:`Reason`, a stable code with its parameters, from which a client says the same
thing in the language of the person reading it (issue 13). Codes are
``<rule_id>.<what>``; their parameters are plain strings and integers (a time is an ISO
8601 UTC string), never prose.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from server.errors import PolicyRefused

Param = str | int


class Reason(msgspec.Struct, frozen=True, kw_only=True):
    #: Stable, "<rule_id>.<what>", e.g. "face_to_face_first.none_recorded".
    code: str
    params: dict[str, Param] = msgspec.field(default_factory=dict)


class Said(msgspec.Struct, frozen=True):
    """One reason as a rule states it: its code (without the rule id), the English
    sentence, and the parameters both are made from."""

    code: str
    sentence: str
    params: dict[str, Param] = msgspec.field(default_factory=dict)


def said(code: str, sentence: str, **params: Param) -> Said:
    return Said(code, sentence, params)


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    allowed: bool
    #: The rule that refused, or None when allowed.
    rule_id: str | None
    policy_version: int
    #: Human sentences, each ending with "(rule <rule_id>)".
    reasons: tuple[str, ...]
    #: The same reasons as codes and parameters, one for each sentence, in order.
    codes: tuple[Reason, ...] = ()
    #: Things the caller must do before or while carrying out an allowed action,
    #: e.g. "safe_space_check:client", "offer_alternative:phone", "audio_only".
    obligations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.allowed and self.rule_id is not None:
            raise ValueError("an allowed decision names no refusing rule")
        if not self.allowed and (self.rule_id is None or not self.reasons):
            raise ValueError("a refusal must name its rule and give a reason")
        if len(self.codes) != len(self.reasons):
            raise ValueError("every reason has its code")


def cite(rule_id: str, sentence: str) -> str:
    """Attach the rule id to a human sentence, the way every reason is written."""
    return f"{sentence} (rule {rule_id})"


def coded(rule_id: str, reason: Said) -> Reason:
    return Reason(code=f"{rule_id}.{reason.code}", params=dict(reason.params))


def refuse(rule_id: str, version: int, reason: Said) -> Decision:
    return Decision(
        allowed=False,
        rule_id=rule_id,
        policy_version=version,
        reasons=(cite(rule_id, reason.sentence),),
        codes=(coded(rule_id, reason),),
    )


def allow(
    rule_id: str,
    version: int,
    reasons: Iterable[Said] = (),
    obligations: Iterable[str] = (),
) -> Decision:
    given = tuple(reasons)
    return Decision(
        allowed=True,
        rule_id=None,
        policy_version=version,
        reasons=tuple(cite(rule_id, r.sentence) for r in given),
        codes=tuple(coded(rule_id, r) for r in given),
        obligations=tuple(obligations),
    )


def refusal(decision: Decision) -> PolicyRefused:
    """The error a refused decision is raised as: its first reason, in English and as a code."""
    code = decision.codes[0]
    return PolicyRefused(decision.reasons[0], rule_id=decision.rule_id or "unknown", reasons=decision.reasons,
                         reason=code.code, params=code.params)
