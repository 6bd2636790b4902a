"""The one module that reaches into aiortc's internals, so the SFU can forward without transcoding.

aiortc decodes everything it receives and encodes everything it sends, and has no public API
to do neither (its maintainer declined one). The SFU needs five things it does not offer:

1. **Encoded packets in.** ``RTCRtpReceiver._handle_rtp_packet`` keeps its statistics,
   RTCP receiver reports, NACKs, RTX unwrapping and REMB, then hands each packet to its
   jitter buffer (``_RTCRtpReceiver__jitter_buffer.add``), whose frames go to a decoder
   thread. ``Inlet`` swaps that jitter buffer for a tap with the same ``add(packet)``
   contract that passes every packet straight to the SFU and never returns a frame, so
   nothing is decoded and nothing waits: the stock buffer releases a video frame only when
   the next frame's first packet arrives and holds four audio packets (80 ms) first.
2. **Encoded frames out.** ``RTCRtpSender._run_rtp`` asks ``self._next_encoded_frame(codec)``
   for an ``RTCEncodedFrame`` (payloads, timestamp, audio level), then packetises, keeps the
   NACK history, sends and counts for its sender reports. ``Outlet`` replaces that method on
   the sender *instance* with one that returns frames the SFU pushed, so the encoder is never
   made; the sender's own RTP loop, retransmissions and RTCP stay as they are.
3. **Key frames asked of a publisher.** ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``.
4. **PLI/FIR from a subscriber.** ``RTCRtpSender._handle_rtcp_packet`` calls
   ``self._send_keyframe()`` for both; ``Outlet`` replaces it on the instance.
5. **Which way each m-line goes, and forwardable codecs only.** ``RTCRtpTransceiver._offerDirection``
   (what the offer lets us do on it) and ``_codecs`` (the negotiated list the answer and the
   sender use; we keep VP8 and Opus only, so every subscriber can take every publisher's
   payload unchanged).

The RFC 6464 audio level extension (``urn:ietf:params:rtp-hdrext:ssrc-audio-level``) is in
aiortc's default audio header extensions, so it is negotiated with browsers; the transport
parses it into ``packet.extensions.audio_level`` and a sender writes it from
``RTCEncodedFrame.audio_level``.

aiortc and aioice are pinned to exact versions in pyproject.toml.
``tests/unit/media/test_aiortc_seams.py`` checks the versions and every name and signature
used here, and fails naming this module when an upgrade moves one.

The probes at the end (``tap_sent_frames``, ``tap_received_packets``) are for tests and the
bench: they watch what a headless aiortc peer sends and receives, through the same internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aioice
import aiortc
from aiortc import MediaStreamTrack, RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import HEADER_EXTENSIONS
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCEncodedFrame, RTCRtpSender
from aiortc.rtcrtptransceiver import RTCRtpTransceiver

from server.media.ice import IceServer, configuration

log = logging.getLogger("tandem.media.aiortc_adapter")

PINNED_VERSIONS = {"aiortc": "1.16.0", "aioice": "0.13.0"}
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#: The one codec forwarded per kind (mime type, lower case); RTX rides along for video.
FORWARDED = {"audio": "audio/opus", "video": "video/vp8"}
# Names of aiortc internals, in one place for the seam tests.
RECEIVER_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"


def bundled_configuration(ice_servers: Sequence[IceServer] = ()) -> RTCConfiguration:
    """Every m-line on one transport (max-bundle), as browsers do.

    Needed, not only tidy: under aiortc's default ``balanced`` policy a second m-line of a kind
    shares the first one's transport, and when the BUNDLE group then moves the first one to
    the primary transport the second keeps the stopped one and never sends.
    """
    config = configuration(ice_servers)
    config.bundlePolicy = RTCBundlePolicy.MAX_BUNDLE
    return config


class NegotiationError(Exception):
    """The offer cannot be forwarded as it is (no VP8/Opus, nothing usable)."""


class RtpView(Protocol):
    """What the SFU reads of a received RTP packet (aiortc's ``RtpPacket``)."""

    sequence_number: int
    timestamp: int
    marker: int
    payload: bytes
    ssrc: int


PacketHandler = Callable[[RtpView, "int | None"], None]


def versions() -> dict[str, str]:
    return {"aiortc": aiortc.__version__, "aioice": aioice.__version__}


def check_versions() -> None:
    """Refuse to run the SFU on an aiortc/aioice this adapter was not checked against."""
    found = versions()
    if found != PINNED_VERSIONS:
        raise RuntimeError(f"server/media/aiortc_adapter.py was written for {PINNED_VERSIONS}, found {found}: "
                           "re-check its seams (tests/unit/media/test_aiortc_seams.py) before changing the pin")


def audio_level_negotiated_by_default() -> bool:
    return any(ext.uri == AUDIO_LEVEL_URI for ext in HEADER_EXTENSIONS["audio"])


class _Tap:
    """Stands in for a receiver's jitter buffer: every packet to the SFU, no frame to the decoder."""

    __slots__ = ("handler",)

    def __init__(self, handler: PacketHandler) -> None:
        self.handler = handler

    def add(self, packet: Any) -> tuple[bool, None]:
        level = packet.extensions.audio_level  # (voice activity, -dBov) or None
        self.handler(packet, level[1] if level is not None else None)
        return False, None


class Inlet:
    """A publisher's track as the SFU receives it: packets in, key-frame requests out."""

    def __init__(self, transceiver: RTCRtpTransceiver, handler: PacketHandler) -> None:
        self.kind: str = transceiver.kind
        self.mid: str = transceiver.mid or ""
        self._receiver: RTCRtpReceiver = transceiver.receiver
        self._handler = handler
        self.ssrc: int | None = None
        self.packets = 0
        self._tasks: set[asyncio.Task[None]] = set()
        setattr(self._receiver, RECEIVER_JITTER_BUFFER, _Tap(self._on_packet))

    def _on_packet(self, packet: RtpView, level: int | None) -> None:
        self.ssrc = packet.ssrc
        self.packets += 1
        self._handler(packet, level)

    def request_keyframe(self) -> bool:
        """Send a PLI to the publisher; False before its first packet (its SSRC is not known)."""
        if self.ssrc is None:
            return False
        task = asyncio.get_running_loop().create_task(self._receiver._send_rtcp_pli(self.ssrc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True


class _ForwardedTrack(MediaStreamTrack):
    """Gives a sender the track it needs to run; frames come from ``Outlet`` instead of ``recv``."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    async def recv(self) -> Any:
        raise MediaStreamError


class Outlet:
    """One outgoing slot on a subscriber's connection: the SFU pushes encoded frames into it."""

    def __init__(self, transceiver: RTCRtpTransceiver, on_keyframe_request: Callable[[], None], *,
                 max_queue: int = 32) -> None:
        self.kind: str = transceiver.kind
        self.mid: str = transceiver.mid or ""
        self.max_queue = max_queue
        self.frames_sent = 0
        self.dropped = 0  # times the queue overflowed
        self.closed = False
        self._frames: deque[RTCEncodedFrame] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        sender = transceiver.sender
        sender.replaceTrack(_ForwardedTrack(self.kind))
        transceiver.direction = "sendrecv"  # answered sendonly when the offer said recvonly
        # Instance attributes shadow the methods _run_rtp and _handle_rtcp_packet call.
        setattr(sender, "_next_encoded_frame", self._next_encoded_frame)  # noqa: B010 (shadows the method)
        setattr(sender, "_send_keyframe", on_keyframe_request)  # noqa: B010
        self._sender = sender

    def push(self, payloads: Sequence[bytes], timestamp: int, audio_level: int | None) -> bool:
        """Queue one frame; False if the queue was full: it is emptied and this frame dropped too.

        Video then needs a key frame: a frame queued after the dropped ones would refer to
        pictures the subscriber never gets, and its decoder would fail on it and on every
        frame after it until one.
        """
        if self.closed:
            return True
        if len(self._frames) >= self.max_queue:
            self._frames.clear()
            self.dropped += 1
            return False
        # RTCEncodedFrame.audio_level is in dBov (<= 0); the sender writes -audio_level on the wire.
        self._frames.append(RTCEncodedFrame(list(payloads), timestamp, -audio_level if audio_level is not None
                                            else None))  # type: ignore[arg-type]
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    @property
    def backlog(self) -> int:
        """Frames queued and not yet handed to the sender."""
        return len(self._frames)

    async def _next_encoded_frame(self, codec: Any) -> RTCEncodedFrame:
        while not self._frames:
            self._waiter = self._loop.create_future()
            await self._waiter
        self.frames_sent += 1
        return self._frames.popleft()

    def close(self) -> None:
        self.closed = True
        self._frames.clear()


@dataclass(frozen=True)
class MLine:
    """One audio or video m-line of an offer, as the SFU may use it."""

    mid: str
    kind: str
    publishes: bool  # the offerer sends on it: an Inlet
    subscribes: bool  # the offerer receives on it: an Outlet


class MediaPeer:
    """One participant's connection to the SFU: answer its offer, then inlets and outlets."""

    def __init__(self, ice_servers: Sequence[IceServer] = ()) -> None:
        self.pc = RTCPeerConnection(bundled_configuration(ice_servers))
        self._transceivers: dict[str, RTCRtpTransceiver] = {}

    def on_state(self, callback: Callable[[str], None]) -> None:
        """``callback(connectionState)`` on every change: connecting, connected, failed, closed."""

        @self.pc.on("connectionstatechange")
        def _changed() -> None:
            callback(self.pc.connectionState)

    async def set_offer(self, offer_sdp: str) -> list[MLine]:
        """Apply the offer; keep VP8/Opus only on every m-line; say what each m-line can do."""
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as err:  # aiortc raises ValueError, OperationError, ... on a bad offer
            raise NegotiationError(f"the offer could not be used: {type(err).__name__}") from None
        lines = []
        for transceiver in self.pc.getTransceivers():
            if transceiver.kind not in FORWARDED or transceiver.mid is None:
                continue
            wanted = FORWARDED[transceiver.kind]
            main = [c for c in transceiver._codecs if c.mimeType.lower() == wanted]
            if not main:
                raise NegotiationError(f"a {transceiver.kind} m-line offers no {wanted.split('/')[1]}")
            rtx = [c for c in transceiver._codecs if c.mimeType.lower().endswith("/rtx")
                   and c.parameters.get("apt") == main[0].payloadType]
            transceiver._codecs = [main[0], *rtx]
            offered = transceiver._offerDirection or "inactive"  # our side's view: what we may do
            self._transceivers[transceiver.mid] = transceiver
            lines.append(MLine(mid=transceiver.mid, kind=transceiver.kind,
                               publishes=offered in ("recvonly", "sendrecv"),
                               subscribes=offered in ("sendonly", "sendrecv")))
        if not lines:
            raise NegotiationError("the offer has no audio or video")
        return lines

    def inlet(self, mid: str, handler: PacketHandler) -> Inlet:
        return Inlet(self._transceivers[mid], handler)

    def outlet(self, mid: str, on_keyframe_request: Callable[[], None]) -> Outlet:
        return Outlet(self._transceivers[mid], on_keyframe_request)

    async def answer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    @property
    def state(self) -> str:
        return str(self.pc.connectionState)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.pc.close()


# -- probes for tests and the bench: what a headless aiortc peer sends and receives -----------------

def tap_sent_frames(sender: RTCRtpSender, record: Callable[[list[bytes], float], None]) -> None:
    """Call ``record(payloads, loop_time)`` for every frame ``sender`` is about to packetise."""
    original = sender._next_encoded_frame
    loop = asyncio.get_running_loop()

    async def watched(codec: Any) -> RTCEncodedFrame | None:
        frame = await original(codec)
        if frame is not None:
            record(frame.payloads, loop.time())
        return frame

    setattr(sender, "_next_encoded_frame", watched)  # noqa: B010 (shadows the method)


def tap_received_packets(receiver: RTCRtpReceiver, record: Callable[[int, bytes, bool, float], None]) -> None:
    """Call ``record(ssrc, payload, marker, loop_time)`` for every RTP packet ``receiver`` accepts."""
    original = receiver._handle_rtp_packet
    loop = asyncio.get_running_loop()

    async def watched(packet: Any, arrival_time_ms: int) -> None:
        record(packet.ssrc, packet.payload, bool(packet.marker), loop.time())
        await original(packet, arrival_time_ms=arrival_time_ms)

    setattr(receiver, "_handle_rtp_packet", watched)  # noqa: B010 (shadows the method)


def tap_keyframe_requests(sender: RTCRtpSender, record: Callable[[float], None]) -> None:
    """Call ``record(loop_time)`` whenever the peer behind ``sender`` is asked for a key frame."""
    original = sender._send_keyframe
    loop = asyncio.get_running_loop()

    def watched() -> None:
        record(loop.time())
        original()

    setattr(sender, "_send_keyframe", watched)  # noqa: B010 (shadows the method)
