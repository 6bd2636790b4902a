"""Headless aiortc peers for media tests and the bench: a small changing picture, and a
sink that counts the frames a peer decodes of each remote track."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import MediaStreamTrack, RTCPeerConnection, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from server.media.ice import IceServer, configuration


class SmallVideo(VideoStreamTrack):
    """A small picture that changes every frame. ``noise``: random pixels, so the encoder has
    work and the link carries a realistic bitrate; otherwise a cheap moving stripe (the bench,
    where 20 peers share one process)."""

    def __init__(self, width: int = 160, height: int = 120, *, noise: bool = True) -> None:
        super().__init__()
        self.width, self.height, self.noise = width, height, noise
        self._n = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        self._n += 1
        for i, plane in enumerate(frame.planes):
            if self.noise:
                plane.update(os.urandom(plane.buffer_size))
            elif i == 0:
                row = self._n % (plane.buffer_size // plane.line_size)
                luma = bytearray(b"\x40" * plane.buffer_size)
                luma[row * plane.line_size:(row + 8) * plane.line_size] = b"\xe0" * (8 * plane.line_size)
                plane.update(bytes(luma[:plane.buffer_size]))
            else:
                plane.update(b"\x80" * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


@dataclass
class Sink:
    """Counts decoded frames per kind; ``first`` holds the loop time of the first video frame."""

    frames: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    first: dict[str, float] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def consume(self, track: MediaStreamTrack) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(self._drain(track)))

    async def _drain(self, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                await track.recv()
                self.frames[track.kind] = self.frames.get(track.kind, 0) + 1
                self.first.setdefault(track.kind, loop.time())

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def peer(ice_servers: tuple[IceServer, ...] = ()) -> tuple[RTCPeerConnection, Sink]:
    """A peer with explicit ICE servers whose remote tracks are counted by its sink."""
    pc = RTCPeerConnection(configuration(ice_servers))
    sink = Sink()
    pc.on("track", sink.consume)
    return pc, sink


async def until(predicate: Callable[[], bool], within_s: float = 20.0, what: str = "condition") -> None:
    """Wait (polling) until ``predicate()`` holds; fail naming ``what`` after ``within_s`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
