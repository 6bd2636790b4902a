"""What the engine answers: one explainable, frozen decision.

Every reason names the rule it comes from ("... (rule face_to_face_first)") so a
refusal shown to a person, logged in the audit chain, or sent as a 403 body is
self-explaining without looking anything up.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    allowed: bool
    #: The rule that refused, or None when allowed.
    rule_id: str | None
    policy_version: int
    #: Human sentences, each ending with "(rule <rule_id>)".
    reasons: tuple[str, ...]
    #: Things the caller must do before or while carrying out an allowed action,
    #: e.g. "safe_space_check:client", "offer_alternative:phone", "audio_only".
    obligations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.allowed and self.rule_id is not None:
            raise ValueError("an allowed decision names no refusing rule")
        if not self.allowed and (self.rule_id is None or not self.reasons):
            raise ValueError("a refusal must name its rule and give a reason")


def cite(rule_id: str, sentence: str) -> str:
    """Attach the rule id to a human sentence, the way every reason is written."""
    return f"{sentence} (rule {rule_id})"


def refuse(rule_id: str, version: int, sentence: str) -> Decision:
    return Decision(
        allowed=False,
        rule_id=rule_id,
        policy_version=version,
        reasons=(cite(rule_id, sentence),),
    )


def allow(
    rule_id: str,
    version: int,
    sentences: Iterable[str] = (),
    obligations: Iterable[str] = (),
) -> Decision:
    return Decision(
        allowed=True,
        rule_id=None,
        policy_version=version,
        reasons=tuple(cite(rule_id, s) for s in sentences),
        obligations=tuple(obligations),
    )
