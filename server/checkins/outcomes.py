"""Outcome suggestion from the evidence (pure).

The officer records the outcome; the system suggests one and says why. The rule that
matters most (policies/alternatives.toml, ``technical_failure_is_not_absence``; CEP
2024 checklist on alternatives): a call lost to the network is a technical failure,
never the client's non-attendance, which can lead to breach proceedings. So every
path on which the client showed up and the technology failed ends in
``technical_failure``, and ``missed`` is suggested only when the client never
appeared at all.

Quality thresholds (medians over the call's ``stats`` samples): loss >= 5 %,
round trip >= 800 ms, or bitrate < 100 kbit/s is poor: below that a video call is
not a conversation (audio-only needs ~30 kbit/s, which is why helper media's
quality module recommends audio-only much earlier).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta

import msgspec

# The outcomes are the appointment's (a video check-in's outcome is its appointment's).
from server.scheduling.model import Outcome as Outcome

POOR_LOSS_PCT = 5.0
POOR_RTT_MS = 800.0
POOR_BITRATE_KBPS = 100.0
LATE_AFTER = timedelta(minutes=10)


class Sample(msgspec.Struct, frozen=True, kw_only=True):
    rtt_ms: float
    loss_pct: float
    bitrate_kbps: float


class Quality(msgspec.Struct, frozen=True, kw_only=True):
    samples: int
    median_rtt_ms: float | None = None
    median_loss_pct: float | None = None
    median_bitrate_kbps: float | None = None
    poor: bool = False


def summarise(samples: Sequence[Sample]) -> Quality:
    if not samples:
        return Quality(samples=0)
    rtt = statistics.median(s.rtt_ms for s in samples)
    loss = statistics.median(s.loss_pct for s in samples)
    bitrate = statistics.median(s.bitrate_kbps for s in samples)
    poor = loss >= POOR_LOSS_PCT or rtt >= POOR_RTT_MS or bitrate < POOR_BITRATE_KBPS
    return Quality(samples=len(samples), median_rtt_ms=rtt, median_loss_pct=loss, median_bitrate_kbps=bitrate,
                   poor=poor)


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    opens_at: datetime
    #: When the client first reached the waiting room (None: never).
    client_arrived_at: datetime | None
    #: Whether the client was ever in the call with staff.
    client_connected: bool
    #: A participant's connection was lost and not back within the grace period.
    dropped: bool
    cant_talk: bool
    quality: Quality
    #: Another server took the call over and everyone came back: noted, never held against anyone.
    interrupted: bool = False


class Suggestion(msgspec.Struct, frozen=True, kw_only=True):
    outcome: Outcome
    reasons: tuple[str, ...]


def suggest(evidence: Evidence) -> Suggestion:
    if evidence.cant_talk:
        return Suggestion(outcome=Outcome.NOT_SAFE_TO_TALK,
                          reasons=("The client said they could not talk safely; no penalty applies",))
    poor = evidence.quality.poor
    notes: tuple[str, ...] = ("Call quality was poor",) if poor else ()
    if evidence.interrupted and not evidence.dropped:
        notes += ("The call was interrupted when its server changed over, and resumed",)
    if evidence.dropped:
        return Suggestion(outcome=Outcome.TECHNICAL_FAILURE,
                          reasons=("The connection dropped and did not come back", *notes,
                                   "A call lost to the network is a technical failure, not non-attendance"))
    if evidence.client_arrived_at is None:
        return Suggestion(outcome=Outcome.MISSED, reasons=("The client never reached the waiting room",))
    if not evidence.client_connected:
        return Suggestion(outcome=Outcome.TECHNICAL_FAILURE,
                          reasons=("The client waited but was never connected to the call",))
    if evidence.client_arrived_at - evidence.opens_at > LATE_AFTER:
        minutes = int((evidence.client_arrived_at - evidence.opens_at).total_seconds() // 60)
        return Suggestion(outcome=Outcome.LATE,
                          reasons=(f"The client arrived {minutes} minutes after the window opened", *notes))
    return Suggestion(outcome=Outcome.ATTENDED, reasons=("The client joined and the call took place", *notes))
