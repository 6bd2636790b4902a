from __future__ import annotations

import pytest

from server.web.flood import FrameBudget, KeyedBudgets


def test_burst_then_refill_at_rate() -> None:
    b = FrameBudget(rate=10, burst=3)
    assert [b.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert b.take(0.05) is False  # half a token
    assert b.take(0.1) is True
    assert b.take(10.0) and b.take(10.0) and b.take(10.0) and not b.take(10.0)  # capped at burst


def test_strikes_reset_on_success_and_flag_flooding() -> None:
    b = FrameBudget(rate=1, burst=1, max_strikes=3)
    assert b.take(0)
    for _ in range(2):
        assert not b.take(0)
    assert not b.flooding
    assert b.take(5) and b.strikes == 0
    for _ in range(3):
        b.take(5)
    assert b.flooding


@pytest.mark.parametrize("kwargs", [{"rate": 0}, {"burst": 0}, {"max_strikes": 0}])
def test_limits_must_be_positive(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FrameBudget(**kwargs)  # type: ignore[arg-type]


def test_keyed_budgets_limit_each_key_and_all_together() -> None:
    b = KeyedBudgets(rate=1, burst=2, overall_rate=1, overall_burst=3)
    assert [b.take("a", 0.0) for _ in range(3)] == [True, True, False]  # a's own burst
    assert b.take("b", 0.0) is True  # b has its own bucket, the overall one has one token left
    assert b.take("c", 0.0) is False  # overall burst spent: many addresses cannot flood either
    assert b.take("c", 1.0) is True


def test_keyed_budgets_forget_the_least_recently_seen_key() -> None:
    b = KeyedBudgets(rate=0.001, burst=1, overall_rate=100, overall_burst=100, max_keys=2)
    assert b.take("a", 0.0) and b.take("b", 0.0)
    assert not b.take("a", 0.0)  # a is now the most recently seen
    assert b.take("c", 0.0)  # forgets b
    assert b.take("b", 0.0)  # a full bucket again
    assert not b.take("c", 0.0)
    with pytest.raises(ValueError):
        KeyedBudgets(rate=1, burst=1, overall_rate=1, overall_burst=1, max_keys=0)
