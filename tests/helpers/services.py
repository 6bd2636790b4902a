"""Real PostgreSQL and Redis for tests. Absent on a laptop: skip with a loud reason.
Absent in CI (CI=true): fail, because a skipped service test hides a broken build."""

from __future__ import annotations

import os
import socket

import pytest

PG_URL = os.environ.get("TANDEM_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("TANDEM_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(service: str, host: str, port: int) -> None:
    if _port_open(host, port):
        return
    reason = f"{service} is not reachable on {host}:{port} (run `make services`)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI: {reason}; service tests may not be skipped in CI")
    pytest.skip(f"!!! SKIPPED: {reason}")


def require_postgres() -> None:
    require("PostgreSQL", "127.0.0.1", 5432)


def require_redis() -> None:
    require("Redis", "127.0.0.1", 6379)
