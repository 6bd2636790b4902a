"""server.media.quality: thresholds, the worse of two views, and bad numbers refused."""

from __future__ import annotations

import math

import pytest

from server.media.quality import Advisor, Measurements, Mode, QualityError, Thresholds, loss_pct, recommend

GOOD = Measurements(rtt_ms=40, loss_pct=0.5, bitrate_kbps=900, audio_frames=200, video_frames=120)


def test_good_network_gets_video() -> None:
    r = recommend(GOOD)
    assert (r.mode, r.reasons, r.measurements) == (Mode.VIDEO, (), GOOD)


def test_nothing_measured_is_not_held_against_video() -> None:
    assert recommend(Measurements()).mode is Mode.VIDEO


@pytest.mark.parametrize(("change", "reason"), [
    ({"rtt_ms": 401}, "rtt_high"),
    ({"loss_pct": 5.1}, "loss_high"),
    ({"bitrate_kbps": 149}, "bitrate_low"),
    ({"video_frames": 0}, "no_video"),
])
def test_each_threshold_alone_recommends_audio_only(change: dict[str, float], reason: str) -> None:
    fields = {**GOOD.__dict__, **change}
    r = recommend(Measurements(**fields))
    assert (r.mode, r.reasons) == (Mode.AUDIO_ONLY, (reason,))


def test_at_the_threshold_is_still_video() -> None:
    at = Measurements(rtt_ms=400, loss_pct=5, bitrate_kbps=150, video_frames=1)
    assert recommend(at).mode is Mode.VIDEO


def test_every_reason_is_named_in_order() -> None:
    bad = Measurements(rtt_ms=900, loss_pct=20, bitrate_kbps=30, video_frames=0)
    assert recommend(bad).reasons == ("rtt_high", "loss_high", "bitrate_low", "no_video")


def test_thresholds_are_parameters() -> None:
    strict = Thresholds(max_rtt_ms=30)
    assert recommend(GOOD, strict).reasons == ("rtt_high",)


def test_worst_of_two_views() -> None:
    server = Measurements(rtt_ms=50, loss_pct=1, bitrate_kbps=800, audio_frames=10, video_frames=None)
    browser = Measurements(rtt_ms=30, loss_pct=7, bitrate_kbps=None, audio_frames=None, video_frames=3)
    assert server.worst(browser) == Measurements(rtt_ms=50, loss_pct=7, bitrate_kbps=800, audio_frames=10,
                                                 video_frames=3)
    assert browser.worst(server) == server.worst(browser)
    assert Measurements(bitrate_kbps=100).worst(Measurements(bitrate_kbps=300)).bitrate_kbps == 100


def test_loss_pct() -> None:
    assert loss_pct(0, 0) is None
    assert loss_pct(95, 5) == 5.0
    assert loss_pct(10, -2) == 0.0  # duplicates make RTCP's cumulative loss negative


@pytest.mark.parametrize("bad", [
    {"rtt_ms": -1}, {"rtt_ms": math.nan}, {"loss_pct": 101}, {"bitrate_kbps": -0.1}, {"video_frames": -1},
    {"audio_frames": True}, {"rtt_ms": "40"},
])
def test_bad_measurements_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(QualityError):
        Measurements(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [{"max_rtt_ms": -5}, {"max_loss_pct": 120}, {"min_bitrate_kbps": math.nan}])
def test_bad_thresholds_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(QualityError):
        Thresholds(**bad)


def test_advisor_speaks_when_the_recommendation_changes() -> None:
    advisor = Advisor()
    poor = Measurements(loss_pct=12.0)
    assert advisor.sample("a", GOOD) is None  # video was the starting point: nothing new to say
    turned = advisor.sample("a", poor)
    assert turned is not None and (turned.mode, turned.reasons) == (Mode.AUDIO_ONLY, ("loss_high",))
    assert advisor.sample("a", poor) is None  # said once
    assert advisor.sample("b", poor) is not None  # per participant
    back = advisor.sample("a", GOOD)
    assert back is not None and back.mode is Mode.VIDEO
    advisor.forget("a")
    advisor.forget("a")  # forgetting twice is harmless
    assert len(advisor) == 1
    assert Advisor(Thresholds(max_loss_pct=20.0)).sample("a", poor) is None
