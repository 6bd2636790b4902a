from __future__ import annotations

from server.identity.ratelimit import LoginLimiter


def test_source_blocks_after_limit_then_expires() -> None:
    lim = LoginLimiter(per_source=3, per_account=100, per_address=100, window_s=300, max_block_s=900)
    for i in range(3):
        assert lim.retry_after("alice", "1.1.1.1", i) == 0
        lim.failed("alice", "1.1.1.1", i)
    wait = lim.retry_after("alice", "1.1.1.1", 3)
    assert 0 < wait <= 900
    assert lim.retry_after("alice", "2.2.2.2", 3) == 0  # the pair is blocked, not the account
    assert lim.retry_after("alice", "1.1.1.1", 3 + wait) == 0


def test_blocks_grow_but_are_capped() -> None:
    lim = LoginLimiter(per_source=1, per_account=1000, per_address=1000, window_s=300, max_block_s=100)
    now = 0.0
    waits = []
    for _ in range(6):
        lim.failed("bob", "1.1.1.1", now)
        w = lim.retry_after("bob", "1.1.1.1", now)
        waits.append(w)
        now += w
    assert waits == sorted(waits) and max(waits) == 100


def test_address_limit_applies_across_accounts() -> None:
    lim = LoginLimiter(per_source=100, per_account=100, per_address=3, window_s=300)
    for i, user in enumerate(("a", "b", "c")):
        lim.failed(user, "6.6.6.6", i)
    assert lim.retry_after("d", "6.6.6.6", 3) > 0
    assert lim.retry_after("d", "7.7.7.7", 3) == 0


def test_real_users_success_elsewhere_does_not_reset_the_attackers_count() -> None:
    # Issue 12, finding 4: a login from Y used to clear the account's count for everyone.
    lim = LoginLimiter(per_source=3, per_account=100, per_address=100, window_s=300)
    for i in range(3):
        lim.failed("erin", "6.6.6.6", i)
    assert lim.retry_after("erin", "6.6.6.6", 3) > 0
    assert lim.retry_after("erin", "10.0.0.5", 3) == 0
    lim.succeeded("erin", "10.0.0.5")
    assert lim.retry_after("erin", "6.6.6.6", 3) > 0


def test_success_clears_only_its_own_pair() -> None:
    lim = LoginLimiter(per_source=3, per_account=5, per_address=100, window_s=300, account_window_s=3600)
    lim.failed("fay", "10.0.0.5", 0)
    lim.failed("fay", "10.0.0.5", 1)
    lim.succeeded("fay", "10.0.0.5")
    lim.failed("fay", "10.0.0.5", 2)
    lim.failed("fay", "10.0.0.5", 3)
    assert lim.retry_after("fay", "10.0.0.5", 4) == 0  # two since the success, under the pair's three
    # The account-wide count kept all four: one more from anywhere blocks the account.
    lim.failed("fay", "6.6.6.6", 5)
    assert lim.retry_after("fay", "7.7.7.7", 6) > 0


def test_failures_spread_over_addresses_add_up_per_account() -> None:
    lim = LoginLimiter(per_source=3, per_account=10, per_address=100, window_s=300, account_window_s=3600)
    for i in range(10):
        assert lim.retry_after("gus", f"6.6.6.{i}", i) == 0
        lim.failed("gus", f"6.6.6.{i}", i)
    assert lim.retry_after("gus", "6.6.6.99", 10) > 0
    lim.succeeded("gus", "10.0.0.5")  # the real user's success does not lift the account-wide block
    assert lim.retry_after("gus", "6.6.6.99", 10) > 0
    assert lim.retry_after("gus", "10.0.0.5", 10) == 0  # a known-good address is not held back by it


def test_account_wide_count_decays_more_slowly_than_a_sources() -> None:
    lim = LoginLimiter(per_source=3, per_account=5, per_address=100, window_s=10, account_window_s=100)
    lim.failed("hal", "1.1.1.1", 0)
    lim.failed("hal", "1.1.1.1", 1)
    lim.failed("hal", "2.2.2.2", 50)
    # At 50 the first two have left the pair's window (10 s) but not the account's (100 s).
    lim.failed("hal", "1.1.1.1", 50)
    assert lim.retry_after("hal", "1.1.1.1", 51) == 0
    lim.failed("hal", "3.3.3.3", 51)
    assert lim.retry_after("hal", "4.4.4.4", 52) > 0
    # Once the account's window has passed too, the same pace blocks nobody.
    lim2 = LoginLimiter(per_source=3, per_account=5, per_address=100, window_s=10, account_window_s=100)
    for t in (0, 1, 50, 150, 151):
        lim2.failed("hal", f"{t}.0.0.1", t)
    assert lim2.retry_after("hal", "4.4.4.4", 152) == 0


def test_known_good_address_is_not_locked_out_by_attacker_elsewhere() -> None:
    lim = LoginLimiter(per_source=3, per_account=5, per_address=100)
    lim.succeeded("carol", "10.0.0.5")
    for i in range(10):
        lim.failed("carol", f"6.6.6.{i}", i)
    assert lim.retry_after("carol", "6.6.6.0", 11) > 0
    assert lim.retry_after("carol", "6.6.6.200", 11) > 0
    assert lim.retry_after("carol", "10.0.0.5", 11) == 0


def test_without_the_account_wide_count_strangers_cannot_block_the_key() -> None:
    lim = LoginLimiter(per_source=3, per_account=3, per_address=100)
    for i in range(9):
        lim.failed("checkin:c1", f"6.6.6.{i % 3}", i, account_wide=False)
    assert lim.retry_after("checkin:c1", "6.6.6.0", 10, account_wide=False) > 0
    assert lim.retry_after("checkin:c1", "10.0.0.5", 10, account_wide=False) == 0
    assert lim.retry_after("checkin:c1", "10.0.0.5", 10) == 0


def test_old_failures_leave_the_window() -> None:
    lim = LoginLimiter(per_source=3, per_account=100, per_address=100, window_s=10)
    lim.failed("dan", "1.1.1.1", 0)
    lim.failed("dan", "1.1.1.1", 1)
    lim.failed("dan", "1.1.1.1", 20)
    assert lim.retry_after("dan", "1.1.1.1", 21) == 0


def test_memory_is_bounded() -> None:
    lim = LoginLimiter(per_source=5, per_account=5, per_address=5, max_entries=100)
    for i in range(1000):
        lim.failed(f"user{i}", f"addr{i}", float(i) * 4000)
        lim.succeeded(f"user{i}", f"addr{i}")
    for table in (lim._pairs, lim._accounts, lim._addresses):
        assert len(table.counts) <= 100
    assert len(lim._trusted) <= 100 and ("user999", "addr999") in lim._trusted


def test_a_full_table_of_live_counts_drops_its_oldest_half() -> None:
    lim = LoginLimiter(per_source=5, per_account=5, per_address=5, max_entries=10)
    for i in range(11):
        lim.failed(f"user{i}", "1.1.1.1", 0)  # all within the window: none is idle
    assert len(lim._pairs.counts) <= 10 and ("user10", "1.1.1.1") in lim._pairs.counts
