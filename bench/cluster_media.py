"""Takeover with media (issue 15, "Done when"): the home node of a check-in is killed with
SIGKILL while the officer and the client are in a video call; how long until media flows again
at both, and how long media actually stopped. Used by bench/cluster.py (its part 2).

Each kill: the officer and the client are real aiortc peers (``BrowserPeer``, below: the
check-in signalling of tests/helpers/callpeer.py, one peer connection per admitted peer, audio
and a small video each way, host candidates pinned to 127.0.0.1). The officer is connected to
the room's home node, the client to the other node. Once inbound RTP (audio and video) is
arriving at both peers, the home is killed (``kill -9``); both come back as the web client
does (client_web/checkin/call.js and client_web/shared/socket.js):

- the client's socket (on the surviving node) gets ``reconnect`` when the dead home's lease
  lapses: call.js **closes every peer connection** and sends ``join`` again;
- the officer's socket drops with its node: socket.js reconnects after 250-500 ms (its first
  back-off step; here straight to the surviving node, as nginx would fail over) and call.js
  joins again on ``welcome``, **keeping its peer connections** until its ``admitted`` (it
  closes the connection to every peer that frame lists and offers afresh) or a
  ``peer_joined`` (it closes the connection to that peer, which offers afresh);
- a ``join`` answered ``unavailable`` (``room.unreachable``: the home is dead and its lease
  still runs) is retried after 2 s (``RETRY_JOIN_MS``); colliding offers are settled as
  call.js does (perfect negotiation: the impolite side ignores the incoming offer).

So the bench, like the browser, **re-creates the peer connections** on a takeover, although
the peer-to-peer media path never went through the dead node. aiortc stops a track when its
peer connection closes, so each new connection gets new tracks (a browser keeps its camera).

Measured per kill (loop time of the bench process; every inbound RTP packet is timestamped):

- ``takeover_s``: from the kill until audio and video RTP packets have arrived at both peers,
  on an open peer connection, after both peers were admitted again ("media flowing again at
  both peers");
- ``signal_s``: from the kill until the first ``offer`` after the rejoin reached a peer (both
  back in the room and signalling through: the figure the bench reported before);
- ``gap_s`` per peer: the longest time with no inbound packet of one kind (audio or video,
  the larger) from 1 s before the kill until 1 s after media was back; and when that gap
  began, counted from the kill (``media_kept_after_kill_s``: how long the old peer
  connections carried media on their own before the browser closed them).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from _common import BenchError, median, percentile, rnd
from aiortc import AudioStreamTrack, RTCSessionDescription

from server.media.ice import pin_host_addresses
from tests.helpers.callpeer import CallPeer, Link
from tests.helpers.nodes import Node
from tests.helpers.peers import SmallVideo, peer, until
from tests.helpers.socketjs import reconnect_delay

RETRY_JOIN = frozenset({"room.unreachable", "room.moving", "node.draining"})  # call.js
RETRY_JOIN_S = 2.0  # call.js RETRY_JOIN_MS
SETTLE_S = 1.0  # media watched this long before the kill and after it is back
KINDS = ("audio", "video")


@dataclass
class BrowserPeer(CallPeer):
    """A CallPeer that reacts to frames and to a dropped socket as call.js and socket.js do."""

    rtp: list[tuple[float, str, int]] = field(default_factory=list)  # (loop time, kind, id(pc)) per packet
    seen: list[tuple[float, str]] = field(default_factory=list)  # (loop time, type) per frame
    join_ref: str | None = None
    _closing: bool = False
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def _later(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def join(self) -> None:
        self.join_ref = await self.signal("join")

    # -- the socket --------------------------------------------------------------------

    async def _read(self) -> None:
        await super()._read()
        if not self._closing:  # the node went away: socket.js opens a new socket
            self._later(self._reopen())

    async def _reopen(self) -> None:
        attempt = 0
        while not self._closing:
            await asyncio.sleep(reconnect_delay(attempt))
            attempt += 1
            try:
                url = self.base_url.replace("http", "ws", 1) + "/ws"
                self._ws = await self.session.ws_connect(url, headers=self.headers, max_msg_size=64 * 1024)
            except (aiohttp.ClientError, OSError):
                continue
            await self.send({"type": "hello", "version": 1})
            self._reader = asyncio.get_running_loop().create_task(self._read())
            return

    async def close(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await super().close()

    # -- frames, as call.js handles them -----------------------------------------------

    async def _media(self, frame: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        kind = frame.get("type")
        self.seen.append((loop.time(), str(kind)))
        if kind == "welcome" and self.participant is not None:
            await self.join()  # socket.js onOpen -> call.js join()
        elif kind == "joined":
            await super()._media(frame)
        elif kind == "admitted":
            for other in frame.get("peers", []):  # a rejoin is a newcomer: fresh connections
                await self._drop_link(other)
                await self._offer(other)
        elif kind == "offer" and frame.get("room") == self.room:
            link = self._link(frame["from"])
            polite = str(self.participant) < frame["from"]
            if link.pc.signalingState != "stable" and not polite:
                return  # the other side yields
            await link.pc.setRemoteDescription(RTCSessionDescription(sdp=frame["sdp"], type="offer"))
            await link.pc.setLocalDescription(await link.pc.createAnswer())
            self._count(link)
            await self.signal("answer", to=frame["from"], sdp=link.pc.localDescription.sdp)
        elif kind == "answer" and frame.get("from") in self.links:
            link = self.links[frame["from"]]
            if link.pc.signalingState == "have-local-offer":
                await link.pc.setRemoteDescription(RTCSessionDescription(sdp=frame["sdp"], type="answer"))
                self._count(link)
        elif kind == "candidate":
            with contextlib.suppress(Exception):  # a candidate for an offer ignored in a collision
                await super()._media(frame)
        elif kind == "peer_left" and frame.get("reason") != "dropped":
            await self._drop_link(frame["participant"])
        elif kind == "peer_joined":
            await self._drop_link(frame["participant"])  # it rejoined: it offers afresh
        elif kind == "reconnect":
            for other in list(self.links):
                await self._drop_link(other)
            await self.join()
        elif kind == "error" and frame.get("ref") == self.join_ref and frame.get("reason") in RETRY_JOIN:
            self._later(self._join_after(RETRY_JOIN_S))

    async def _join_after(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        if not self._closing:
            await self.join()

    # -- peer connections --------------------------------------------------------------

    def _link(self, other: str) -> Link:
        if other in self.links:
            return self.links[other]
        pc, sink = peer(self.ice_servers)
        pc.addTrack(AudioStreamTrack())  # new tracks: aiortc stopped the old ones with their connection
        pc.addTrack(SmallVideo(*self.video_size, noise=self.noise))
        link = Link(pc, sink)
        self.links[other] = link
        self._count(link)
        return link

    async def _offer(self, other: str) -> None:
        link = self._link(other)
        await link.pc.setLocalDescription(await link.pc.createOffer())
        self._count(link)
        await self.signal("offer", to=other, sdp=link.pc.localDescription.sdp)

    async def _drop_link(self, other: str) -> None:
        link = self.links.pop(other, None)
        if link is not None:
            await link.sink.close()
            await link.pc.close()

    def _count(self, link: Link) -> None:
        """Timestamp every RTP packet this connection's receivers get."""
        pc_id = id(link.pc)
        for transceiver in link.pc.getTransceivers():
            receiver, kind = transceiver.receiver, transceiver.kind
            if getattr(receiver, "_bench_counted", False):
                continue
            original = receiver._handle_rtp_packet

            async def counted(packet: Any, arrival_time_ms: int, original: Any = original, kind: str = kind) -> None:
                self.rtp.append((asyncio.get_running_loop().time(), kind, pc_id))
                await original(packet, arrival_time_ms=arrival_time_ms)

            receiver._handle_rtp_packet = counted  # type: ignore[method-assign]
            receiver._bench_counted = True  # type: ignore[attr-defined]

    # -- what the bench reads ------------------------------------------------------------

    def admitted_after(self, t: float) -> float | None:
        return next((at for at, kind in self.seen if kind == "admitted" and at > t), None)

    def media_since(self, t: float) -> float | None:
        """When audio and video had both arrived after ``t`` on an open connection (None: not yet)."""
        open_pcs = {id(link.pc) for link in self.links.values()}
        firsts = []
        for kind in KINDS:
            at = next((at for at, k, pc in self.rtp if at > t and k == kind and pc in open_pcs), None)
            if at is None:
                return None
            firsts.append(at)
        return max(firsts)

    def flowing(self, now: float, within_s: float = 0.3) -> bool:
        return all(any(at > now - within_s and k == kind for at, k, _ in self.rtp[-200:]) for kind in KINDS)

    def gap(self, start: float, end: float) -> tuple[float, float]:
        """(longest gap of one kind between packets in [start, end], when it began)."""
        worst, began = 0.0, start
        for kind in KINDS:
            times = [at for at, k, _ in self.rtp if k == kind and start <= at <= end]
            for a, b in zip([start, *times], [*times, end], strict=True):
                if b - a > worst:
                    worst, began = b - a, a
        return worst, began


async def into_media_call(session: aiohttp.ClientSession, home: Node, other: Node, call: Any
                          ) -> tuple[BrowserPeer, BrowserPeer]:
    """The officer on ``home`` (joins first: the room is homed there), the client on ``other``,
    admitted, media flowing both ways."""
    room, host, client = call
    officer = BrowserPeer(session, home.url, host, room, noise=False)
    phone = BrowserPeer(session, other.url, client, room, noise=False)
    await officer.__aenter__()
    await phone.__aenter__()
    await officer.join()
    await officer.expect("joined", within_s=30)
    await phone.join()
    waiting = await phone.expect("joined", within_s=30)
    await officer.signal("admit", participant=waiting["participant"])
    loop = asyncio.get_running_loop()
    try:
        await until(lambda: officer.flowing(loop.time()) and phone.flowing(loop.time()), within_s=30,
                    what="audio and video arriving at both peers")
    except AssertionError as err:
        raise BenchError(f"{err}: officer saw {officer.frames[-8:]}, packets {len(officer.rtp)}; "
                         f"client saw {phone.frames[-8:]}, packets {len(phone.rtp)}") from err
    await asyncio.sleep(SETTLE_S)
    return officer, phone


async def media_takeovers(session: aiohttp.ClientSession, nodes: list[Node], calls: list[Any], kills: int,
                          restart: Any, grace_s: float) -> dict[str, Any]:
    pin_host_addresses(("127.0.0.1",))
    loop = asyncio.get_running_loop()
    media: list[float] = []
    signal: list[float] = []
    gaps: dict[str, list[float]] = {"officer": [], "client": []}
    kept: list[float] = []
    for k in range(kills):
        home, other = nodes[k % 2], nodes[(k + 1) % 2]
        officer, phone = await into_media_call(session, home, other, calls[k])
        try:
            officer.base_url = other.url  # where its socket comes back (nginx fails over to the live node)
            killed = loop.time()
            home.proc.kill()
            await asyncio.to_thread(home.proc.wait, 10)

            def back(killed: float = killed, officer: BrowserPeer = officer, phone: BrowserPeer = phone
                     ) -> float | None:
                rejoined = [p.admitted_after(killed) for p in (officer, phone)]
                if None in rejoined:
                    return None
                since = max(t for t in rejoined if t is not None)
                at = [p.media_since(since) for p in (officer, phone)]
                return None if None in at else max(t for t in at if t is not None)

            await until(lambda: back() is not None, within_s=grace_s, what="media flowing again at both peers")
            recovered = back()
            assert recovered is not None
            media.append(recovered - killed)
            offers = [at for p in (officer, phone) for at, kind in p.seen if kind == "offer" and at > killed]
            signal.append(min(offers) - killed)
            await asyncio.sleep(SETTLE_S)
            for role, p in (("officer", officer), ("client", phone)):
                worst, began = p.gap(killed - SETTLE_S, recovered + SETTLE_S)
                gaps[role].append(worst)
                kept.append(began - killed)
            errors = [f for p in (officer, phone) for f in p.frames if f.get("type") == "peer_error"]
            if errors:
                raise BenchError(f"kill {k + 1}: a peer failed on a frame: {errors[:2]}")
        finally:
            await officer.close()
            await phone.close()
        nodes[k % 2] = await asyncio.to_thread(restart, f"{home.name.split('.')[0]}.{k + 1}")
    every_gap = gaps["officer"] + gaps["client"]
    return {
        "takeover_p50_s": rnd(median(media), 2), "takeover_p95_s": rnd(percentile(media, 95), 2),
        "takeover_max_s": rnd(max(media), 2), "takeover_kills": kills,
        "takeover_what": "media flowing again at both peers",
        "takeover_s": [rnd(s, 2) for s in media],
        "takeover_signal_p50_s": rnd(median(signal), 2), "takeover_signal_p95_s": rnd(percentile(signal, 95), 2),
        "takeover_signal_max_s": rnd(max(signal), 2),
        "media_gap_p50_s": rnd(median(every_gap), 2), "media_gap_max_s": rnd(max(every_gap), 2),
        "media_gap_officer_p50_s": rnd(median(gaps["officer"]), 2),
        "media_gap_client_p50_s": rnd(median(gaps["client"]), 2),
        "media_kept_after_kill_p50_s": rnd(median(kept), 2),
        "takeover_peer_connections": "re-created on rejoin, as client_web/checkin/call.js does",
    }
