"""Frames released at their marker packet, in order; a lost frame waits for a key frame;
slot timestamps run on across publishers; key-frame requests are spaced."""

from __future__ import annotations

import pytest

from server.media.forwarding import (
    FrameAssembler,
    KeyframeLimiter,
    SlotClock,
    seq_newer,
    vp8_descriptor_length,
    vp8_is_keyframe,
    vp8_starts_frame,
)

# VP8 payloads: descriptor X=1 with a 15-bit picture id, then the VP8 payload header (P bit).
KEY_START = bytes([0x90, 0x80, 0x80, 0x01, 0x00]) + b"key"  # S=1 PID=0, P=0: key frame
DELTA_START = bytes([0x90, 0x80, 0x80, 0x02, 0x01]) + b"delta"  # S=1, P=1
MIDDLE = bytes([0x80, 0x80, 0x80, 0x02]) + b"more"  # S=0


def test_vp8_descriptor() -> None:
    assert vp8_descriptor_length(bytes([0x10, 0x00])) == 1
    assert vp8_descriptor_length(bytes([0x90, 0x80, 0x05, 0x00])) == 3  # 7-bit picture id
    assert vp8_descriptor_length(bytes([0x90, 0xF0, 0x80, 0x01, 0x11, 0x22, 0x00])) == 6  # I(M) L T/K
    with pytest.raises(ValueError, match="empty"):
        vp8_descriptor_length(b"")
    with pytest.raises(ValueError, match="truncated"):
        vp8_descriptor_length(bytes([0x90]))
    with pytest.raises(ValueError, match="truncated"):
        vp8_descriptor_length(bytes([0x90, 0x80]))
    with pytest.raises(ValueError, match="truncated"):
        vp8_descriptor_length(bytes([0x90, 0x40]))
    assert vp8_starts_frame(KEY_START) and not vp8_starts_frame(MIDDLE) and not vp8_starts_frame(b"")
    assert not vp8_starts_frame(bytes([0x11, 0x00]))  # S=1 but partition 1
    assert vp8_is_keyframe(KEY_START) and not vp8_is_keyframe(DELTA_START) and not vp8_is_keyframe(MIDDLE)
    assert not vp8_is_keyframe(bytes([0x90]))  # truncated: not a key frame
    assert not vp8_is_keyframe(bytes([0x10]))  # no payload header


def test_seq_newer_wraps() -> None:
    assert seq_newer(1, 0) and seq_newer(0, 65535) and not seq_newer(65535, 0) and not seq_newer(5, 5)


def test_frame_released_when_its_marker_packet_arrives() -> None:
    a = FrameAssembler()
    assert a.add(100, 3000, False, KEY_START) == ([], False)
    frames, need = a.add(101, 3000, True, MIDDLE)
    assert not need
    assert [(f.timestamp, f.payloads, f.keyframe) for f in frames] == [(3000, (KEY_START, MIDDLE), True)]
    frames, _ = a.add(102, 6000, True, DELTA_START)  # a one-packet frame: out at once
    assert [(f.payloads, f.keyframe) for f in frames] == [((DELTA_START,), False)]


def test_reordered_packets_and_frames_leave_in_order() -> None:
    a = FrameAssembler()
    a.add(10, 0, True, KEY_START)
    assert a.add(13, 6000, True, MIDDLE) == ([], False)  # the second frame's end before its start
    assert a.add(14, 9000, True, DELTA_START) == ([], False)  # a later frame waits for the earlier one
    assert a.add(12, 6000, False, MIDDLE) == ([], False)
    frames, _ = a.add(11, 6000, False, DELTA_START)
    assert [f.timestamp for f in frames] == [6000, 9000]
    assert frames[0].payloads == (DELTA_START, MIDDLE, MIDDLE)
    assert a.add(11, 6000, False, DELTA_START) == ([], False)  # late duplicate: ignored


def test_a_frame_that_never_completes_is_given_up_until_a_key_frame() -> None:
    a = FrameAssembler(max_pending=2)
    a.add(0, 0, True, KEY_START)
    a.add(1, 3000, False, DELTA_START)  # its end is lost
    assert a.add(3, 6000, True, DELTA_START) == ([], False)
    frames, need = a.add(4, 9000, True, DELTA_START)  # three pending > 2: give the oldest up
    assert (frames, need) == ([], True)
    assert a.dropped_frames == 1
    assert a.add(5, 12000, True, DELTA_START) == ([], False)  # still no key frame: nothing, asked once
    frames, need = a.add(6, 15000, True, KEY_START)
    assert [(f.timestamp, f.keyframe) for f in frames] == [(15000, True)] and not need
    assert a.dropped_frames == 4  # the delta frames older than the key frame went with it
    frames, _ = a.add(7, 18000, True, DELTA_START)
    assert [f.timestamp for f in frames] == [18000]


def test_duplicate_and_oversized_frames() -> None:
    a = FrameAssembler(max_packets_per_frame=2)
    a.add(0, 0, False, KEY_START)
    assert a.add(0, 0, False, KEY_START) == ([], False)  # duplicate packet
    a.add(1, 0, False, MIDDLE)
    assert a.add(2, 0, True, MIDDLE) == ([], False)  # a third packet is refused: the frame cannot complete
    with pytest.raises(ValueError, match="at least 1"):
        FrameAssembler(max_pending=0)


def test_first_frame_is_the_oldest_complete_one_and_sequence_wraps() -> None:
    a = FrameAssembler()
    a.add(65535, 0, False, DELTA_START)
    frames, _ = a.add(0, 0, True, MIDDLE)
    assert [f.payloads for f in frames] == [(DELTA_START, MIDDLE)]
    frames, _ = a.add(1, 3000, True, DELTA_START)
    assert [f.timestamp for f in frames] == [3000]


def test_slot_clock_runs_on_across_publishers() -> None:
    clock = SlotClock(3000)
    a, b = object(), object()
    assert clock.map(a, 1_000_000) == 0
    assert clock.map(a, 1_003_000) == 3000
    assert clock.map(b, 50) == 6000  # a switch: one step after the last frame
    assert clock.map(b, 3050) == 9000
    assert clock.map(a, 1_009_000) == 12000
    assert SlotClock(960).map(a, 2**32 - 1) == 0
    with pytest.raises(ValueError, match="positive"):
        SlotClock(0)


def test_keyframe_limiter_spaces_requests() -> None:
    limiter = KeyframeLimiter(0.5)
    assert limiter.ask(10.0) == 0.0
    assert limiter.ask(10.1) == pytest.approx(0.4)
    assert limiter.ask(10.5) == 0.0
    assert limiter.sent == 2
    with pytest.raises(ValueError, match="positive"):
        KeyframeLimiter(0)
