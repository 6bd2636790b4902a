"""Alternatives: nobody is shut out of supervision by a phone, a network or a skill gap.

CEP practice recommendations (2024), checklist: "careful consideration needs to be
given to the level of skills and the respective capabilities of clients ... Where
necessary provide alternatives and other appropriate assistance and support."
"""

from __future__ import annotations

from typing import Literal

from server.policy.decision import Decision, Said, allow, said
from server.policy.facts import START_VIDEO, PolicyRequest
from server.policy.schema import AlternativesConfig

RULE_ID = "alternatives"


def missed_checkin_outcome(
    config: AlternativesConfig, *, technical_failure: bool
) -> Literal["technical_failure", "non_attendance"]:
    """How to record a missed check-in: a dropped call is not the client's absence."""
    if technical_failure and config.technical_failure_is_not_absence:
        return "technical_failure"
    return "non_attendance"


def evaluate(config: AlternativesConfig, request: PolicyRequest, version: int) -> Decision | None:
    if request.action != START_VIDEO:
        return None
    offers = tuple(f"offer_alternative:{kind}" for kind in config.offer_for_low_digital_access)
    obligations: list[str] = []
    sentences: list[Said] = []
    if request.case is not None and request.case.low_digital_access and offers:
        obligations.extend(offers)
        sentences.append(said("low_digital_access", "The client has low digital access: offer an alternative to video"))
    if request.network_quality == "none" and offers:
        obligations.extend(offers)
        sentences.append(said("no_network", "There is no usable network: offer an alternative to video"))
    if request.network_quality == "poor" and config.audio_only_on_poor_network:
        obligations.append("audio_only")
        sentences.append(said("poor_network", "The network is poor: fall back to audio only"))
    if not obligations:
        return None
    return allow(RULE_ID, version, sentences, dict.fromkeys(obligations))
