"""Per-connection frame budget (pure; the caller passes monotonic time).

A token bucket: ``burst`` frames at once, refilled at ``rate`` per second. A frame over
budget is refused with ``rate_limited`` and not processed (a client retries a refused
``send`` with the same id later, so nothing is lost or doubled). ``max_strikes``
refusals in a row mean the peer ignores the refusals: the gateway closes it.
"""

from __future__ import annotations


class FrameBudget:
    __slots__ = ("_last", "_tokens", "burst", "max_strikes", "rate", "strikes")

    def __init__(self, *, rate: float = 10.0, burst: int = 30, max_strikes: int = 50) -> None:
        if rate <= 0 or burst < 1 or max_strikes < 1:
            raise ValueError("rate, burst and max_strikes must be positive")
        self.rate = rate
        self.burst = burst
        self.max_strikes = max_strikes
        self._tokens = float(burst)
        self._last: float | None = None
        self.strikes = 0

    def take(self, now: float) -> bool:
        """True when a frame may be processed now."""
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self.strikes = 0
            return True
        self.strikes += 1
        return False

    @property
    def flooding(self) -> bool:
        return self.strikes >= self.max_strikes
