"""What the group SFU costs: forwarded streams per core, added latency, a 12-person session.

Requirement (issue 14): ``forwarded_streams_per_core`` >= 250 (one publisher, many
subscribers, ~30 fps video, per core of SFU CPU), ``added_latency_p50_ms`` <= 5 (through the
SFU minus a direct peer connection, same run), ``session12_cpu_pct`` <= 60 (12 people each
publishing 640x360 video and Opus, last-N 6: SFU CPU as % of one core) and
``join_to_first_frame_p95_s`` <= 1.5 for that session.

How it measures:

- The SFU (``server.media.sfu.Sfu``) runs in its own process (``--sfu-host``), driven over
  its stdin/stdout with JSON lines (create, join -> answer, CPU reading), so its CPU time
  (``time.process_time``, every thread) is its alone. ICE is pinned to 127.0.0.1.
- The participants are aiortc peers in this process. They do not encode or decode in real
  time (that would measure this 2-core box's VP8 encoder, not the SFU): each publisher
  replays VP8 frames encoded once at start by aiortc's own encoder (640x360 or 320x240 of
  random pixels at aiortc's default 500 kbit/s, a key frame first, so the SFU sees what a
  real encoder sends, and a key frame again whenever it is asked for one) and Opus frames of
  a tone, 20 ms each, with an audio level. Subscribers take packets through the adapter's
  receive tap (no decoding) and record when each frame's marker packet arrived.
- Latency: publisher A through the SFU to 2 subscribers, and publisher B straight to one
  peer (no SFU), at the same time: per frame, from the moment the publisher hands it to its
  RTP sender to the arrival of its last packet (matched by a hash of that payload).
  ``added_latency_p50_ms`` = p50 through the SFU - p50 direct.
- Streams per core: one publisher (30 fps), ``--subscribers`` subscribers with one video slot
  each; over ``--window-s`` the SFU's CPU seconds per wall second; streams / that fraction.
  ``delivered_fps_per_stream`` shows every stream really got ~30 fps.
- Session of 12: 12 participants join 0.25 s apart (each with 11 audio and 6 video slots);
  ``join_to_first_frame`` runs from creating the offer to the first complete video frame
  from anyone; the dominant speaker moves every 3 s (so last-N switches slots and asks for
  key frames during the window); then the SFU's CPU over ``--window-s``.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: server.*

from _common import emit, machine, percentile, rnd
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder
from av import AudioFrame, VideoFrame

from server.media.aiortc_adapter import Inlet, Outlet, RtpView, bundled_configuration
from server.media.ice import pin_host_addresses

LOOPBACK = ["127.0.0.1"]


def digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=12).digest()


# -- the SFU process ------------------------------------------------------------------------------

async def sfu_host() -> None:
    from server.media.sfu import Sfu, SlotsChanged

    pin_host_addresses(LOOPBACK)
    loop = asyncio.get_running_loop()
    out = sys.stdout

    def send(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    def on_event(event: object) -> None:
        if isinstance(event, SlotsChanged):
            send({"event": "slots", "pid": event.participant_id, "slots": event.slots})

    sfu = Sfu(capacity=10**7, on_event=on_event)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        cmd = json.loads(line)
        reply: dict[str, Any] = {"id": cmd["id"]}
        if cmd["op"] == "create":
            sfu.create_session(cmd["sid"], seats=cmd["seats"], last_n=cmd["last_n"])
        elif cmd["op"] == "join":
            reply["answer"] = await sfu.join(cmd["sid"], cmd["pid"], cmd["sdp"])
            reply["slots"] = sfu.slot_map(cmd["sid"], cmd["pid"])
        elif cmd["op"] == "cpu":
            reply.update(cpu=time.process_time(), wall=time.monotonic(), streams=sfu.forwarded_streams())
        elif cmd["op"] == "close_session":
            await sfu.close_session(cmd["sid"])
        send(reply)
    await sfu.close()


class SfuProcess:
    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.on_slots: Callable[[str, dict[str, str | None]], None] = lambda pid, slots: None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--sfu-host", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=1 << 22)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            msg = json.loads(line)
            if msg.get("event") == "slots":
                self.on_slots(msg["pid"], msg["slots"])
            elif msg.get("id") in self._waiting:
                self._waiting.pop(msg["id"]).set_result(msg)

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.stdin is not None
        self._next += 1
        fut = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = fut
        self.proc.stdin.write((json.dumps({"id": self._next, "op": op, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        return await asyncio.wait_for(fut, 60)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
        if self._reader is not None:
            self._reader.cancel()


# -- pre-encoded media ----------------------------------------------------------------------------

def encode_video(width: int, height: int, frames: int = 60, warmup: int = 60) -> list[list[bytes]]:
    """A key frame, then ``frames`` delta frames of a moving picture (after ``warmup`` frames
    that let the encoder's rate control settle at its 500 kbit/s)."""
    encoder = Vp8Encoder()
    out = []
    for i in range(frames + warmup):
        frame = VideoFrame(width=width, height=height, format="yuv420p")
        for n, plane in enumerate(frame.planes):
            if n == 0:  # moving bars with a noisy patch: changes every frame, compresses like a camera
                row = bytes((((x + 4 * i) // 16) % 2) * 160 + 40 for x in range(plane.line_size))
                luma = bytearray(row * (plane.buffer_size // plane.line_size))
                patch = plane.line_size * 8
                start = (i * 7 * plane.line_size) % (len(luma) - patch)
                luma[start:start + patch] = os.urandom(patch)
                plane.update(bytes(luma))
            else:
                plane.update(bytes([128]) * plane.buffer_size)
        frame.pts, frame.time_base = i * 3000, fractions.Fraction(1, 90000)
        payloads, _ = encoder.encode(frame, force_keyframe=(i == 0 or i == warmup))
        if i >= warmup:
            out.append(payloads)
    return out


def encode_audio(frames: int = 50) -> list[list[bytes]]:
    encoder = OpusEncoder()
    out: list[list[bytes]] = []
    n = 0
    while len(out) < frames:
        frame = AudioFrame(format="s16", layout="mono", samples=960)
        samples = bytearray()
        for i in range(960):
            samples += int(8000 * math.sin(2 * math.pi * 440 * (n + i) / 48000)).to_bytes(2, "little", signed=True)
        n += 960
        frame.planes[0].update(bytes(samples))
        frame.pts, frame.sample_rate, frame.time_base = n, 48000, fractions.Fraction(1, 48000)
        payloads, _ = encoder.encode(frame)
        if payloads:
            out.append(payloads)
    return out


# -- participants ---------------------------------------------------------------------------------

class Participant:
    """An aiortc peer that replays pre-encoded media and records what it receives."""

    def __init__(self, name: str, *, video: list[list[bytes]] | None, audio: list[list[bytes]] | None,
                 audio_slots: int = 0, video_slots: int = 0) -> None:
        self.name = name
        self.pc = RTCPeerConnection(bundled_configuration(()))
        self.video, self.audio = video, audio
        self.sent_at: dict[bytes, list[float]] = {}
        self.frames_in: dict[str, list[tuple[bytes, float]]] = {}
        self.first_frame_at: float | None = None
        self.level = 127
        self._keyframe = False
        self._outlets: dict[str, Outlet] = {}
        self._tasks: list[asyncio.Task[None]] = []
        kinds = []
        if audio is not None:
            kinds.append(("audio", "sendrecv" if audio_slots else "sendonly"))
        if video is not None:
            kinds.append(("video", "sendrecv" if video_slots else "sendonly"))
        for kind, direction in kinds:
            self.pc.addTransceiver(kind, direction=direction)
        for _ in range(audio_slots - (1 if audio is not None else 0)):
            self.pc.addTransceiver("audio", direction="recvonly")
        for _ in range(video_slots - (1 if video is not None else 0)):
            self.pc.addTransceiver("video", direction="recvonly")

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        loop = asyncio.get_running_loop()
        for t in self.pc.getTransceivers():
            if t.direction in ("sendrecv", "sendonly"):
                self._outlets[t.kind] = Outlet(t, self._asked_for_keyframe)
            if t.direction in ("sendrecv", "recvonly") and t.kind == "video":
                self.frames_in[t.mid] = record = []
                Inlet(t, self._recorder(record, loop))
            elif t.direction in ("sendrecv", "recvonly"):
                Inlet(t, lambda packet, level: None)
        return str(self.pc.localDescription.sdp)

    def _recorder(self, record: list[tuple[bytes, float]],
                  loop: asyncio.AbstractEventLoop) -> Callable[[RtpView, int | None], None]:
        def on_packet(packet: RtpView, level: int | None) -> None:
            if packet.marker:
                now = loop.time()
                record.append((digest(packet.payload), now))
                if self.first_frame_at is None:
                    self.first_frame_at = now
        return on_packet

    def _asked_for_keyframe(self) -> None:
        self._keyframe = True

    async def accept(self, answer: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.video is not None:
            self._tasks.append(loop.create_task(self._replay_video(self.video)))
        if self.audio is not None:
            self._tasks.append(loop.create_task(self._replay_audio(self.audio)))

    async def _replay_video(self, frames: list[list[bytes]]) -> None:
        loop = asyncio.get_running_loop()
        outlet = self._outlets["video"]
        i, ts, due = 0, 0, loop.time()
        while True:
            if self._keyframe or i == 0:
                self._keyframe, i = False, 0
            payloads = frames[i]
            self.sent_at.setdefault(digest(payloads[-1]), []).append(loop.time())
            outlet.push(payloads, ts, None)
            i = i + 1 if i + 1 < len(frames) else 1
            ts += 3000
            due += 1 / 30
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def _replay_audio(self, frames: list[list[bytes]]) -> None:
        loop = asyncio.get_running_loop()
        outlet = self._outlets["audio"]
        i, ts, due = 0, 0, loop.time()
        while True:
            outlet.push(frames[i], ts, self.level)
            i = (i + 1) % len(frames)
            ts += 960
            due += 0.02
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()


def latencies(publisher: Participant, subscriber: Participant, since: float) -> list[float]:
    out = []
    for record in subscriber.frames_in.values():
        for h, at in record:  # frames repeat every 2 s: the latest send of this frame before it arrived
            sent = max((t for t in publisher.sent_at.get(h, ()) if t <= at), default=None)
            if sent is not None and sent >= since:
                out.append(at - sent)
    return out


async def connect_direct(a: Participant, b: Participant) -> None:
    offer = await a.offer()
    await b.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    await b.pc.setLocalDescription(await b.pc.createAnswer())
    loop = asyncio.get_running_loop()
    for t in b.pc.getTransceivers():
        if t.kind == "video":
            b.frames_in[t.mid] = record = []
            Inlet(t, b._recorder(record, loop))
    await a.accept(b.pc.localDescription.sdp)


async def cpu_window(sfu: SfuProcess, seconds: float) -> tuple[float, int]:
    before = await sfu.call("cpu")
    await asyncio.sleep(seconds)
    after = await sfu.call("cpu")
    return (after["cpu"] - before["cpu"]) / (after["wall"] - before["wall"]), int(after["streams"])


async def join(sfu: SfuProcess, sid: str, p: Participant) -> None:
    answer = await sfu.call("join", sid=sid, pid=p.name, sdp=await p.offer())
    await p.accept(answer["answer"])
    p.start()


# -- phases ---------------------------------------------------------------------------------------

async def phase_latency(sfu: SfuProcess, video: list[list[bytes]], seconds: float) -> dict[str, Any]:
    await sfu.call("create", sid="latency", seats=3, last_n=1)
    pub = Participant("pub", video=video, audio=None)
    subs = [Participant(f"sub{i}", video=None, audio=None, video_slots=1) for i in range(2)]
    await join(sfu, "latency", pub)
    for s in subs:
        await join(sfu, "latency", s)
    direct_pub = Participant("direct-pub", video=video, audio=None)
    direct_sub = RTCPeerConnection(bundled_configuration(()))
    direct = Participant.__new__(Participant)
    direct.pc, direct.frames_in, direct.first_frame_at = direct_sub, {}, None
    await connect_direct(direct_pub, direct)
    direct_pub.start()
    loop = asyncio.get_running_loop()
    await asyncio.sleep(2.0)  # ICE, DTLS, first key frames
    since = loop.time()
    await asyncio.sleep(seconds)
    via = [x for s in subs for x in latencies(pub, s, since)]
    straight = latencies(direct_pub, direct, since)
    for p in (pub, *subs, direct_pub):
        await p.close()
    await direct_sub.close()
    await sfu.call("close_session", sid="latency")
    def ms(values: list[float], p: float) -> float:
        return rnd(percentile(values, p) * 1000)

    return {"added_latency_p50_ms": rnd((percentile(via, 50) - percentile(straight, 50)) * 1000),
            "through_sfu_p50_ms": ms(via, 50), "through_sfu_p95_ms": ms(via, 95),
            "direct_p50_ms": ms(straight, 50), "direct_p95_ms": ms(straight, 95),
            "frames": {"through_sfu": len(via), "direct": len(straight)}}


async def phase_fanout(sfu: SfuProcess, video: list[list[bytes]], subscribers: int, window_s: float) -> dict[str, Any]:
    await sfu.call("create", sid="fanout", seats=subscribers + 1, last_n=1)
    pub = Participant("pub", video=video, audio=None)
    await join(sfu, "fanout", pub)
    subs = [Participant(f"sub{i}", video=None, audio=None, video_slots=1) for i in range(subscribers)]
    for s in subs:
        await join(sfu, "fanout", s)
    loop = asyncio.get_running_loop()
    await asyncio.sleep(3.0)
    counted = {s.name: sum(len(r) for r in s.frames_in.values()) for s in subs}
    started = loop.time()
    fraction, streams = await cpu_window(sfu, window_s)
    elapsed = loop.time() - started
    fps = [(sum(len(r) for r in s.frames_in.values()) - counted[s.name]) / elapsed for s in subs]
    for p in (pub, *subs):
        await p.close()
    await sfu.call("close_session", sid="fanout")
    # Streams at 30 fps: what was delivered, so a generator that fell behind does not flatter the SFU.
    streams30 = sum(fps) / 30
    return {"forwarded_streams_per_core": rnd(streams30 / fraction, 1) if fraction > 0 else None,
            "subscribers": subscribers, "streams_forwarding": streams, "sfu_cpu_pct": rnd(fraction * 100, 1),
            "delivered_fps_per_stream": {"p50": rnd(percentile(fps, 50), 1), "min": rnd(min(fps), 1)}}


async def phase_session12(sfu: SfuProcess, video: list[list[bytes]], audio: list[list[bytes]],
                          window_s: float) -> dict[str, Any]:
    seats, last_n = 12, 6
    await sfu.call("create", sid="s12", seats=seats, last_n=last_n)
    people = [Participant(f"p{i}", video=video, audio=audio, audio_slots=seats - 1, video_slots=last_n)
              for i in range(seats)]
    loop = asyncio.get_running_loop()
    started: dict[str, float] = {}
    for p in people:
        started[p.name] = loop.time()
        await join(sfu, "s12", p)
        await asyncio.sleep(0.25)

    async def rotate_speaker() -> None:
        n = 0
        while True:
            for i, p in enumerate(people):
                p.level = 20 if i == n % seats else 127
            n += 1
            await asyncio.sleep(3.0)

    rotation = loop.create_task(rotate_speaker())
    await asyncio.sleep(3.0)
    fraction, streams = await cpu_window(sfu, window_s)
    firsts = [p.first_frame_at - started[p.name] for p in people if p.first_frame_at is not None]
    rotation.cancel()
    for p in people:
        await p.close()
    await sfu.call("close_session", sid="s12")
    return {"session12_cpu_pct": rnd(fraction * 100, 1), "streams_forwarding": streams,
            "join_to_first_frame_p95_s": rnd(percentile(firsts, 95)) if len(firsts) == seats else None,
            "join_to_first_frame_p50_s": rnd(percentile(firsts, 50)), "participants_with_video": len(firsts)}


async def main(args: argparse.Namespace) -> None:
    pin_host_addresses(LOOPBACK)
    began = time.monotonic()
    result: dict[str, Any] = {"machine": machine()}
    small, large = encode_video(320, 240), encode_video(640, 360)
    audio = encode_audio()
    result["media"] = {"video_320x240_bytes_per_frame": sum(len(p) for f in small[1:] for p in f) // (len(small) - 1),
                       "video_640x360_bytes_per_frame": sum(len(p) for f in large[1:] for p in f) // (len(large) - 1),
                       "video_640x360_packets_per_frame": rnd(sum(map(len, large[1:])) / (len(large) - 1), 2)}
    sfu = SfuProcess()
    await sfu.start()
    try:
        latency = await phase_latency(sfu, small, args.latency_s)
        fanout = await phase_fanout(sfu, small, args.subscribers, args.window_s)
        session = await phase_session12(sfu, large, audio, args.window_s)
    finally:
        await sfu.stop()
    result.update({
        "forwarded_streams_per_core": fanout["forwarded_streams_per_core"],
        "added_latency_p50_ms": latency["added_latency_p50_ms"],
        "session12_cpu_pct": session["session12_cpu_pct"],
        "join_to_first_frame_p95_s": session["join_to_first_frame_p95_s"],
        "latency": latency, "fanout": fanout, "session12": session,
        "elapsed_s": rnd(time.monotonic() - began, 1),
    })
    result["ok"] = bool((result["forwarded_streams_per_core"] or 0) >= 250 and result["added_latency_p50_ms"] <= 5
                        and result["session12_cpu_pct"] <= 60 and (result["join_to_first_frame_p95_s"] or 99) <= 1.5)
    emit(result)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sfu-host", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--subscribers", type=int, default=60)
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--latency-s", type=float, default=8.0)
    ns = parser.parse_args()
    asyncio.run(sfu_host() if ns.sfu_host else main(ns))
