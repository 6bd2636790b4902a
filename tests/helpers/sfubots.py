"""Headless group-session participants for SFU tests and the bench.

A ``Bot`` is one aiortc peer that publishes audio (silence, or a tone: it "speaks") and
video, and receives on ``audio_slots`` and ``video_slots`` m-lines. It records a hash of
every RTP payload it sends per kind and of every payload it receives per m-line (through the
adapter's probes), and decodes what it receives.

What arrived from whom is told by content, never by the SFU's slot labels: a slot's label
changes when the SFU switches it, while the previous publisher's frames may still be on the
wire and the new one's key frame is not there yet. So:

- a received payload is **from** a publisher when that publisher sent those exact bytes
  (``payloads_from``, ``times_from``; give bots of a session tones of their own pitch when
  audio must be told apart, as silence encodes to the same Opus bytes for everyone);
- every bot paints its own **mark** (a 7-bit id and a parity bit, as 16x16 black or white
  blocks along the top of each picture, which VP8 keeps through any quantiser) into its video,
  and a decoded frame is counted for the publisher whose mark it shows (``decoded_from``),
  per m-line and with its loop time.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import hashlib
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiortc import AudioStreamTrack, MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import VIDEO_CLOCK_RATE, VIDEO_TIME_BASE, MediaStreamError
from av import AudioFrame, VideoFrame

from server.media.aiortc_adapter import (
    bundled_configuration,
    tap_keyframe_requests,
    tap_received_packets,
    tap_sent_frames,
)
from server.media.forwarding import vp8_is_keyframe
from tests.helpers.peers import SmallVideo

MARK_BLOCK = 16  # one macroblock per bit
MARK_BITS = 8  # 7 bits of id, then even parity
MARK_IDS = range(1, 1 << (MARK_BITS - 1))
_marked: dict[int, Bot] = {}  # live bots by their mark


def digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=12).digest()


def _mark_bits(mark: int) -> list[bool]:
    bits = [bool(mark >> k & 1) for k in range(MARK_BITS - 1)]
    return [*bits, sum(bits) % 2 == 1]


def read_mark(frame: VideoFrame) -> int | None:
    """The mark a decoded picture shows, or None (no mark, or a damaged one)."""
    if frame.width < MARK_BLOCK * MARK_BITS or frame.height < MARK_BLOCK:
        return None
    plane = frame.planes[0]
    row = bytes(plane)[(MARK_BLOCK // 2) * plane.line_size:][:frame.width]
    bits = []
    for k in range(MARK_BITS):
        luma = row[k * MARK_BLOCK + MARK_BLOCK // 2]
        if 80 <= luma <= 176:
            return None
        bits.append(luma > 128)
    mark = sum(1 << k for k, bit in enumerate(bits[:-1]) if bit)
    return mark if _mark_bits(mark) == bits and mark in MARK_IDS else None


class MarkedVideo(SmallVideo):
    """``SmallVideo`` with its publisher's mark painted along the top. Without ``noise`` (cheap
    to encode, a low bitrate: many bots on a loaded machine), 16 random pixels along the bottom
    still make every frame, and so every payload, this publisher's own."""

    def __init__(self, mark: int | None, width: int, height: int, *, noise: bool, fps: int = 30) -> None:
        super().__init__(width, height, noise=noise)
        self.mark = mark if width >= MARK_BLOCK * MARK_BITS and height >= MARK_BLOCK else None
        self.fps = fps
        self._band: bytes | None = None
        self._started: float | None = None
        self._frames = 0

    async def next_timestamp(self) -> tuple[int, fractions.Fraction]:
        """``fps`` frames a second on the 90 kHz video clock."""
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._started is None:
            self._started = loop.time()
        else:
            self._frames += 1
            await asyncio.sleep(self._started + self._frames / self.fps - loop.time())
        return self._frames * (VIDEO_CLOCK_RATE // self.fps), VIDEO_TIME_BASE

    async def recv(self) -> VideoFrame:
        frame = await super().recv()
        if self.mark is None:
            return frame
        plane = frame.planes[0]
        if self._band is None:
            line = b"".join((b"\xe0" if bit else b"\x20") * MARK_BLOCK for bit in _mark_bits(self.mark))
            line = line.ljust(plane.line_size, b"\x80")[:plane.line_size]
            self._band = line * MARK_BLOCK
        rest = bytes(plane)[len(self._band):]
        if not self.noise:
            rest = rest[:-plane.line_size] + os.urandom(16) + rest[-plane.line_size + 16:]
        plane.update(self._band + rest)
        return frame


class ToneTrack(AudioStreamTrack):
    """A loud tone (about -9 dBov), 440 Hz unless told: a participant who is speaking. Tones of
    different (whole) pitches encode to different Opus packets, and each frame starts with one
    random sample, so no two packets of one speaker are alike either."""

    def __init__(self, hz: int = 440) -> None:
        super().__init__()
        self._n = 0
        self._second: bytes | None = None  # one second of samples: a whole-Hz tone repeats
        self.hz = hz

    def _samples(self, rate: int) -> bytes:
        if self._second is None:
            self._second = b"".join(int(12000 * math.sin(2 * math.pi * self.hz * i / rate)).to_bytes(
                2, "little", signed=True) for i in range(rate))
        return self._second

    async def recv(self) -> AudioFrame:
        frame = await super().recv()
        rate = frame.sample_rate
        samples = frame.samples
        second = self._samples(rate)
        start = (self._n % rate) * 2
        values = os.urandom(2) + (second[start:] + second)[2:samples * 2]
        self._n += samples
        out = AudioFrame(format="s16", layout="mono", samples=samples)
        out.planes[0].update(values)
        out.pts, out.sample_rate, out.time_base = frame.pts, rate, fractions.Fraction(1, rate)
        return out


class Quiet(MediaStreamTrack):
    """An audio track that sends nothing: someone who says nothing (a browser with discontinuous
    transmission sends next to nothing in silence). Its m-line still publishes."""

    kind = "audio"

    async def recv(self) -> AudioFrame:
        await asyncio.Event().wait()
        raise MediaStreamError


@dataclass
class Received:
    hashes: list[bytes] = field(default_factory=list)
    #: the same packets' payloads without their first two bytes: what a retransmission (RFC 4588
    #: RTX: the original sequence number, then the original payload) carries
    unwrapped: list[bytes] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    markers: list[float] = field(default_factory=list)  # loop times of marker packets (video: frame ends)
    decoded: int = 0
    first_decoded_at: float | None = None
    #: every decoded video frame: (loop time, the mark it shows or None)
    decodes: list[tuple[float, int | None]] = field(default_factory=list)


class Bot:
    def __init__(self, name: str, *, audio_slots: int, video_slots: int, video: bool = True, tone: bool = False,
                 width: int = 160, height: int = 120, noise: bool = True, fps: int = 30) -> None:
        self.name = name
        self.pc = RTCPeerConnection(bundled_configuration(()))
        self.sent: dict[str, set[bytes]] = {"audio": set(), "video": set()}
        self.sent_frames: list[tuple[bytes, float]] = []  # (hash of a video frame's last payload, loop time)
        self.sent_key: set[bytes] = set()  # hashes of the payloads of the key frames it sent
        self.sent_at: dict[bytes, float] = {}  # hash of a payload -> loop time it was first sent
        self.keyframe_requests: list[float] = []
        self.received: dict[str, Received] = {}
        self.kind_of: dict[str, str] = {}
        self.slots: dict[str, str | None] = {}  # from the SFU: m-line id -> publisher
        self.slot_since: dict[str, float] = {}  # m-line id -> loop time its publisher last changed
        self._tasks: list[asyncio.Task[None]] = []
        self.mark: int | None = None
        audio_track: MediaStreamTrack = ToneTrack() if tone else AudioStreamTrack()
        self.audio_sender = self.pc.addTrack(audio_track)
        tap_sent_frames(self.audio_sender, lambda p, t: self._sent("audio", p, t))
        self.video_sender = None
        if video:
            self.mark = next((m for m in MARK_IDS if m not in _marked), None)
            track = MarkedVideo(self.mark, width, height, noise=noise, fps=fps)
            self.mark = track.mark
            if self.mark is not None:
                _marked[self.mark] = self
            self.video_sender = self.pc.addTrack(track)
            tap_sent_frames(self.video_sender, lambda p, t: self._sent("video", p, t))
            tap_keyframe_requests(self.video_sender, self.keyframe_requests.append)
        for _ in range(audio_slots - 1):
            self.pc.addTransceiver("audio", direction="recvonly")
        for _ in range(video_slots - (1 if video else 0)):
            self.pc.addTransceiver("video", direction="recvonly")
        self.pc.on("track", self._on_track)

    def _sent(self, kind: str, payloads: list[bytes], at: float) -> None:
        for p in payloads:
            h = digest(p)
            self.sent[kind].add(h)
            self.sent_at.setdefault(h, at)
        if kind == "video":
            self.sent_frames.append((digest(payloads[-1]), at))
            if payloads and vp8_is_keyframe(payloads[0]):
                self.sent_key.update(digest(p) for p in payloads)

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
            record.unwrapped.append(digest(payload[2:]))
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
                frame = await track.recv()
                record.decoded += 1
                if record.first_decoded_at is None:
                    record.first_decoded_at = loop.time()
                if isinstance(frame, VideoFrame):
                    record.decodes.append((loop.time(), read_mark(frame)))

    def set_slots(self, slots: dict[str, str | None]) -> None:
        """The SFU's slot map (``group.slots``); remembers when each m-line's publisher changed."""
        now = asyncio.get_running_loop().time()
        for mid, who in slots.items():
            if mid not in self.slot_since or self.slots.get(mid) != who:
                self.slot_since[mid] = now
        self.slots = dict(slots)

    # -- what arrived from whom, by content -----------------------------------------------------

    def mids(self, kind: str) -> list[str]:
        return [mid for mid, k in self.kind_of.items() if k == kind]

    def mids_of(self, publisher: str, kind: str) -> list[str]:
        """The m-lines the SFU's slot map currently labels with ``publisher`` (labels run ahead
        of the media after a switch: count media with the methods below)."""
        return [mid for mid, who in self.slots.items() if who == publisher and self.kind_of.get(mid) == kind]

    def decoded_from(self, publisher: str | Bot, *, mid: str | None = None, after: float | None = None) -> int:
        """Decoded video frames showing ``publisher``'s mark (on ``mid``, after loop time ``after``)."""
        mark = publisher.mark if isinstance(publisher, Bot) else _mark_of(publisher)
        if mark is None:
            return 0
        return sum(1 for m in ([mid] if mid is not None else self.mids("video"))
                   for t, shown in self.received[m].decodes if shown == mark and (after is None or t > after))

    def decoded_marks(self, mid: str, *, after: float | None = None) -> list[int | None]:
        return [shown for t, shown in self.received[mid].decodes if after is None or t > after]

    def _from(self, publisher: Bot, kind: str, mid: str | None) -> Iterable[tuple[bytes, float]]:
        """(hash, arrival time) of each packet on ``mid`` (or every ``kind`` m-line) carrying a
        payload ``publisher`` sent, sent first or retransmitted."""
        theirs = publisher.sent[kind]
        for m in ([mid] if mid is not None else self.mids(kind)):
            record = self.received[m]
            for h, u, t in zip(record.hashes, record.unwrapped, record.times, strict=False):
                if h in theirs:
                    yield h, t
                elif u in theirs:
                    yield u, t

    def payloads_from(self, publisher: Bot, kind: str, *, mid: str | None = None, after: float | None = None,
                      sent_after: float | None = None) -> list[bytes]:
        """Hashes of the ``kind`` payloads received (on ``mid``) that ``publisher`` sent; only those
        that arrived after loop time ``after``, or that it sent after ``sent_after``."""
        return [h for h, t in self._from(publisher, kind, mid) if (after is None or t > after)
                and (sent_after is None or publisher.sent_at[h] > sent_after)]

    def times_from(self, publisher: Bot, kind: str, *, mid: str | None = None,
                   sent_after: float | None = None) -> list[float]:
        """Loop times at which payloads ``publisher`` sent (after ``sent_after``) arrived here."""
        return [t for h, t in self._from(publisher, kind, mid)
                if sent_after is None or publisher.sent_at[h] > sent_after]

    def strangers(self, kind: str, publishers: Iterable[Bot]) -> list[bytes]:
        """Received ``kind`` payloads that none of ``publishers`` sent, nor retransmitted: the SFU
        transcoded or changed them."""
        known = set().union(*(p.sent[kind] for p in publishers))
        return [h for m in self.mids(kind) for h, u in zip(self.received[m].hashes, self.received[m].unwrapped,
                                                            strict=False) if h not in known and u not in known]

    async def close(self) -> None:
        if self.mark is not None and _marked.get(self.mark) is self:
            del _marked[self.mark]
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()


def _mark_of(name: str) -> int | None:
    return next((m for m, bot in _marked.items() if bot.name == name), None)
