"""The device-test echo peer: a browser offers, the server answers and sends back what it gets.

Before joining a check-in a client tests camera, microphone and network against this peer
(issue 4, "Joining from a phone"). The server's aiortc peer loops every received audio and
video track back to the sender, so the browser sees and hears itself after a round trip, and
both sides measure: the server counts the frames it decoded (the camera and microphone work
and reach us), reads round-trip time from the RTCP receiver reports the browser sends about
the echoed streams, loss from its own inbound RTP statistics and the bitrate it received.
``server.media.quality`` turns that into "video" or "audio only".

Lifecycle of one peer:

    answered --ICE+DTLS up--> connected --lifetime over | closed by its owner | app stops--> closed
    answered --connection failed | lifetime over--> closed

At most ``max_peers`` peers exist at once (each decodes and re-encodes video, which costs
CPU); one more is refused with ``Unavailable`` until one closes. A user has at most one
peer: a new test closes their previous one. Every peer is closed after ``lifetime_s``
whatever it is doing, and all of them when the app stops (``EchoHost.close``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from av.frame import Frame
from av.packet import Packet

from server.errors import BadRequest, NotFound, Unavailable
from server.ids import new_token
from server.media.ice import IceServer, configuration
from server.media.quality import Measurements, loss_pct
from server.media.rtcstats import totals

log = logging.getLogger("tandem.media.echo")


class Loopback(MediaStreamTrack):
    """Hands every frame of a received track back out unchanged, counting them."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source
        self.frames = 0

    async def recv(self) -> Frame | Packet[Any]:
        frame = await self.source.recv()
        self.frames += 1
        return frame


@dataclass
class EchoPeer:
    id: str
    user_id: str
    pc: RTCPeerConnection
    started: float  # loop time when answered
    connected_at: float | None = None
    loops: list[Loopback] = field(default_factory=list)
    expiry: asyncio.TimerHandle | None = None

    def frames(self, kind: str) -> int:
        return sum(t.frames for t in self.loops if t.kind == kind)


@dataclass(frozen=True)
class EchoAnswer:
    id: str
    sdp: str
    lifetime_s: float


class EchoHost:
    def __init__(self, *, ice_servers: Sequence[IceServer] = (), max_peers: int = 8,
                 lifetime_s: float = 60.0) -> None:
        if max_peers < 1 or lifetime_s <= 0:
            raise ValueError("max_peers must be at least 1 and lifetime_s positive")
        self.ice_servers = tuple(ice_servers)
        self.max_peers = max_peers
        self.lifetime_s = lifetime_s
        self.peers: dict[str, EchoPeer] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._stopped = False

    async def answer(self, user_id: str, offer_sdp: str) -> EchoAnswer:
        """Answer a browser's offer with a peer that echoes its tracks back."""
        if self._stopped:
            raise Unavailable("The device test is shutting down")
        for peer in [p for p in self.peers.values() if p.user_id == user_id]:
            await self._close(peer)  # one test per person: a retry replaces the previous one
        if len(self.peers) >= self.max_peers:
            raise Unavailable("The device test is busy; please try again in a minute", reason="device_test.busy")
        loop = asyncio.get_running_loop()
        pc = RTCPeerConnection(configuration(self.ice_servers))
        peer = EchoPeer(id=new_token(16), user_id=user_id, pc=pc, started=loop.time())
        self.peers[peer.id] = peer  # counted from now on, while ICE gathers
        peer.expiry = loop.call_later(self.lifetime_s, self._close_soon, peer)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind in ("audio", "video"):
                loop_track = Loopback(track)
                peer.loops.append(loop_track)
                pc.addTrack(loop_track)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "connected" and peer.connected_at is None:
                peer.connected_at = loop.time()
            elif pc.connectionState in ("failed", "closed"):
                self._close_soon(peer)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            if not peer.loops:
                raise BadRequest("The offer carries no audio or video to test")
            await pc.setLocalDescription(await pc.createAnswer())
        except BadRequest:
            await self._close(peer)
            raise
        except Exception as err:  # aiortc's parse and negotiation errors, translated at the edge
            await self._close(peer)
            raise BadRequest(f"The offer could not be used: {type(err).__name__}") from None
        return EchoAnswer(id=peer.id, sdp=pc.localDescription.sdp, lifetime_s=self.lifetime_s)

    def peer_of(self, user_id: str, peer_id: str) -> EchoPeer:
        peer = self.peers.get(peer_id)
        if peer is None or peer.user_id != user_id:
            raise NotFound("No such device test (it may have ended)")
        return peer

    async def measure(self, user_id: str, peer_id: str) -> Measurements:
        """What the server has seen of this peer so far."""
        peer = self.peer_of(user_id, peer_id)
        seen = totals((await peer.pc.getStats()).values())
        bitrate = None
        if peer.connected_at is not None:
            elapsed = asyncio.get_running_loop().time() - peer.connected_at
            bitrate = seen.bytes_received * 8 / 1000 / elapsed if elapsed >= 1.0 else None
        return Measurements(
            rtt_ms=seen.rtt_s * 1000 if seen.rtt_s is not None else None,
            loss_pct=loss_pct(seen.packets_received, seen.packets_lost),
            bitrate_kbps=bitrate,
            audio_frames=peer.frames("audio") if any(t.kind == "audio" for t in peer.loops) else None,
            video_frames=peer.frames("video") if any(t.kind == "video" for t in peer.loops) else None,
        )

    async def end(self, user_id: str, peer_id: str) -> None:
        await self._close(self.peer_of(user_id, peer_id))

    async def close(self) -> None:
        """Close every peer (the app is stopping); no new ones are answered."""
        self._stopped = True
        await asyncio.gather(*(self._close(p) for p in list(self.peers.values())))
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _close_soon(self, peer: EchoPeer) -> None:
        if peer.id not in self.peers:
            return
        task = asyncio.get_running_loop().create_task(self._close(peer))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, peer: EchoPeer) -> None:
        if self.peers.pop(peer.id, None) is None:
            return
        if peer.expiry is not None:
            peer.expiry.cancel()
        with contextlib.suppress(Exception):
            await peer.pc.close()
