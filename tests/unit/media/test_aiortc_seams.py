"""The seams ``server/media/aiortc_adapter.py`` cuts into aiortc: if an upgrade moves one, these
fail naming the adapter, before any SFU test has to puzzle over silent media."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import aioice
import aiortc
import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection
from aiortc.codecs import HEADER_EXTENSIONS
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCEncodedFrame, RTCRtpSender
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtp import HeaderExtensions

from server.media import aiortc_adapter
from server.media.aiortc_adapter import AUDIO_LEVEL_URI, PINNED_VERSIONS, RECEIVER_JITTER_BUFFER

ADAPTER = "server/media/aiortc_adapter.py"
PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def seam(ok: bool, what: str) -> None:
    assert ok, f"{ADAPTER} relies on {what}; aiortc {aiortc.__version__} changed it: update the adapter"


def params(fn: Any) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_versions_are_exactly_the_pinned_ones() -> None:
    assert {"aiortc": aiortc.__version__, "aioice": aioice.__version__} == PINNED_VERSIONS, (
        f"{ADAPTER} was checked against {PINNED_VERSIONS}: re-check every seam below before moving the pin")
    text = PYPROJECT.read_text()
    for name, version in PINNED_VERSIONS.items():
        assert re.search(rf'"{name}=={re.escape(version)}"', text), f"pyproject.toml must pin {name}=={version}"
    aiortc_adapter.check_versions()


def test_receiver_seams() -> None:
    seam(params(RTCRtpReceiver._handle_rtp_packet) == ["self", "packet", "arrival_time_ms"],
         "RTCRtpReceiver._handle_rtp_packet(packet, arrival_time_ms)")
    source = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    seam("self.__jitter_buffer.add(packet)" in source and "pli_flag, encoded_frame" in source,
         "_handle_rtp_packet handing every packet to self.__jitter_buffer.add(packet) -> (pli_flag, frame)")
    seam("self.__decoder_queue.put" in source and "if encoded_frame is not None" in source,
         "_handle_rtp_packet decoding only the frames the jitter buffer returns")
    seam(inspect.iscoroutinefunction(RTCRtpReceiver._send_rtcp_pli)
         and params(RTCRtpReceiver._send_rtcp_pli) == ["self", "media_ssrc"],
         "async RTCRtpReceiver._send_rtcp_pli(media_ssrc)")
    seam("audio_level" in HeaderExtensions.__dataclass_fields__,
         "RtpPacket.extensions.audio_level")


def test_sender_seams() -> None:
    seam(inspect.iscoroutinefunction(RTCRtpSender._next_encoded_frame)
         and params(RTCRtpSender._next_encoded_frame) == ["self", "codec"],
         "async RTCRtpSender._next_encoded_frame(codec)")
    run_rtp = inspect.getsource(RTCRtpSender._run_rtp)
    seam("await self._next_encoded_frame(codec)" in run_rtp, "_run_rtp fetching frames from self._next_encoded_frame")
    seam("enc_frame.payloads" in run_rtp and "enc_frame.timestamp" in run_rtp and "enc_frame.audio_level" in run_rtp,
         "_run_rtp packetising RTCEncodedFrame.payloads/.timestamp/.audio_level")
    seam("if not self.__track" in run_rtp, "_run_rtp running only while the sender has a track")
    seam("self._send_keyframe()" in inspect.getsource(RTCRtpSender._handle_rtcp_packet),
         "_handle_rtcp_packet calling self._send_keyframe() on PLI and FIR")
    seam(params(RTCRtpSender._send_keyframe) == ["self"], "RTCRtpSender._send_keyframe()")
    seam(params(RTCEncodedFrame) == ["payloads", "timestamp", "audio_level"],
         "RTCEncodedFrame(payloads, timestamp, audio_level)")
    seam(params(RTCRtpSender.replaceTrack) == ["self", "track"], "RTCRtpSender.replaceTrack(track)")


async def test_instance_seams() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        seam(isinstance(transceiver, RTCRtpTransceiver), "RTCPeerConnection.addTransceiver")
        buffer = getattr(transceiver.receiver, RECEIVER_JITTER_BUFFER, None)
        seam(buffer is not None and params(buffer.add) == ["packet"], f"receiver.{RECEIVER_JITTER_BUFFER}.add(packet)")
        for name in ("_offerDirection", "_codecs"):
            seam(hasattr(transceiver, name), f"RTCRtpTransceiver.{name}")
        transceiver.direction = "sendrecv"
        seam(transceiver.direction == "sendrecv", "a settable RTCRtpTransceiver.direction")
    finally:
        await pc.close()


def test_audio_level_extension_is_negotiated() -> None:
    seam(any(ext.uri == AUDIO_LEVEL_URI for ext in HEADER_EXTENSIONS["audio"]),
         f"{AUDIO_LEVEL_URI} among aiortc's audio header extensions (RFC 6464)")
    assert aiortc_adapter.audio_level_negotiated_by_default()


def test_the_sfu_touches_aiortc_only_through_the_adapter() -> None:
    root = Path(__file__).resolve().parents[3] / "server" / "media"
    for name in ("sfu.py", "forwarding.py", "speaker.py"):
        text = (root / name).read_text()
        assert not re.search(r"^\s*(from|import) (aiortc|aioice|av)\b", text, re.M), f"{name} imports aiortc"


@pytest.mark.parametrize("kind", ["audio", "video"])
def test_forwarded_codecs_are_aiortc_codecs(kind: str) -> None:
    from aiortc.codecs import CODECS
    seam(any(c.mimeType.lower() == aiortc_adapter.FORWARDED[kind] for c in CODECS[kind]),
         f"{aiortc_adapter.FORWARDED[kind]} among aiortc's {kind} codecs")
