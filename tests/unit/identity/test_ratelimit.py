from __future__ import annotations

from server.identity.ratelimit import LoginLimiter


def test_account_blocks_after_limit_then_expires() -> None:
    lim = LoginLimiter(per_account=3, per_address=100, window_s=300, max_block_s=900)
    for i in range(3):
        assert lim.retry_after("alice", "1.1.1.1", i) == 0
        lim.failed("alice", "1.1.1.1", i)
    wait = lim.retry_after("alice", "2.2.2.2", 3)
    assert 0 < wait <= 900
    assert lim.retry_after("alice", "2.2.2.2", 3 + wait) == 0


def test_blocks_grow_but_are_capped() -> None:
    lim = LoginLimiter(per_account=1, per_address=1000, window_s=300, max_block_s=100)
    now = 0.0
    waits = []
    for _ in range(6):
        lim.failed("bob", "1.1.1.1", now)
        w = lim.retry_after("bob", "9.9.9.9", now)
        waits.append(w)
        now += w
    assert waits == sorted(waits) and max(waits) == 100


def test_address_limit_applies_across_accounts() -> None:
    lim = LoginLimiter(per_account=100, per_address=3, window_s=300)
    for i, user in enumerate(("a", "b", "c")):
        lim.failed(user, "6.6.6.6", i)
    assert lim.retry_after("d", "6.6.6.6", 3) > 0
    assert lim.retry_after("d", "7.7.7.7", 3) == 0


def test_known_good_address_is_not_locked_out_by_attacker_elsewhere() -> None:
    lim = LoginLimiter(per_account=3, per_address=100)
    lim.succeeded("carol", "10.0.0.5")
    for i in range(10):
        lim.failed("carol", "6.6.6.6", i)
    assert lim.retry_after("carol", "6.6.6.6", 11) > 0
    assert lim.retry_after("carol", "10.0.0.5", 11) == 0


def test_old_failures_leave_the_window() -> None:
    lim = LoginLimiter(per_account=3, per_address=100, window_s=10)
    lim.failed("dan", "1.1.1.1", 0)
    lim.failed("dan", "1.1.1.1", 1)
    lim.failed("dan", "1.1.1.1", 20)
    assert lim.retry_after("dan", "1.1.1.1", 21) == 0


def test_memory_is_bounded() -> None:
    lim = LoginLimiter(per_account=5, per_address=5, max_entries=100)
    for i in range(1000):
        lim.failed(f"user{i}", f"addr{i}", float(i) * 400)
    assert len(lim._accounts) <= 100 and len(lim._addresses) <= 100
