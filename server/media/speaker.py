"""Who is speaking in a room, from the audio levels publishers put in their RTP (pure).

Every Opus packet from a browser (and from aiortc) carries the client-to-mixer audio level
header extension (RFC 6464): the level of the audio in the packet as -dBov, 0 (loudest) to
127 (silence). The SFU reads it without decoding and feeds it here with the loop time.

Levels are smoothed per participant (an exponential average with time constant ``tau_s``, so
one loud packet, a cough or a door, does not move the speaker). A participant becomes the
*dominant speaker* when their smoothed level is above ``speech_dbov`` and louder than the
current dominant speaker's by ``margin_db``, continuously for ``hold_s`` (the hysteresis: two
people talking over each other do not make the large view flicker). The speaker history is
the order of dominant speakers, most recent first, every participant at most once: last-N
shows its head.

A dominant speaker whose packets stop coming (their connection stalls; they left without a
word) is taken to fade: their level decays towards silence, but only once no packet of
theirs has come for ``stale_after_s``. Packets arrive every 20 ms per publisher, each
publisher at its own phase, and network or event-loop jitter bunches them: decaying from
the dominant's last packet at once would make an equally loud challenger, whose packets
happen to arrive some 16 ms after the dominant's, look 6 dB louder at every one of its
packets, and the floor (and every last-N slot behind it) would pass round the room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SILENCE = 127  # RFC 6464: -127 dBov


@dataclass(slots=True)
class _Level:
    smoothed: float  # in dB above silence: 127 - level
    at: float
    louder_since: float | None = None


class SpeakerDetector:
    def __init__(self, *, tau_s: float = 0.3, speech_dbov: float = -50.0, margin_db: float = 6.0,
                 hold_s: float = 0.4, stale_after_s: float = 0.25) -> None:
        if tau_s <= 0 or hold_s < 0 or margin_db < 0 or stale_after_s < 0 or not -127 <= speech_dbov <= 0:
            raise ValueError("tau_s must be positive, hold_s, margin_db and stale_after_s not negative, "
                             "speech_dbov in -127..0")
        self.tau_s = tau_s
        self.stale_after_s = stale_after_s
        self.threshold = SILENCE + speech_dbov  # in dB above silence
        self.margin_db = margin_db
        self.hold_s = hold_s
        self.dominant: str | None = None
        self.history: list[str] = []  # most recent dominant speaker first
        self._levels: dict[str, _Level] = {}

    def level(self, who: str, level: int, now: float) -> bool:
        """Take one packet's level (0-127, -dBov); True when ``who`` became the dominant speaker."""
        loudness = float(SILENCE - min(max(level, 0), SILENCE))
        entry = self._levels.get(who)
        if entry is None:
            entry = self._levels[who] = _Level(smoothed=loudness, at=now)
        else:
            alpha = 1.0 - math.exp(-max(now - entry.at, 0.0) / self.tau_s)
            entry.smoothed += alpha * (loudness - entry.smoothed)
            entry.at = now
        if who == self.dominant:
            return False
        if entry.smoothed < self.threshold or not self._louder_than_dominant(entry, now):
            entry.louder_since = None
            return False
        if entry.louder_since is None:
            entry.louder_since = now
        if now - entry.louder_since < self.hold_s:
            return False
        self._promote(who)
        return True

    def smoothed(self, who: str) -> float | None:
        """The smoothed level of ``who`` in dBov (-127..0), or None before their first packet."""
        entry = self._levels.get(who)
        return None if entry is None else entry.smoothed - SILENCE

    def silence(self, who: str) -> None:
        """``who`` sends no audio any more (muted, left the room): they stop counting as loud."""
        entry = self._levels.get(who)
        if entry is not None:
            entry.smoothed = 0.0
            entry.louder_since = None

    def remove(self, who: str) -> None:
        """``who`` left: forget their level and their place in the history."""
        self._levels.pop(who, None)
        if who in self.history:
            self.history.remove(who)
        if self.dominant == who:
            self.dominant = None

    def _louder_than_dominant(self, entry: _Level, now: float) -> bool:
        if self.dominant is None:
            return True
        current = self._levels.get(self.dominant)
        if current is None:
            return True
        # The dominant speaker's level decays towards silence once their packets stopped coming.
        stale = math.exp(-max(now - current.at - self.stale_after_s, 0.0) / self.tau_s)
        return entry.smoothed >= current.smoothed * stale + self.margin_db

    def _promote(self, who: str) -> None:
        self.dominant = who
        if who in self.history:
            self.history.remove(who)
        self.history.insert(0, who)
        for entry in self._levels.values():
            entry.louder_since = None
