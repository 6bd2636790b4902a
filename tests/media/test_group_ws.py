"""A live group session through the real /ws gateway and the node's SFU (issue 14): a
facilitator and two participants as aiortc bots on loopback join with ``group.join``, the
facilitator admits them from the lobby, everyone decodes everyone else's video; the server
enforces the facilitator's controls (mute stops audio at the others within 500 ms, a muted
participant may not unmute until allowed, removal disconnects and refuses the rejoin); a
participant's control frames are refused ``not_facilitator``; frames for a session one is
not in, and joins from another office, get coded errors; the attendance register has the
joins and leaves. On SQLite and PostgreSQL (the evidence is stored)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest

from server.app import create_app
from server.clock import FakeClock
from server.groups import session_store
from server.groups.sessions import NewSession
from server.web.state import SERVICES
from server.web.ws_group import GROUP_LIVE
from tests.conftest import make_settings
from tests.helpers import world
from tests.helpers.peers import until
from tests.helpers.safe_space import pass_group_safe_space
from tests.helpers.sfubots import Bot
from tests.helpers.world import World, add_office_b, login
from tests.media.conftest import LOOPBACK


@pytest.fixture
async def live_app(tmp_path: Any, db_url: str, aiohttp_client: Any) -> Any:
    app = create_app(make_settings(db_url, tmp_path, media_host_addresses=LOOPBACK, sfu_capacity=1000),
                     clock=FakeClock())
    client = await aiohttp_client(app)
    services = app[SERVICES]
    return client, services, await world.build(services)


class Member:
    """One person: a /ws connection read by a task of its own, and an aiortc bot."""

    def __init__(self, name: str, ws: Any, bot: Bot, *, http: tuple[Any, dict[str, str]] | None = None) -> None:
        self.name, self.ws, self.bot = name, ws, bot
        #: The test client and this person's headers: a ``group.join`` is preceded by the
        #: safe-space check answered through the routes (once per session), as the web client does.
        self.http = http
        self.safe_for: set[str] = set()
        self.seen: list[dict[str, Any]] = []
        self.seen_at: list[float] = []  # loop time each frame of ``seen`` was read
        self.taken: set[int] = set()
        self.participant = ""
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for msg in self.ws:
                frame = msg.json()
                self.seen.append(frame)
                self.seen_at.append(asyncio.get_running_loop().time())
                if frame["type"] == "group.slots":
                    self.bot.set_slots(dict(frame["slots"]))

    async def send(self, **frame: Any) -> None:
        session = frame.get("session")
        wants = frame.get("type") == "group.join" and self.http is not None and isinstance(session, str)
        if wants and session not in self.safe_for and await pass_group_safe_space(*self.http, session):
            self.safe_for.add(session)
        await self.ws.send_json(frame)

    async def next(self, type_: str, within_s: float = 20.0, **match: Any) -> dict[str, Any]:
        return (await self.next_at(type_, within_s, **match))[0]

    async def next_at(self, type_: str, within_s: float = 20.0, **match: Any) -> tuple[dict[str, Any], float]:
        """The next frame of ``type_`` matching ``match``, and the loop time it was read."""
        found: list[int] = []

        def look() -> bool:
            for i, f in enumerate(self.seen):
                if i not in self.taken and f["type"] == type_ and all(f.get(k) == v for k, v in match.items()):
                    self.taken.add(i)
                    found.append(i)
                    return True
            return False

        await until(look, within_s=within_s, what=f"{self.name} to get {type_} {match}")
        return self.seen[found[0]], self.seen_at[found[0]]

    async def join(self, session: str) -> dict[str, Any]:
        await self.send(type="group.join", session=session, sdp=await self.bot.offer(), id=f"join-{self.name}")
        joined = await self.next("group.joined")
        self.participant = self.bot.name = joined["participant"]  # the SFU's slots name participant ids
        return joined

    async def answered(self) -> None:
        await self.bot.accept((await self.next("group.answer", within_s=20))["sdp"])

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self.bot.close()


async def member(client: Any, username: str, *, slots: int = 2) -> Member:
    headers = await login(client, username)
    ws = await client.ws_connect("/ws", headers=headers)
    await ws.send_json({"type": "hello"})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    return Member(username, ws, Bot(username, audio_slots=slots, video_slots=slots, tone=True), http=(client, headers))


async def a_session(services: Any, w: World) -> str:
    fac = w.actor("facilitator")
    cohort_id: str = await services.groups.create_cohort(fac, name="Tuesday", programme="Thinking Skills")
    for key in ("own", "same_office"):
        await services.groups.enrol(fac, cohort_id, w.cases[key])
    start = services.clock.now() + timedelta(minutes=5)
    return str((await services.group_sessions.schedule(fac, cohort_id, NewSession(start, start + timedelta(
        hours=1))))[0].id)


def audio_times(listener: Bot, publisher: str) -> list[float]:
    return [t for mid in listener.mids_of(publisher, "audio") for t in listener.received[mid].times]


def heard_after(listener: Bot, speaker: Bot, within: float, applied: float) -> list[bytes]:
    """Audio ``speaker`` sent after loop time ``within`` (a switch-off plus the 500 ms it may
    take) that reached ``listener``. Timed by when the speaker sent it, not when the listener's
    task read it: bots, gateway and SFU share one loop, and a stall of it late in a loaded run
    delays the reading, not the forwarding. ``applied`` is when the server's answer showed the
    switch-off done (its notice or state is sent after the SFU applied it): what was sent before
    may still have been forwarded after a stall, what was sent after must never arrive."""
    return listener.payloads_from(speaker, "audio", sent_after=max(within, applied))


@pytest.mark.timeout(150)
async def test_a_live_session_through_the_gateway_and_the_sfu(live_app: Any) -> None:
    client, services, w = live_app
    await add_office_b(services, w)
    sid = await a_session(services, w)
    other_sid = await a_session(services, w)
    people: list[Member] = []
    try:
        fac = await member(client, "facilitator")
        ann = await member(client, "client")
        bob = await member(client, "client_same")
        people += [fac, ann, bob]
        assert (await fac.join(sid))["state"] == "present"
        await fac.answered()
        for who in (ann, bob):
            joined = await who.join(sid)
            assert joined["state"] == "waiting" and joined["role"] == "participant"
            await until(lambda who=who: any(  # type: ignore[misc]
                f["type"] == "group.state" and who.participant in [s["participant"] for s in f.get("lobby") or ()]
                for f in fac.seen), within_s=5, what="the facilitator to see the lobby")
            await fac.send(type="group.admit", session=sid, participant=who.participant)
            await who.next("group.notice", kind="admitted")
            await who.answered()
        services.clock.advance(timedelta(minutes=10))  # the session has started (evidence is timed)
        bots = [m.bot for m in people]
        pairs = [(b, o) for b in bots for o in bots if o is not b]
        await until(lambda: all(b.decoded_from(o.name) >= 10 for b, o in pairs), within_s=60,
                    what="every bot decoding every other bot's video through the gateway")
        async with services.store.read("test") as conn:
            assert (await session_store.session(conn, sid)).home_node == client.app[GROUP_LIVE].sfu.node_id

        # The browsers' connection quality is register evidence, kept at most every 15 s each.
        async def quality() -> Any:
            register = await services.attendance.register(w.actor("facilitator"), sid)
            return next(line.line.quality for line in register.lines if line.user_id == w.users["client"])

        async def samples(n: int) -> None:
            for _ in range(50):
                if (await quality()).samples >= n:
                    return
                await asyncio.sleep(0.1)

        await ann.send(type="group.stats", session=sid, rtt_ms=80.0, loss_pct=1.0, bitrate_kbps=600.0)
        await samples(1)
        await ann.send(type="group.stats", session=sid, rtt_ms=90.0, loss_pct=1.0, bitrate_kbps=600.0)  # too soon
        await ann.send(type="group.stats", session=sid, rtt_ms=-1.0, loss_pct=3.0, bitrate_kbps=500.0)
        assert (await ann.next("error", code="invalid_frame"))["code"] == "invalid_frame"  # no id: not decoded
        services.clock.advance(timedelta(seconds=16))
        await ann.send(type="group.stats", session=sid, rtt_ms=100.0, loss_pct=3.0, bitrate_kbps=500.0)
        await samples(2)
        await asyncio.sleep(0.3)
        assert (await quality()).samples == 2 and (await quality()).median_rtt_ms == 90.0  # 80 and 100
        await fac.send(type="group.stats", session=other_sid, rtt_ms=1.0, loss_pct=0.0, bitrate_kbps=1.0, id="q5")
        assert (await fac.next("error", ref="q5"))["code"] == "not_in_room"  # not a session it joined

        # A participant's control frames are refused; the session is untouched.
        await ann.send(type="group.mute", session=sid, participant=bob.participant, id="m1")
        refused = await ann.next("error", ref="m1")
        assert refused["code"] == "not_facilitator"

        # The facilitator mutes Ann: her audio stops at Bob and the facilitator within 500 ms.
        await until(lambda: all(len(audio_times(b, ann.participant)) >= 25 for b in (fac.bot, bob.bot)), within_s=20,
                    what="Ann's audio at the others")
        loop = asyncio.get_running_loop()
        muted_at = loop.time()
        await fac.send(type="group.mute", session=sid, participant=ann.participant)
        notice, told = await ann.next_at("group.notice", kind="muted")
        assert notice["by"] == fac.participant
        await asyncio.sleep(1.5)
        for listener in (fac.bot, bob.bot):
            assert not heard_after(listener, ann.bot, muted_at + 0.5, told), "Ann is still heard"
        assert max(audio_times(ann.bot, bob.participant)) > muted_at + 1.0  # Bob is still heard
        state = next(f for f in reversed(fac.seen) if f["type"] == "group.state")
        assert next(s for s in state["participants"] if s["participant"] == ann.participant)["muted"] is True
        # Ann may not unmute herself until the facilitator allows it.
        await ann.send(type="group.unmute", session=sid, id="u1")
        assert (await ann.next("error", ref="u1"))["code"] == "unmute_not_allowed"
        await ann.send(type="group.media", session=sid, audio=True, id="u2")  # nor through group.media
        assert (await ann.next("error", ref="u2"))["code"] == "unmute_not_allowed"
        await ann.send(type="group.media", session=sid, id="u3")  # switching nothing
        assert (await ann.next("error", ref="u3"))["code"] == "invalid_request"
        await ann.send(type="group.media", session=sid, voice_only="yes", id="u4")
        await ann.next("error", code="invalid_frame")  # undecodable: no ref
        await fac.send(type="group.allow_unmute", session=sid, participant=ann.participant)
        await ann.next("group.notice", kind="unmute_allowed")
        await ann.send(type="group.unmute", session=sid)
        again = loop.time()
        await until(lambda: max(audio_times(bob.bot, ann.participant)) > again + 0.3, within_s=10,
                    what="Ann's audio again after she unmuted")

        # Bob switches his own microphone off (group.media): the SFU stops forwarding it.
        await until(lambda: len(audio_times(ann.bot, bob.participant)) > 0, within_s=10, what="Bob heard")
        await bob.send(type="group.media", session=sid, audio=False)
        await until(lambda: any(f["type"] == "group.state" and any(
            x["participant"] == bob.participant and not x["audio"] and not x["muted"] for x in f["participants"])
            for f in fac.seen), within_s=5, what="Bob's microphone off in the facilitator's state")
        off = loop.time()
        await asyncio.sleep(1.0)
        assert not heard_after(ann.bot, bob.bot, off + 0.5, off), "Bob is still heard"
        await bob.send(type="group.media", session=sid, audio=True)
        await until(lambda: max(audio_times(ann.bot, bob.participant)) > off + 1.0, within_s=10,
                    what="Bob's audio again")
        # Voice only: the SFU sends Bob no video (his video slots are emptied), then again.
        def bob_video() -> list[str | None]:
            return [who for mid, who in bob.bot.slots.items() if bob.bot.kind_of.get(mid) == "video"]
        await until(lambda: any(bob_video()), within_s=10, what="video in Bob's slots")
        await bob.send(type="group.media", session=sid, voice_only=True)
        await until(lambda: not any(bob_video()), within_s=5, what="Bob's video slots emptied")
        await bob.send(type="group.media", session=sid, voice_only=False)
        await until(lambda: any(bob_video()), within_s=5, what="video in Bob's slots again")

        # A raised hand is in everyone's state, in order.
        await bob.send(type="group.hand", session=sid)
        await until(lambda: any(f["type"] == "group.state" and f["hands"] == [bob.participant] for f in ann.seen),
                    within_s=5, what="Bob's hand in Ann's state")

        # Frames for a session one is not in: a coded error, and the other session is untouched.
        await ann.send(type="group.hand", session=other_sid, id="h2")
        assert (await ann.next("error", ref="h2"))["code"] == "not_in_room"
        await ann.send(type="group.lock", session=other_sid, id="l2")
        assert (await ann.next("error", ref="l2"))["code"] == "not_in_room"
        assert other_sid not in client.app[GROUP_LIVE].live
        # Someone of another office is told the session does not exist.
        stranger = await member(client, "facilitator_b")
        people.append(stranger)
        await stranger.send(type="group.join", session=sid, sdp="v=0\r\n", id="j-b")
        assert (await stranger.next("error", ref="j-b"))["code"] == "not_found"

        # Removal: Bob's media ends, he is told, and his rejoin is refused with its rule.
        await fac.send(type="group.remove", session=sid, participant=bob.participant)
        await bob.next("group.notice", kind="removed")
        await until(lambda: bob.bot.pc.connectionState in ("closed", "failed")
                    or bob.bot.pc.iceConnectionState in ("closed", "failed", "disconnected"), within_s=40,
                    what="the removed bot's connection to end")
        assert bob.participant not in client.app[GROUP_LIVE].sfu.sessions[sid].participants
        await bob.send(type="group.hand", session=sid, id="h3")
        assert (await bob.next("error", ref="h3"))["code"] == "not_in_room"
        rejoin = Bot("client_same-again", audio_slots=2, video_slots=2)
        try:
            await bob.send(type="group.join", session=sid, sdp=await rejoin.offer(), id="j2")
            refused = await bob.next("error", ref="j2")
            assert (refused["code"], refused["rule_id"]) == ("join_refused", "session_controls")
        finally:
            await rejoin.close()

        # Lock: the state says so.
        await fac.send(type="group.lock", session=sid)
        await until(lambda: any(f["type"] == "group.state" and f["state"] == "locked" for f in ann.seen),
                    within_s=5, what="the locked state at Ann")

        # Ann leaves; the register has both participants' arrivals and Bob's removal.
        services.clock.advance(timedelta(minutes=10))
        await ann.send(type="group.leave", session=sid)
        await ann.next("group.notice", kind="left")
        register = await services.attendance.register(w.actor("facilitator"), sid)
        lines = {line.user_id: line.line for line in register.lines}
        for key in ("client", "client_same"):
            assert lines[w.users[key]].first_arrived_at is not None, key
            assert lines[w.users[key]].last_left_at is not None, key
        assert lines[w.users["client"]].minutes_present == 15  # from the start until she left
    finally:
        for m in people:
            await m.close()
