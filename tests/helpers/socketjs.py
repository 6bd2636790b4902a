"""How client_web/shared/socket.js waits before opening a new socket after one closed, for test and
bench clients that reconnect as the web client does."""

from __future__ import annotations

import random

MIN_DELAY_S = 0.5  # socket.js minDelayMs
MAX_DELAY_S = 30.0  # socket.js maxDelayMs


def reconnect_delay(attempt: int) -> float:
    """The wait before the ``attempt``-th retry (from 0): half to all of min(max, min x 2^attempt)."""
    ceiling = min(MAX_DELAY_S, MIN_DELAY_S * 2**attempt)
    return ceiling / 2 + random.random() * ceiling / 2
