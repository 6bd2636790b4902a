"""Login throttling (pure; the caller supplies monotonic time).

Checked before any password hashing, so a flood costs the server nothing. Three
counts of recent failures; reaching a count's limit turns it into a temporary block:

- per (account, source address), ``per_source`` in ``window_s``. A successful login
  clears this pair's count and nothing else, so the real user signing in from one
  place never hands an attacker elsewhere a fresh allowance (issue 12, finding 4).
- per account from every source, ``per_account`` in ``account_window_s``: failures
  spread over many addresses still add up, and they leave the count more slowly.
  Only time clears it. An address that has signed in to the account before is not
  held back by this count (only by its pair and address counts), so an attacker
  hammering someone's username from elsewhere cannot keep the real user out.
- per address across accounts, ``per_address`` in ``window_s``.

A block grows with each block of the same key, up to ``max_block_s``; it never
becomes permanent. Every table (and the set of known-good pairs) holds at most
``max_entries`` keys: when full, idle keys go first, then the oldest.

The same counts throttle other secrets tried against a key (a second factor, an
enrolment code, a check-in link's code); a caller whose key must not be blockable as
a whole by strangers (one check-in) passes ``account_wide=False``.

State lives in one process; with several nodes each keeps its own (noted in
docs/operations.md).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K")


@dataclass
class _Count:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    strikes: int = 0


class _Table(Generic[K]):
    def __init__(self, *, limit: int, window_s: float, max_block_s: float, max_entries: int) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_block_s = max_block_s
        self.max_entries = max_entries
        self.counts: dict[K, _Count] = {}

    def wait(self, key: K, now: float) -> float:
        count = self.counts.get(key)
        return 0.0 if count is None else max(0.0, count.blocked_until - now)

    def fail(self, key: K, now: float) -> None:
        if key not in self.counts and len(self.counts) >= self.max_entries:
            self._evict(now)
        count = self.counts.setdefault(key, _Count())
        while count.failures and count.failures[0] <= now - self.window_s:
            count.failures.popleft()
        count.failures.append(now)
        if len(count.failures) >= self.limit:
            count.strikes += 1
            count.blocked_until = now + min(self.max_block_s, self.window_s / 10 * 2 ** (count.strikes - 1))
            count.failures.clear()

    def clear(self, key: K) -> None:
        self.counts.pop(key, None)

    def _evict(self, now: float) -> None:
        idle = [
            k
            for k, c in self.counts.items()
            if c.blocked_until <= now and (not c.failures or c.failures[-1] <= now - self.window_s)
        ]
        for k in idle:
            del self.counts[k]
        if len(self.counts) >= self.max_entries:  # still full of live counts: drop the oldest half
            for k in list(self.counts)[: self.max_entries // 2]:
                del self.counts[k]


class LoginLimiter:
    def __init__(
        self,
        *,
        per_source: int = 5,
        per_account: int = 20,
        per_address: int = 20,
        window_s: float = 300.0,
        account_window_s: float = 3600.0,
        max_block_s: float = 900.0,
        max_entries: int = 100_000,
    ) -> None:
        self.max_entries = max_entries
        self._pairs: _Table[tuple[str, str]] = _Table(
            limit=per_source, window_s=window_s, max_block_s=max_block_s, max_entries=max_entries)
        self._accounts: _Table[str] = _Table(
            limit=per_account, window_s=account_window_s, max_block_s=max_block_s, max_entries=max_entries)
        self._addresses: _Table[str] = _Table(
            limit=per_address, window_s=window_s, max_block_s=max_block_s, max_entries=max_entries)
        self._trusted: dict[tuple[str, str], None] = {}  # insertion-ordered: the oldest leaves first

    def retry_after(self, account: str, address: str, now: float, *, account_wide: bool = True) -> float:
        """Seconds until this attempt may proceed; 0.0 when it may proceed now."""
        pair = (account, address)
        wait = max(self._pairs.wait(pair, now), self._addresses.wait(address, now))
        if account_wide and pair not in self._trusted:
            wait = max(wait, self._accounts.wait(account, now))
        return wait

    def failed(self, account: str, address: str, now: float, *, account_wide: bool = True) -> None:
        self._pairs.fail((account, address), now)
        self._addresses.fail(address, now)
        if account_wide:
            self._accounts.fail(account, now)

    def succeeded(self, account: str, address: str) -> None:
        pair = (account, address)
        self._pairs.clear(pair)
        self._trusted.pop(pair, None)
        self._trusted[pair] = None
        if len(self._trusted) > self.max_entries:
            del self._trusted[next(iter(self._trusted))]
