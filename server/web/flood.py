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


class KeyedBudgets:
    """One ``FrameBudget`` per key (an address) for requests anyone may send unsigned, such as a
    room device asking for a pairing code, plus one ``overall`` budget for all keys together, so
    many addresses cannot flood either. At most ``max_keys`` are remembered: the least recently
    seen is forgotten first (a forgotten key starts again with a full bucket)."""

    __slots__ = ("_budgets", "burst", "max_keys", "overall", "rate")

    def __init__(self, *, rate: float, burst: int, overall_rate: float, overall_burst: int,
                 max_keys: int = 10_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be positive")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.overall = FrameBudget(rate=overall_rate, burst=overall_burst)
        self._budgets: dict[str, FrameBudget] = {}

    def take(self, key: str, now: float) -> bool:
        """True when one more request of ``key`` may be served now."""
        budget = self._budgets.pop(key, None)
        if budget is None:
            budget = FrameBudget(rate=self.rate, burst=self.burst)
            while len(self._budgets) >= self.max_keys:
                del self._budgets[next(iter(self._budgets))]
        self._budgets[key] = budget  # most recently seen last
        return budget.take(now) and self.overall.take(now)
