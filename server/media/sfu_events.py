"""What the SFU tells the signalling layer (pure): slot assignments, the speaker, who left."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlotsChanged:
    session_id: str
    participant_id: str
    slots: dict[str, str | None]  # m-line id -> the publisher it carries (None: nobody)


@dataclass(frozen=True)
class SpeakerChanged:
    session_id: str
    room: str
    history: tuple[str, ...]  # most recent dominant speaker first


@dataclass(frozen=True)
class ParticipantLeft:
    session_id: str
    participant_id: str
    reason: str  # removed | connection_failed | closed | rejoined | session_closed


SfuEvent = SlotsChanged | SpeakerChanged | ParticipantLeft
