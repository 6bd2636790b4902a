"""Headless group-session participants for SFU tests and the bench.

A ``Bot`` is one aiortc peer that publishes audio (silence, or a tone: it "speaks") and
video, and receives on ``audio_slots`` and ``video_slots`` m-lines. It records a hash of
every RTP payload it sends per kind and of every payload it receives per m-line (through the
adapter's probes), and counts the frames it decodes per m-line, so a test can check
what arrived from whom against the SFU's slot map.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import AudioStreamTrack, MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from server.media.aiortc_adapter import (
    bundled_configuration,
    tap_keyframe_requests,
    tap_received_packets,
    tap_sent_frames,
)
from tests.helpers.peers import SmallVideo


def digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=12).digest()


class ToneTrack(AudioStreamTrack):
    """A loud 440 Hz tone (about -9 dBov): a participant who is speaking."""

    def __init__(self) -> None:
        super().__init__()
        self._n = 0

    async def recv(self) -> AudioFrame:
        frame = await super().recv()
        rate = frame.sample_rate
        samples = frame.samples
        values = bytearray()
        for i in range(samples):
            v = int(12000 * math.sin(2 * math.pi * 440 * (self._n + i) / rate))
            values += v.to_bytes(2, "little", signed=True)
        self._n += samples
        out = AudioFrame(format="s16", layout="mono", samples=samples)
        out.planes[0].update(bytes(values))
        out.pts, out.sample_rate, out.time_base = frame.pts, rate, fractions.Fraction(1, rate)
        return out


@dataclass
class Received:
    hashes: list[bytes] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    markers: list[float] = field(default_factory=list)  # loop times of marker packets (video: frame ends)
    decoded: int = 0
    first_decoded_at: float | None = None


class Bot:
    def __init__(self, name: str, *, audio_slots: int, video_slots: int, video: bool = True, tone: bool = False,
                 width: int = 160, height: int = 120, noise: bool = True) -> None:
        self.name = name
        self.pc = RTCPeerConnection(bundled_configuration(()))
        self.sent: dict[str, set[bytes]] = {"audio": set(), "video": set()}
        self.sent_frames: list[tuple[bytes, float]] = []  # (hash of a video frame's last payload, loop time)
        self.keyframe_requests: list[float] = []
        self.received: dict[str, Received] = {}
        self.kind_of: dict[str, str] = {}
        self.slots: dict[str, str | None] = {}  # from the SFU: m-line id -> publisher
        self._tasks: list[asyncio.Task[None]] = []
        self._decode = True
        audio_track: MediaStreamTrack = ToneTrack() if tone else AudioStreamTrack()
        self.audio_sender = self.pc.addTrack(audio_track)
        tap_sent_frames(self.audio_sender, lambda p, t: self._sent("audio", p, t))
        self.video_sender = None
        if video:
            self.video_sender = self.pc.addTrack(SmallVideo(width, height, noise=noise))
            tap_sent_frames(self.video_sender, lambda p, t: self._sent("video", p, t))
            tap_keyframe_requests(self.video_sender, self.keyframe_requests.append)
        for _ in range(audio_slots - 1):
            self.pc.addTransceiver("audio", direction="recvonly")
        for _ in range(video_slots - (1 if video else 0)):
            self.pc.addTransceiver("video", direction="recvonly")
        self.pc.on("track", self._on_track)

    def _sent(self, kind: str, payloads: list[bytes], at: float) -> None:
        for p in payloads:
            self.sent[kind].add(digest(p))
        if kind == "video":
            self.sent_frames.append((digest(payloads[-1]), at))

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        for t in self.pc.getTransceivers():
            self.kind_of[t.mid] = t.kind
            record = self.received.setdefault(t.mid, Received())
            tap_received_packets(t.receiver, self._recorder(record))
        return str(self.pc.localDescription.sdp)

    @staticmethod
    def _recorder(record: Received) -> Callable[[int, bytes, bool, float], None]:
        def on_packet(ssrc: int, payload: bytes, marker: bool, at: float) -> None:
            record.hashes.append(digest(payload))
            record.times.append(at)
            if marker:
                record.markers.append(at)
        return on_packet

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

    def _on_track(self, track: MediaStreamTrack) -> None:
        mid = next(t.mid for t in self.pc.getTransceivers() if t.receiver.track is track)
        self._tasks.append(asyncio.get_running_loop().create_task(self._drain(mid, track)))

    async def _drain(self, mid: str, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        record = self.received.setdefault(mid, Received())
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                await track.recv()
                record.decoded += 1
                if record.first_decoded_at is None:
                    record.first_decoded_at = loop.time()

    def mids_of(self, publisher: str, kind: str) -> list[str]:
        return [mid for mid, who in self.slots.items() if who == publisher and self.kind_of.get(mid) == kind]

    def decoded_from(self, publisher: str) -> int:
        return sum(self.received[mid].decoded for mid in self.mids_of(publisher, "video"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()
