"""A headless check-in participant: one /ws connection speaking the signalling protocol
(docs/protocol.md, "Video check-ins: signalling") and one aiortc peer connection per
admitted peer, as the browser's call screen does (client_web/checkin/call.js).

aiortc gathers every candidate before ``setLocalDescription`` returns, so its SDP carries
them all; candidates a browser trickles are added as they come. Used by tests/media and by
bench/checkins.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiortc import AudioStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from server.media.ice import IceServer
from server.media.quality import Measurements, loss_pct
from server.media.rtcstats import totals
from tests.helpers.peers import Sink, SmallVideo, peer

_ids = itertools.count(1)


@dataclass
class Link:
    pc: RTCPeerConnection
    sink: Sink
    previous: tuple[float, int, int, int] | None = None  # (loop time, bytes, received, lost) at the last sample


@dataclass
class CallPeer:
    """``async with CallPeer(session, base_url, headers, room) as p:`` connected and said hello."""

    session: aiohttp.ClientSession
    base_url: str
    headers: dict[str, str]
    room: str
    video: bool = True
    video_size: tuple[int, int] = (160, 120)
    noise: bool = True  # random pixels (a realistic bitrate) or a cheap moving stripe
    frames: list[dict[str, Any]] = field(default_factory=list)
    links: dict[str, Link] = field(default_factory=dict)
    participant: str | None = None
    ice_servers: tuple[IceServer, ...] = ()
    relayed: int = 0  # signalling frames received from the server (all types)
    first_at: dict[str, float] = field(default_factory=dict)  # frame type -> loop time it first arrived
    on_frame: Callable[[dict[str, Any]], None] | None = None
    _ws: Any = None
    _reader: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _audio: AudioStreamTrack | None = None
    _video: SmallVideo | None = None
    _media_off: bool = False  # true after handle_media: frames are counted, not fed to aiortc

    async def __aenter__(self) -> CallPeer:
        url = self.base_url.replace("http", "ws", 1) + "/ws"
        self._ws = await self.session.ws_connect(url, headers=self.headers, max_msg_size=64 * 1024)
        await self.send({"type": "hello", "version": 1})
        self._reader = asyncio.get_running_loop().create_task(self._read())
        await self.expect("welcome")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for link in self.links.values():
            await link.sink.close()
            await link.pc.close()
        self.links.clear()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def send(self, frame: dict[str, Any]) -> None:
        await self._ws.send_str(json.dumps(frame))

    async def signal(self, type_: str, **fields: Any) -> str:
        """A frame for this room, with an id for errors to name (``stats`` frames carry none)."""
        frame_id = f"f{next(_ids)}"
        extra = {} if type_ == "stats" else {"id": frame_id}
        await self.send({"type": type_, "room": self.room, **extra, **fields})
        return frame_id

    # -- frames in ---------------------------------------------------------------------

    async def _read(self) -> None:
        async for msg in self._ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            self.relayed += 1
            self.first_at.setdefault(str(frame.get("type")), asyncio.get_running_loop().time())
            if self.on_frame is not None:
                self.on_frame(frame)
            if not self._media_off:
                try:
                    await self._media(frame)
                except Exception as err:  # kept as a frame of its own so a test shows it
                    self.frames.append({"type": "peer_error", "error": repr(err), "on": frame.get("type")})
            self.frames.append(frame)
            self._changed.set()

    async def expect(self, type_: str, within_s: float = 20.0, **match: Any) -> dict[str, Any]:
        """The first frame (seen so far or coming) of this type whose fields match."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        seen = 0
        while True:
            for frame in self.frames[seen:]:
                if frame.get("type") == type_ and all(frame.get(k) == v for k, v in match.items()):
                    return frame
            seen = len(self.frames)
            self._changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no {type_} frame matching {match} within {within_s} s; got "
                                     f"{[f.get('type') for f in self.frames][-20:]}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    def errors(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == "error"]

    async def _media(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "joined":
            self.participant = frame["participant"]
            self.ice_servers = tuple(IceServer(urls=tuple(s["urls"]), username=s.get("username"),
                                               credential=s.get("credential")) for s in frame["ice_servers"])
        elif kind == "admitted":
            for other in frame.get("peers", []):
                await self._offer(other)
        elif kind == "offer" and frame.get("room") == self.room:
            link = self._link(frame["from"])
            await link.pc.setRemoteDescription(RTCSessionDescription(sdp=frame["sdp"], type="offer"))
            await link.pc.setLocalDescription(await link.pc.createAnswer())
            self._silence_inactive(link)
            await self.signal("answer", to=frame["from"], sdp=link.pc.localDescription.sdp)
        elif kind == "answer" and frame.get("room") == self.room and frame["from"] in self.links:
            link = self.links[frame["from"]]
            await link.pc.setRemoteDescription(RTCSessionDescription(sdp=frame["sdp"], type="answer"))
            self._silence_inactive(link)
        elif kind == "candidate" and frame.get("from") in self.links and frame.get("candidate"):
            candidate = candidate_from_sdp(frame["candidate"].split(":", 1)[1])
            candidate.sdpMid, candidate.sdpMLineIndex = frame.get("sdp_mid"), frame.get("sdp_mline_index")
            await self.links[frame["from"]].pc.addIceCandidate(candidate)

    def handle_media(self, on: bool) -> None:
        """Stop (or resume) acting on SDP frames, e.g. while a bench sends dummy ones."""
        self._media_off = not on

    # -- media -------------------------------------------------------------------------

    def _link(self, other: str) -> Link:
        if other in self.links:
            return self.links[other]
        pc, sink = peer(self.ice_servers)
        self._audio = self._audio or AudioStreamTrack()
        pc.addTrack(self._audio)
        if self.video:
            self._video = self._video or SmallVideo(*self.video_size, noise=self.noise)
            pc.addTrack(self._video)
        link = Link(pc, sink)
        self.links[other] = link
        return link

    async def _offer(self, other: str) -> None:
        link = self._link(other)
        await link.pc.setLocalDescription(await link.pc.createOffer())
        await self.signal("offer", to=other, sdp=link.pc.localDescription.sdp)

    @staticmethod
    def _silence_inactive(link: Link) -> None:
        """aiortc keeps a started sender sending after a renegotiation made it inactive: stop it."""
        for t in link.pc.getTransceivers():
            if t.currentDirection in ("inactive", "recvonly"):
                t.sender.replaceTrack(None)

    async def audio_only(self) -> None:
        """Voice only: stop sending video, say so, and renegotiate so no video flows either way."""
        self.video = False
        await self.signal("media", audio=True, video=False)
        for other, link in self.links.items():
            for t in link.pc.getTransceivers():
                if t.kind == "video":
                    t.sender.replaceTrack(None)
                    t.direction = "inactive"
            await self._offer(other)

    async def sample(self, other: str) -> Measurements:
        """What this peer measured of the link to ``other`` since the previous sample."""
        link = self.links[other]
        seen = totals((await link.pc.getStats()).values())
        now = asyncio.get_running_loop().time()
        rtt_ms = seen.rtt_s * 1000 if seen.rtt_s is not None else None
        out = Measurements(rtt_ms=rtt_ms, video_frames=link.sink.frames["video"])
        if link.previous is not None:
            at, b, r, lo = link.previous
            out = Measurements(rtt_ms=rtt_ms, video_frames=out.video_frames,
                               loss_pct=loss_pct(seen.packets_received - r, seen.packets_lost - lo),
                               bitrate_kbps=(seen.bytes_received - b) * 8 / 1000 / max(now - at, 1e-3))
        link.previous = (now, seen.bytes_received, seen.packets_received, seen.packets_lost)
        return out

    async def inbound_packets(self, other: str) -> dict[str, int]:
        """RTP packets received so far from ``other``, per kind."""
        out = {"audio": 0, "video": 0}
        for s in (await self.links[other].pc.getStats()).values():
            if s.type == "inbound-rtp":
                out[s.kind] = out.get(s.kind, 0) + s.packetsReceived
        return out
