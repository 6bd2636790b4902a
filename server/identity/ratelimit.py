"""Login throttling (pure; the caller supplies monotonic time).

Checked before any password hashing, so a flood costs the server nothing. Two
windows: failures per account and failures per address. A block is temporary and
grows with repeated failure up to ``max_block_s``; it never becomes permanent.
An address that has logged in to an account successfully before is not held back by
that account's limit (only by its own), so an attacker hammering someone's username
from elsewhere cannot keep the real user out.

State lives in one process; with several nodes each keeps its own (noted in
docs/operations.md).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class _Window:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    strikes: int = 0


class LoginLimiter:
    def __init__(
        self,
        *,
        per_account: int = 5,
        per_address: int = 20,
        window_s: float = 300.0,
        max_block_s: float = 900.0,
        max_entries: int = 100_000,
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window_s = window_s
        self.max_block_s = max_block_s
        self.max_entries = max_entries
        self._accounts: dict[str, _Window] = {}
        self._addresses: dict[str, _Window] = {}
        self._trusted: set[tuple[str, str]] = set()

    def retry_after(self, account: str, address: str, now: float) -> float:
        """Seconds until this attempt may proceed; 0.0 when it may proceed now."""
        wait = self._wait(self._addresses.get(address), now)
        if (account, address) not in self._trusted:
            wait = max(wait, self._wait(self._accounts.get(account), now))
        return wait

    @staticmethod
    def _wait(win: _Window | None, now: float) -> float:
        return 0.0 if win is None else max(0.0, win.blocked_until - now)

    def failed(self, account: str, address: str, now: float) -> None:
        self._fail(self._accounts, account, self.per_account, now)
        self._fail(self._addresses, address, self.per_address, now)

    def succeeded(self, account: str, address: str) -> None:
        self._accounts.pop(account, None)
        if len(self._trusted) < self.max_entries:
            self._trusted.add((account, address))

    def _fail(self, table: dict[str, _Window], key: str, limit: int, now: float) -> None:
        if key not in table and len(table) >= self.max_entries:
            self._evict(table, now)
        win = table.setdefault(key, _Window())
        while win.failures and win.failures[0] <= now - self.window_s:
            win.failures.popleft()
        win.failures.append(now)
        if len(win.failures) >= limit:
            win.strikes += 1
            block = min(self.max_block_s, self.window_s / 10 * 2 ** (win.strikes - 1))
            win.blocked_until = now + block
            win.failures.clear()

    def _evict(self, table: dict[str, _Window], now: float) -> None:
        stale = [
            k
            for k, w in table.items()
            if w.blocked_until <= now and (not w.failures or w.failures[-1] <= now - self.window_s)
        ]
        for k in stale:
            del table[k]
        if len(table) >= self.max_entries:  # still full of live entries: drop the oldest half
            for k in list(table)[: self.max_entries // 2]:
                del table[k]
