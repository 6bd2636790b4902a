"""Call quality (pure): from measured round-trip time, loss and bitrate, video or audio only.

A client on a cheap phone and a poor network is better served by a clear audio call than by
a frozen picture (DESIGN.md rule 4, "Alternatives": video falls back to audio-only on poor
networks; CEP recommendations on technology: the means must suit the person). The
thresholds below are where interactive video stops being usable in practice:

- round-trip time over 400 ms: turn-taking breaks down (ITU-T G.114 puts the limit of
  acceptable one-way delay at 150-400 ms; video adds jitter buffering on top);
- loss over 5 %: video freezes and smears between key frames, while Opus audio with its
  own concealment stays understandable up to roughly 10-15 %;
- under 150 kbit/s available: too little for even a small (240p) picture next to audio;
- no video frames at all (camera refused, missing or broken): audio only.

Audio-only is recommended, never forced: the person may still try video. A measurement
that is missing (None) is not held against video; only what was seen counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

N = TypeVar("N", int, float)


class Mode(Enum):
    VIDEO = "video"
    AUDIO_ONLY = "audio_only"


class QualityError(ValueError):
    """A measurement or threshold out of range (negative, NaN, loss over 100 %)."""


@dataclass(frozen=True)
class Thresholds:
    max_rtt_ms: float = 400.0
    max_loss_pct: float = 5.0
    min_bitrate_kbps: float = 150.0

    def __post_init__(self) -> None:
        _check("max_rtt_ms", self.max_rtt_ms)
        _check("max_loss_pct", self.max_loss_pct, upper=100.0)
        _check("min_bitrate_kbps", self.min_bitrate_kbps)


@dataclass(frozen=True)
class Measurements:
    """What one side saw. ``None``: not measured (yet)."""

    rtt_ms: float | None = None
    loss_pct: float | None = None
    bitrate_kbps: float | None = None
    audio_frames: int | None = None  # audio frames received (microphone works and reaches us)
    video_frames: int | None = None  # video frames decoded (camera works and reaches us)

    def __post_init__(self) -> None:
        for name in ("rtt_ms", "bitrate_kbps", "audio_frames", "video_frames"):
            value = getattr(self, name)
            if value is not None:
                _check(name, value)
        if self.loss_pct is not None:
            _check("loss_pct", self.loss_pct, upper=100.0)

    def worst(self, other: Measurements) -> Measurements:
        """The worse of two views of one connection (e.g. the server's and the browser's)."""
        return Measurements(
            rtt_ms=_pick(max, self.rtt_ms, other.rtt_ms),
            loss_pct=_pick(max, self.loss_pct, other.loss_pct),
            bitrate_kbps=_pick(min, self.bitrate_kbps, other.bitrate_kbps),
            audio_frames=_pick(min, self.audio_frames, other.audio_frames),
            video_frames=_pick(min, self.video_frames, other.video_frames),
        )


@dataclass(frozen=True)
class Recommendation:
    mode: Mode
    reasons: tuple[str, ...] = field(default=())  # stable codes: rtt_high, loss_high, bitrate_low, no_video
    measurements: Measurements = field(default_factory=Measurements)


def loss_pct(received: int, lost: int) -> float | None:
    """Loss in percent of the packets that were expected; None before any packet was expected.

    RTCP may report ``lost`` as negative (duplicates); that counts as no loss."""
    lost = max(0, lost)
    expected = received + lost
    return None if expected <= 0 else 100.0 * lost / expected


def recommend(m: Measurements, thresholds: Thresholds | None = None) -> Recommendation:
    t = thresholds or Thresholds()
    reasons: list[str] = []
    if m.rtt_ms is not None and m.rtt_ms > t.max_rtt_ms:
        reasons.append("rtt_high")
    if m.loss_pct is not None and m.loss_pct > t.max_loss_pct:
        reasons.append("loss_high")
    if m.bitrate_kbps is not None and m.bitrate_kbps < t.min_bitrate_kbps:
        reasons.append("bitrate_low")
    if m.video_frames is not None and m.video_frames == 0:
        reasons.append("no_video")
    return Recommendation(Mode.AUDIO_ONLY if reasons else Mode.VIDEO, tuple(reasons), m)


def _pick(fn: Callable[[N, N], N], a: N | None, b: N | None) -> N | None:
    """``fn`` of the two, or the one that was measured, or None."""
    if a is None:
        return b
    if b is None:
        return a
    return fn(a, b)


def _check(name: str, value: float, *, upper: float | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or value < 0:
        raise QualityError(f"{name}: must be a non-negative number, got {value!r}")
    if upper is not None and value > upper:
        raise QualityError(f"{name}: must be at most {upper}, got {value!r}")


class Advisor:
    """Advice during a call: says when the recommendation for a participant changes.

    Fed one sample at a time (the ``stats`` frames a browser sends every few seconds); a
    sample that recommends what was last said returns None, so a participant is told once
    when their link turns poor, and once when it recovers. Keys are whatever identifies a
    participant in a room to the caller; ``forget`` drops one (it left, its connection closed).
    """

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self._said: dict[object, Mode] = {}

    def sample(self, who: object, m: Measurements) -> Recommendation | None:
        verdict = recommend(m, self.thresholds)
        if self._said.get(who, Mode.VIDEO) is verdict.mode:
            return None
        self._said[who] = verdict.mode
        return verdict

    def forget(self, who: object) -> None:
        self._said.pop(who, None)

    def __len__(self) -> int:
        return len(self._said)
