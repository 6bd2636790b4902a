"""The dominant speaker from RFC 6464 levels: smoothed, with a margin and a hold time."""

from __future__ import annotations

import pytest

from server.media.speaker import SpeakerDetector

LOUD, QUIET, SILENT = 20, 45, 127  # -dBov


def feed(d: SpeakerDetector, who: str, level: int, start: float, seconds: float) -> list[float]:
    """Packets every 20 ms; the times ``who`` became dominant."""
    changes = []
    t = start
    while t < start + seconds - 1e-9:
        if d.level(who, level, t):
            changes.append(t)
        t += 0.02
    return changes


def test_a_speaker_needs_to_be_loud_for_the_hold_time() -> None:
    d = SpeakerDetector(hold_s=0.4)
    assert feed(d, "ann", SILENT, 0.0, 1.0) == []
    changes = feed(d, "ann", LOUD, 1.0, 1.0)
    assert len(changes) == 1 and 1.6 < changes[0] < 1.9  # ~0.38 s to rise above -50 dBov, then the hold
    assert d.dominant == "ann" and d.history == ["ann"]
    assert d.smoothed("ann") == pytest.approx(-LOUD, abs=5)  # still rising after 1 s (tau 0.3 s)
    assert d.smoothed("nobody") is None


def test_a_cough_does_not_take_the_floor() -> None:
    d = SpeakerDetector()
    feed(d, "ann", LOUD, 0.0, 2.0)
    d.level("bob", SILENT, 2.0)
    assert feed(d, "bob", 0, 2.0, 0.1) == []  # 100 ms of a loud noise
    assert d.dominant == "ann"


def test_someone_louder_by_the_margin_takes_over_and_history_orders_speakers() -> None:
    d = SpeakerDetector(margin_db=6.0, hold_s=0.3)
    feed(d, "ann", QUIET, 0.0, 1.0)
    assert d.dominant == "ann"
    t = 1.0
    for _ in range(100):  # both talk, bob a little quieter than ann: no change
        d.level("ann", QUIET, t)
        assert not d.level("bob", QUIET - 3, t)
        t += 0.02
    for _ in range(100):  # both talk; bob is clearly louder
        d.level("ann", QUIET, t)
        d.level("bob", LOUD, t)
        t += 0.02
    assert d.dominant == "bob" and d.history == ["bob", "ann"]
    feed(d, "ann", 0, t + 1.0, 1.0)  # bob's packets stopped: his level decays, ann takes it back
    assert d.history == ["ann", "bob"]


def test_silence_and_remove() -> None:
    d = SpeakerDetector(hold_s=0.0)
    feed(d, "ann", LOUD, 0.0, 0.5)
    d.silence("ann")
    d.silence("nobody")
    assert d.smoothed("ann") == -127
    d.remove("ann")
    d.remove("nobody")
    assert d.dominant is None and d.history == []
    assert d.level("bob", LOUD, 1.0)  # nobody to beat, no hold: at once


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="tau_s"):
        SpeakerDetector(tau_s=0)
    with pytest.raises(ValueError, match="speech_dbov"):
        SpeakerDetector(speech_dbov=10)


@pytest.mark.parametrize("lag_s", [0.0, 0.005, 0.016, 0.019])
def test_equal_speakers_at_another_packet_phase_do_not_pass_the_floor(lag_s: float) -> None:
    """Two people equally loud, bob's packets ``lag_s`` after ann's (each publisher has its own
    20 ms phase): ann keeps the floor however the phases fall."""
    d = SpeakerDetector()
    feed(d, "ann", LOUD, 0.0, 1.0)
    assert d.dominant == "ann"
    t = 1.0
    for _ in range(500):  # 10 s
        assert not d.level("ann", LOUD, t)
        assert not d.level("bob", LOUD, t + lag_s), f"bob took the floor at {t:.2f} s"
        t += 0.02
    assert d.history == ["ann"]


def test_bunched_packets_do_not_pass_the_floor() -> None:
    """Jitter: ann's packets come in bursts of five every 100 ms (a busy loop or network), bob's
    evenly; equally loud, ann keeps the floor; when hers stop, bob takes it after the grace."""
    d = SpeakerDetector(stale_after_s=0.25)
    feed(d, "ann", LOUD, 0.0, 1.0)
    t = 1.0
    for i in range(500):
        if i % 5 == 4:
            for _ in range(5):
                d.level("ann", LOUD, t)
        assert not d.level("bob", LOUD, t + 0.011)
        t += 0.02
    changes = feed(d, "bob", LOUD, t, 2.0)
    assert d.dominant == "bob" and len(changes) == 1
    assert 0.25 < changes[0] - t < 1.2  # the grace, the decay below bob's level - margin, the hold


def test_stale_after_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="stale_after_s"):
        SpeakerDetector(stale_after_s=-1)
