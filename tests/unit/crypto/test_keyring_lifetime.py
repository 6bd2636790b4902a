"""A cached bucket key is used for a bounded time: ``ttl_s`` while the bus is healthy,
``ttl_bus_down_s`` while it is down; ``forget_all`` (the bus is back) drops everything."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from server.crypto.keyring import Keyring

KEK = bytes(range(32))
AT = datetime(2026, 1, 5, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _keyring(healthy: list[bool]) -> tuple[Keyring, Clock]:
    clock = Clock()
    return Keyring(KEK, ttl_s=60, ttl_bus_down_s=5, bus_healthy=lambda: healthy[0], monotonic=clock), clock


def _adopt(keyring: Keyring, case_id: str = "c1") -> str:
    key_id, _, row = keyring.new_key(case_id, "messages", AT)
    keyring.adopt(SimpleNamespace(**row))
    return key_id


def test_a_key_is_used_for_ttl_s_while_the_bus_is_healthy() -> None:
    keyring, clock = _keyring([True])
    key_id = _adopt(keyring)
    clock.now += 59.9
    assert keyring.knows("c1", "messages", AT)
    found = keyring.cached("c1", "messages", AT)
    assert found is not None and found[0] == key_id
    clock.now += 0.2
    assert not keyring.knows("c1", "messages", AT)
    assert keyring.cached("c1", "messages", AT) is None


def test_a_key_is_used_for_ttl_bus_down_s_while_the_bus_is_down() -> None:
    healthy = [True]
    keyring, clock = _keyring(healthy)
    _adopt(keyring)
    clock.now += 4
    healthy[0] = False
    assert keyring.knows("c1", "messages", AT)
    clock.now += 1.5
    assert not keyring.knows("c1", "messages", AT)
    healthy[0] = True  # back within the long lifetime: the key was never forgotten, only not trusted
    assert keyring.knows("c1", "messages", AT)


def test_forget_all_and_forget_many() -> None:
    keyring, _ = _keyring([True])
    first, second = _adopt(keyring, "c1"), _adopt(keyring, "c2")
    keyring.forget_many([first])
    assert not keyring.knows("c1", "messages", AT) and keyring.knows("c2", "messages", AT)
    keyring.forget_all()
    assert not keyring.knows("c2", "messages", AT)
    assert second


def test_lifetimes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Keyring(KEK, ttl_s=0)
    with pytest.raises(ValueError, match="positive"):
        Keyring(KEK, ttl_bus_down_s=-1)
