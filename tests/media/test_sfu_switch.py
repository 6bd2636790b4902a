"""Slot switches in the group SFU with real aiortc peers on loopback (issue 14): a video slot
given a new publisher asks that publisher for a key frame and forwards nothing of it before
one, so the subscriber's decoder never gets a delta frame it cannot decode; equally loud
speakers do not pass the floor round the room, so last-N slots stay put; an outgoing slot
that falls behind drops frames and starts again at a key frame."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from server.media.aiortc_adapter import MediaPeer
from server.media.sfu import SlotsChanged, SpeakerChanged
from tests.helpers.peers import until
from tests.helpers.sfubots import Bot
from tests.media.test_sfu import SID, Harness, harness

__all__ = ["harness"]


def order_on(viewer: Bot, mid: str, publishers: list[Bot]) -> list[tuple[Bot, bytes]]:
    """The packets on ``mid`` in arrival order, each with the publisher that sent it."""
    out = []
    for h in viewer.received[mid].hashes:
        who = next((p for p in publishers if h in p.sent["video"]), None)
        if who is not None:
            out.append((who, h))
    return out


async def test_a_switched_slot_starts_with_the_new_publishers_key_frame(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.sfu.create_session(SID, seats=4, last_n=1)
    viewer = await h.join("viewer", audio_slots=3, video_slots=1)
    a = await h.join("a", audio_slots=3, video_slots=1)
    b = await h.join("b", audio_slots=3, video_slots=1)
    (mid,) = viewer.mids("video")
    loop = asyncio.get_running_loop()
    for step, (shown, hidden) in enumerate(((a, b), (b, a), (a, b), (b, a))):
        h.sfu.select_video(SID, "viewer", [shown.name])
        switched = loop.time()
        assert h.sfu.slot_map(SID, "viewer")[mid] == shown.name
        await until(lambda shown=shown, switched=switched: viewer.decoded_from(shown, mid=mid, after=switched) >= 10,
                    within_s=60, what=f"switch {step}: {shown.name}'s video decoded on the slot")
        # The new publisher was asked for a key frame (it was last asked long before: no spacing).
        if step > 0:
            assert any(t >= switched for t in shown.keyframe_requests), f"switch {step}: no PLI to {shown.name}"
        # On the wire: the old publisher's frames, then the new one's, starting with a key frame.
        seq = order_on(viewer, mid, [a, b])
        first = next(i for i, (who, _) in enumerate(seq) if who is shown and i > last_of(seq, hidden))
        assert seq[first][1] in shown.sent_key, f"switch {step}: {shown.name}'s first packet is not a key frame's"
        assert all(who is shown for who, _ in seq[first:]), f"switch {step}: {hidden.name}'s media after the switch"
        # The viewer decoded nothing of the new publisher before the switch but the previous rounds.
        assert viewer.decoded_from(hidden, mid=mid, after=loop.time() - 0.2) == 0


def shown(bot: Bot) -> list[str]:
    return [p for mid in bot.mids("video") if (p := bot.slots.get(mid)) is not None]


def last_of(seq: list[tuple[Bot, bytes]], who: Bot) -> int:
    return max((i for i, (w, _) in enumerate(seq) if w is who), default=-1)


async def test_equally_loud_speakers_leave_the_last_n_slots_alone(harness: Callable[..., Harness]) -> None:
    """Five people all speaking as loudly (one tone each), last-N 2: once the first speaker has
    the floor the slots stay where they are; nobody's packet phase hands the floor on."""
    h = harness()
    h.sfu.create_session(SID, seats=5, last_n=2)
    bots = [await h.join(f"bot{i}", audio_slots=4, video_slots=2, tone=True) for i in range(5)]
    await until(lambda: len(h.sfu.speaker_history(SID)) >= 1, within_s=30, what="a dominant speaker")
    await until(lambda: all(b.decoded_from(p) >= 5 for b in bots for p in shown(b)), within_s=60,
                what="everyone decoding their last-N")
    settled = len(h.events)
    history = h.sfu.speaker_history(SID)
    await asyncio.sleep(6.0)
    moved = [e for e in h.events[settled:] if isinstance(e, SlotsChanged | SpeakerChanged)]
    assert moved == [], f"the floor moved from {history}: {moved[:5]}"


async def test_a_full_outlet_drops_the_frame_that_overflows_it_too() -> None:
    """A subscriber's slot whose sender fell behind (``max_queue`` frames waiting) is emptied,
    and the frame that found it full is not queued either: it would refer to the dropped
    frames. The SFU then holds the slot until a key frame (``waiting_key``)."""
    bot = Bot("subscriber", audio_slots=1, video_slots=2)
    peer = MediaPeer()
    try:
        lines = await peer.set_offer(await bot.offer())
        mid = next(line.mid for line in lines if line.kind == "video" and line.subscribes)
        outlet = peer.outlet(mid, lambda: None)
        assert all(outlet.push([bytes([i])], 3000 * i, None) for i in range(outlet.max_queue))
        assert outlet.backlog == outlet.max_queue
        assert not outlet.push([b"delta"], 3000 * outlet.max_queue, None)
        assert outlet.backlog == 0 and outlet.dropped == 1
        assert outlet.push([b"key"], 3000 * (outlet.max_queue + 1), None) and outlet.backlog == 1
    finally:
        await peer.close()
        await bot.close()
