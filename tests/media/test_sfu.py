"""The group SFU with real aiortc peers on loopback: each bot decodes the others' video, what
arrives is byte for byte what the publisher sent, mute stops audio within 500 ms, rooms never
share media, a full node refuses a new session and keeps the running one, removal disconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from server.errors import BadRequest, LimitExceeded, NotFound, RoomFull, SfuCapacity
from server.media.sfu import ParticipantLeft, Sfu, SfuEvent, SlotsChanged, reservation
from tests.helpers.peers import until
from tests.helpers.sfubots import Bot

SID = "session-1"


class Harness:
    def __init__(self, capacity: int = 1000) -> None:
        self.bots: dict[str, Bot] = {}
        self.events: list[SfuEvent] = []
        self.sfu = Sfu(capacity=capacity, on_event=self._on_event)

    def _on_event(self, event: SfuEvent) -> None:
        self.events.append(event)
        if isinstance(event, SlotsChanged) and event.participant_id in self.bots:
            self.bots[event.participant_id].set_slots(dict(event.slots))

    async def join(self, name: str, *, audio_slots: int, video_slots: int, room: str = "main",
                   session: str = SID, tone: bool = False) -> Bot:
        bot = Bot(name, audio_slots=audio_slots, video_slots=video_slots, tone=tone)
        self.bots[name] = bot
        answer = await self.sfu.join(session, name, await bot.offer(), room=room)
        bot.set_slots(self.sfu.slot_map(session, name))
        await bot.accept(answer)
        return bot

    async def close(self) -> None:
        await self.sfu.close()
        for bot in self.bots.values():
            await bot.close()


@pytest.fixture
async def harness() -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(capacity: int = 1000) -> Harness:
        made.append(Harness(capacity))
        return made[-1]

    yield make
    for h in made:
        await h.close()


def received_from(bot: Bot, publisher: Bot, kind: str) -> list[bytes]:
    return [h for mid in bot.mids_of(publisher.name, kind) for h in bot.received[mid].hashes]


async def test_bots_decode_each_other_and_payloads_are_forwarded_unchanged(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.sfu.create_session(SID, seats=4, last_n=3)
    bots = [await h.join(f"bot{i}", audio_slots=3, video_slots=3, tone=(i == 0)) for i in range(3)]
    pairs = [(b, o) for b in bots for o in bots if o is not b]
    await until(lambda: all(b.decoded_from(o.name) >= 15 and len(received_from(b, o, "audio")) > 20
                            and len(received_from(b, o, "video")) > 20 for b, o in pairs), within_s=30,
                what="every bot decoding every other bot's video and hearing their audio")
    for bot, other in pairs:
        for kind in ("audio", "video"):
            got = received_from(bot, other, kind)
            assert len(got) > 20, (bot.name, other.name, kind)
            strangers = [x for x in got if x not in other.sent[kind]]
            assert strangers == [], f"{bot.name} got {len(strangers)} {kind} payloads {other.name} never sent"
    # A key frame per new subscriber, spaced: nobody was asked more than a few times.
    assert all(len(b.keyframe_requests) <= 4 for b in bots), {b.name: b.keyframe_requests for b in bots}
    await until(lambda: h.sfu.speaker_history(SID) == ("bot0",), within_s=10, what="bot0 (a tone) as the speaker")


async def test_last_n_follows_the_speaker_and_an_explicit_selection(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.sfu.create_session(SID, seats=4, last_n=1)
    viewer = await h.join("viewer", audio_slots=3, video_slots=1)
    await h.join("quiet", audio_slots=3, video_slots=1)
    await h.join("talker", audio_slots=3, video_slots=1, tone=True)
    await until(lambda: "talker" in viewer.slots.values() and viewer.decoded_from("talker") >= 5, within_s=30,
                what="the viewer's one video slot to show the speaker")
    h.sfu.select_video(SID, "viewer", ["quiet"])
    await until(lambda: viewer.decoded_from("quiet") >= 5, within_s=20, what="the selected publisher's video")
    assert h.sfu.slot_map(SID, "viewer")["1"] == "quiet"


async def test_mute_stops_audio_at_every_other_bot_within_500_ms(harness: Callable[..., Harness]) -> None:
    """Every bot speaks (a tone: no two packets alike, so each arrival names its sender and
    when it was sent). Nothing the talker sends once muted reaches anyone, and in each
    listener's stream the talker falls silent within 500 ms of the first audio the other
    speaker sent after the mute: a bound on the SFU, not on how late a loaded machine
    delivers what was already on its way."""
    h = harness()
    h.sfu.create_session(SID, seats=3, last_n=2)
    bots = [await h.join(f"bot{i}", audio_slots=2, video_slots=2, tone=True) for i in range(3)]
    talker, listeners = bots[0], bots[1:]
    await until(lambda: all(len(b.times_from(talker, "audio")) >= 25 for b in listeners), within_s=30,
                what="the talker's audio at both listeners")
    loop = asyncio.get_running_loop()
    h.sfu.set_muted(SID, talker.name, True)
    muted_at = loop.time()

    def other(bot: Bot) -> Bot:
        return bots[2 if bot is bots[1] else 1]

    await until(lambda: all(b.times_from(other(b), "audio", sent_after=muted_at + 1.0) for b in listeners),
                within_s=30, what="the other speaker's audio sent a second after the mute")
    for bot in listeners:
        assert bot.payloads_from(talker, "audio", sent_after=muted_at) == [], f"{bot.name} got audio sent muted"
        lag = max(bot.times_from(talker, "audio")) - min(bot.times_from(other(bot), "audio", sent_after=muted_at))
        assert lag < 0.5, f"{bot.name} still heard the muted talker {lag:.3f} s into the stream after the mute"
    unmuted_at = loop.time()
    h.sfu.set_muted(SID, talker.name, False)
    await until(lambda: all(b.times_from(talker, "audio", sent_after=unmuted_at) for b in listeners), within_s=10,
                what="audio again after unmuting")


async def test_rooms_never_share_media(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.sfu.create_session(SID, seats=4, last_n=3)
    a1 = await h.join("a1", audio_slots=3, video_slots=3, room="A")
    a2 = await h.join("a2", audio_slots=3, video_slots=3, room="A")
    b1 = await h.join("b1", audio_slots=3, video_slots=3, room="B", tone=True)
    b2 = await h.join("b2", audio_slots=3, video_slots=3, room="B")
    await until(lambda: a1.decoded_from("a2") >= 5 and b1.decoded_from("b2") >= 5, within_s=30,
                what="video inside each room")
    await asyncio.sleep(1.0)
    for bot, others in ((a1, (b1, b2)), (a2, (b1, b2)), (b1, (a1, a2)), (b2, (a1, a2))):
        assert set(bot.slots.values()) - {None} <= {"a1", "a2", "b1", "b2"} - {o.name for o in others} - {bot.name}
        everything = {x for r in bot.received.values() for x in r.hashes}
        # Silence encodes to the same Opus bytes for everyone: count only what no room-mate sent too.
        mates = {x for o in h.bots.values() if o not in others for x in o.sent["audio"]}
        for other in others:
            theirs = (other.sent["audio"] - mates) | other.sent["video"]
            assert not everything & theirs, f"{bot.name} got {other.name}'s media"
    assert b1.sent["audio"] - {x for o in (a1, a2, b2) for x in o.sent["audio"]}, "the tone is b1's alone"
    # A facilitator visiting room B: from then on B's media, none of A's.
    h.sfu.set_room(SID, "a1", "B")
    await until(lambda: a1.decoded_from("b1") >= 5 and a1.decoded_from("b2") >= 5, within_s=20,
                what="the visitor seeing room B")
    assert set(a1.slots.values()) - {None} == {"b1", "b2"}
    assert set(a2.slots.values()) - {None} == set()


async def test_capacity_refuses_a_new_session_and_keeps_the_running_one(harness: Callable[..., Harness]) -> None:
    h = harness(capacity=reservation(3, 2) + 5)
    h.sfu.create_session(SID, seats=3, last_n=2)
    bots = [await h.join(f"bot{i}", audio_slots=2, video_slots=2) for i in range(3)]
    with pytest.raises(SfuCapacity) as refused:
        h.sfu.create_session("session-2", seats=3, last_n=2)
    assert refused.value.code == "sfu_capacity" and refused.value.status == 503
    with pytest.raises(RoomFull):  # a fourth person in a session of three
        await h.sfu.join(SID, "bot3", "v=0\r\n")
    await until(lambda: all(b.decoded_from(o.name) >= 10 for b in bots for o in bots if o is not b), within_s=30,
                what="the running session still forwarding everything")
    with pytest.raises(NotFound):
        await h.sfu.join("nowhere", "x", "v=0\r\n")
    with pytest.raises(LimitExceeded):
        await h.sfu.join(SID, "bot0", "m=video 9\r\n" * 40)
    await h.sfu.close_session(SID)
    h.sfu.create_session("session-2", seats=3, last_n=2)  # the reservation was released


async def test_an_offer_without_vp8_is_refused(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.sfu.create_session(SID, seats=3, last_n=2)
    bot = Bot("h264", audio_slots=1, video_slots=1)
    h.bots["h264"] = bot
    offer = await bot.offer()
    lines = [ln for ln in offer.splitlines() if "VP8" not in ln]
    mangled = "\r\n".join(ln.replace(" 97 98", " 99 100") if ln.startswith("m=video") else ln for ln in lines)
    with pytest.raises(BadRequest):
        await h.sfu.join(SID, "h264", mangled + "\r\n")
    assert h.sfu.sessions[SID].participants == {}
    with pytest.raises(BadRequest):
        await h.sfu.join(SID, "junk", "not an sdp")


async def test_removal_disconnects(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.sfu.create_session(SID, seats=3, last_n=2)
    stay = await h.join("stay", audio_slots=2, video_slots=2)
    gone = await h.join("gone", audio_slots=2, video_slots=2)
    await until(lambda: stay.decoded_from("gone") >= 5, within_s=30, what="video before the removal")
    await h.sfu.remove(SID, "gone")
    assert ParticipantLeft(SID, "gone", "removed") in h.events
    await until(lambda: gone.pc.connectionState in ("closed", "failed") or gone.pc.iceConnectionState in (
        "closed", "failed", "disconnected"), within_s=40, what="the removed bot's connection to end")
    assert set(stay.slots.values()) == {None}
    with pytest.raises(NotFound):
        h.sfu.set_muted(SID, "gone", True)
