"""Password hashing: argon2id with OWASP's parameters, always off the event loop.

OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1 at minimum. Hashing
runs in a small dedicated thread pool (argon2-cffi releases the GIL), so a burst of
logins never stalls the event loop; the pool is one thread fewer than the cores so
the loop keeps a core of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 256


def _lower_priority() -> None:
    """Hashing threads yield the CPU to the event loop (Linux: nice applies per thread)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, 0, 19)


class Passwords:
    def __init__(self, *, workers: int = 1, memory_cost: int = 19456, time_cost: int = 2) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2", initializer=_lower_priority)
        # Verified against unknown usernames so their timing matches a real account's.
        self._dummy = self._hasher.hash("tandem-timing-equaliser")

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._verify, stored, password)

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
