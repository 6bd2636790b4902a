"""Breakouts, spotlight, stop camera, lowering a hand and ending, as facilitator control frames
through the real /ws gateway and the node's SFU (issue 14): aiortc bots in breakout A get none
of breakout B's audio or video (they did before), ``group.return_all`` and the breakout timer
bring everyone back, a facilitator visiting a breakout gets its media, the spotlight becomes
everyone's selected video, a stopped camera stops at the others, a participant's controls are
refused ``not_facilitator``, a forged room is ``not_found``, and ``group.end`` ends everyone's
media and the session."""

from __future__ import annotations

import asyncio
import fractions
import math
from datetime import datetime, timedelta
from typing import Any

import pytest
from av import AudioFrame

from server.web.ws_group import GROUP_LIVE
from tests.helpers.peers import until
from tests.helpers.sfubots import Bot, ToneTrack
from tests.helpers.world import login
from tests.media.test_group_ws import Member, a_session, live_app

__all__ = ["live_app"]


class Tone(ToneTrack):
    """A tone of its own pitch: each speaker's Opus packets differ from everyone else's."""

    def __init__(self, hz: float) -> None:
        super().__init__()
        self.hz = hz

    async def recv(self) -> AudioFrame:
        frame = await super(ToneTrack, self).recv()
        rate, samples = frame.sample_rate, frame.samples
        values = bytearray()
        for i in range(samples):
            v = int(12000 * math.sin(2 * math.pi * self.hz * (self._n + i) / rate))
            values += v.to_bytes(2, "little", signed=True)
        self._n += samples
        out = AudioFrame(format="s16", layout="mono", samples=samples)
        out.planes[0].update(bytes(values))
        out.pts, out.sample_rate, out.time_base = frame.pts, rate, fractions.Fraction(1, rate)
        return out


async def member(client: Any, username: str, *, hz: float) -> Member:
    headers = await login(client, username)
    ws = await client.ws_connect("/ws", headers=headers)
    await ws.send_json({"type": "hello"})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    bot = Bot(username, audio_slots=2, video_slots=2)
    bot.audio_sender.replaceTrack(Tone(hz))
    return Member(username, ws, bot, http=(client, headers))


def own(publisher: Member, others: list[Member]) -> dict[bytes, float]:
    """What only this publisher sent (its video, and its audio no-one else sent too: silence is
    shared), each payload with the loop time it was first sent."""
    shared = {x for o in others for x in o.bot.sent["audio"]}
    mine = (publisher.bot.sent["audio"] - shared) | publisher.bot.sent["video"]
    return {h: publisher.bot.sent_at.get(h, -math.inf) for h in mine}


def got(listener: Member, theirs: dict[bytes, float], *, after: float, kind: str | None = None,
        sent_after: float = -math.inf) -> int:
    """Packets the listener received after ``after`` that came from ``theirs`` and were sent after
    ``sent_after``. The isolation checks count what was sent after the change: the bots and the
    SFU share one event loop, and a stall of it records packets sent before the change as
    received late; what was sent after the change reaches nobody it must not, stall or not."""
    n = 0
    for mid, record in listener.bot.received.items():
        if kind is not None and listener.bot.kind_of.get(mid) != kind:
            continue
        n += sum(1 for h, t in zip(record.hashes, record.times, strict=False)
                 if t > after and h in theirs and theirs[h] > sent_after)
    return n


def last_state(m: Member) -> dict[str, Any]:
    return next(f for f in reversed(m.seen) if f["type"] == "group.state")


@pytest.mark.timeout(180)
async def test_breakouts_spotlight_camera_and_end_through_the_gateway(live_app: Any) -> None:
    client, services, w = live_app
    sid = await a_session(services, w)
    live = client.app[GROUP_LIVE]
    loop = asyncio.get_running_loop()
    people: list[Member] = []
    try:
        fac = await member(client, "facilitator", hz=330)
        ann = await member(client, "client", hz=440)
        bob = await member(client, "client_same", hz=550)
        people += [fac, ann, bob]
        await fac.join(sid)
        await fac.answered()
        for who in (ann, bob):
            await who.join(sid)
            await until(lambda who=who: any(  # type: ignore[misc]
                f["type"] == "group.state" and who.participant in [s["participant"] for s in f.get("lobby") or ()]
                for f in fac.seen), within_s=5, what="the facilitator to see the lobby")
            await fac.send(type="group.admit", session=sid, participant=who.participant)
            await who.next("group.notice", kind="admitted")
            await who.answered()
        bots = [m.bot for m in people]
        await until(lambda: all(b.decoded_from(o.name) >= 5 for b in bots for o in bots if o is not b), within_s=60,
                    what="every bot decoding every other bot's video")
        a, b = ann.participant, bob.participant

        def theirs(m: Member) -> dict[bytes, float]:
            return own(m, [x for x in people if x is not m])

        # Before: Ann gets Bob's audio (his tone) and video, and Bob gets Ann's.
        start = loop.time()
        await until(lambda: got(ann, theirs(bob), after=start, kind="audio") >= 10
                    and got(ann, theirs(bob), after=start, kind="video") >= 10
                    and got(bob, theirs(ann), after=start, kind="audio") >= 10, within_s=20,
                    what="Ann and Bob hearing and seeing each other")

        # A participant's control frames are refused; nothing changes.
        await ann.send(type="group.breakouts", session=sid, rooms=[{"name": "A", "participants": [a]}], minutes=5,
                       id="b0")
        assert (await ann.next("error", ref="b0"))["code"] == "not_facilitator"
        for i, frame in enumerate(({"type": "group.spotlight", "participant": a}, {"type": "group.end"},
                                   {"type": "group.camera_stop", "participant": b}, {"type": "group.return_all"})):
            await ann.send(**frame, session=sid, id=f"x{i}")
            assert (await ann.next("error", ref=f"x{i}"))["code"] == "not_facilitator", frame
        assert live.live[sid].session.rooms.value == "main"

        # Breakouts: Ann in A, Bob in B. From then on neither gets the other's media.
        await fac.send(type="group.breakouts", session=sid, minutes=10,
                       rooms=[{"name": "A", "participants": [a]}, {"name": "B", "participants": [b]}])
        await until(lambda: any(f["type"] == "group.state" and f["rooms"] == "breakouts" for f in ann.seen),
                    within_s=5, what="the breakouts in Ann's state")
        state = last_state(fac)
        assert state["breakouts"] == ["A", "B"]
        assert {s["participant"]: s["room"] for s in state["participants"]} == {
            fac.participant: "main", a: "A", b: "B"}
        split = loop.time()
        await asyncio.sleep(2.0)
        settled = split + 0.5  # packets already in flight when the rooms changed
        assert got(ann, theirs(bob), after=settled, sent_after=settled) == 0, "Ann got Bob's media across breakouts"
        assert got(bob, theirs(ann), after=settled, sent_after=settled) == 0, "Bob got Ann's media across breakouts"
        assert got(fac, theirs(ann), after=settled, sent_after=settled) == 0
        assert got(fac, theirs(bob), after=settled, sent_after=settled) == 0
        assert set(ann.bot.slots.values()) <= {None} and set(bob.bot.slots.values()) <= {None}

        # A forged room is a coded error; nobody moves.
        await fac.send(type="group.move", session=sid, participant=a, room="Z", id="mv")
        assert (await fac.next("error", ref="mv"))["code"] == "not_found"
        await fac.send(type="group.visit", session=sid, room="nowhere", id="vz")
        assert (await fac.next("error", ref="vz"))["code"] == "not_found"
        assert live.live[sid].session.people[a].room == "A"

        # The facilitator visits B: Bob's media, none of Ann's; Bob gets the facilitator's.
        await fac.send(type="group.visit", session=sid, room="B")
        visit = loop.time()
        await until(lambda: got(fac, theirs(bob), after=visit, kind="video") >= 10
                    and got(fac, theirs(bob), after=visit, kind="audio") >= 10
                    and got(bob, theirs(fac), after=visit, kind="video") >= 10, within_s=20,
                    what="the visiting facilitator and Bob exchanging media")
        assert got(fac, theirs(ann), after=visit + 0.5, sent_after=visit + 0.5) == 0
        assert got(ann, theirs(bob), after=settled, sent_after=settled) == 0

        # Return everyone: Ann and Bob get each other's media again.
        await fac.send(type="group.return_all", session=sid)
        back = loop.time()
        await until(lambda: got(ann, theirs(bob), after=back, kind="audio") >= 10
                    and got(ann, theirs(bob), after=back, kind="video") >= 10
                    and got(bob, theirs(ann), after=back, kind="video") >= 10, within_s=20,
                    what="Ann and Bob's media again after return_all")
        assert last_state(ann)["rooms"] == "main" and last_state(ann).get("breakouts", []) == []

        # The breakout timer: its deadline passes, everyone comes back.
        await fac.send(type="group.breakouts", session=sid, minutes=1,
                       rooms=[{"name": "A", "participants": [a]}, {"name": "B", "participants": [b]}])
        await until(lambda: live.live[sid].session.rooms.value == "breakouts", within_s=5, what="breakouts again")
        await until(lambda: last_state(ann)["rooms"] == "breakouts", within_s=5, what="Ann's state in breakouts")
        ends = datetime.fromisoformat(last_state(ann)["breakouts_end_at"])
        assert ends == services.clock.now() + timedelta(minutes=1)
        services.clock.advance(timedelta(seconds=61))
        await until(lambda: live.live[sid].session.rooms.value == "main"
                    and last_state(bob)["rooms"] == "main", within_s=5, what="the timer returning everyone")
        timer = loop.time()
        await until(lambda: got(ann, theirs(bob), after=timer, kind="video") >= 10, within_s=20,
                    what="Bob's video at Ann after the timer")

        # Spotlight: Bob is everyone else's selected (large) video; cleared, last-N again.
        media = live.sfu.sessions[sid].participants
        await fac.send(type="group.spotlight", session=sid, participant=b)
        await until(lambda: last_state(ann).get("spotlight") == b, within_s=5, what="the spotlight in Ann's state")
        for m in (fac, ann):
            selection = media[m.participant].selection
            assert selection is not None and selection[0] == b, m.name
        await until(lambda: b in ann.bot.slots.values(), within_s=5, what="Bob in Ann's slots")
        assert media[b].selection is None  # the spotlit person sees the others by last-N
        await fac.send(type="group.spotlight", session=sid, participant=None)
        await until(lambda: last_state(ann).get("spotlight") is None, within_s=5, what="the spotlight cleared")
        assert all(media[m.participant].selection is None for m in people)

        # A facilitator lowers Bob's hand.
        await bob.send(type="group.hand", session=sid)
        await until(lambda: last_state(fac)["hands"] == [b], within_s=5, what="Bob's hand")
        await fac.send(type="group.hand_lower", session=sid, participant=b)
        await until(lambda: last_state(bob)["hands"] == [], within_s=5, what="Bob's hand lowered")

        # Stop Bob's camera: his video stops at the others; his audio goes on.
        await until(lambda: got(ann, theirs(bob), after=loop.time() - 0.5, kind="video") >= 5, within_s=10,
                    what="Bob's video at Ann")
        await fac.send(type="group.camera_stop", session=sid, participant=b)
        await bob.next("group.notice", kind="camera_stopped")
        stopped = loop.time()
        await asyncio.sleep(1.5)
        for listener in (ann, fac):
            assert got(listener, theirs(bob), after=stopped + 0.5, kind="video", sent_after=stopped) == 0, listener.name
        assert got(ann, theirs(bob), after=stopped + 0.5, kind="audio") >= 10
        assert next(s for s in last_state(ann)["participants"] if s["participant"] == b)["video"] is False

        # End: everyone is told, every peer connection ends, the session is closed.
        await fac.send(type="group.end", session=sid)
        for m in people:
            await m.next("group.notice", kind="ended")
        await until(lambda: sid not in live.live and sid not in live.sfu.sessions, within_s=10,
                    what="the session closed")
        await until(lambda: all(m.bot.pc.connectionState in ("closed", "failed")
                                or m.bot.pc.iceConnectionState in ("closed", "failed", "disconnected")
                                for m in people), within_s=40, what="every bot's connection to end")
        await ann.send(type="group.hand", session=sid, id="h-end")
        assert (await ann.next("error", ref="h-end"))["code"] == "not_in_room"
    finally:
        for m in people:
            await m.close()
