"""The device test over HTTP: offer to the echo peer, ask how it went, end it.

The browser waits for ICE gathering to finish and sends its whole offer (no trickle: the
echo peer is one round trip away). ``assessment`` combines what the server measured with
what the browser reports from its own ``getStats`` and answers "video" or "audio only".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from aiohttp import web
from msgspec import Meta, Struct

from server.errors import BadRequest
from server.media import quality
from server.media.echo import EchoHost
from server.media.ice import pin_host_addresses
from server.web import schemas as s
from server.web.routing import Call, Permission, Registry

ECHO = web.AppKey("echo", EchoHost)
# Anyone signed in may test their own camera, microphone and network; nothing of a case is involved.
# A session opened from a check-in link may too: the test is a step of joining that check-in.
DEVICE_TEST = Permission("test their camera, microphone and network", checkin_session=True,
                         group_session=True)

Sdp = Annotated[str, Meta(min_length=10, max_length=32_000)]
EchoId = Annotated[str, Meta(min_length=1, max_length=64)]
Count = Annotated[int, Meta(ge=0, le=10**9)]
EXAMPLE_OFFER = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


class EchoOffer(s.Strict, kw_only=True):
    type: Literal["offer"]
    sdp: Sdp


class EchoAnswerOut(Struct, kw_only=True):
    id: str
    type: Literal["answer"]
    sdp: str
    lifetime_s: float


class BrowserMeasurements(s.Strict, kw_only=True):
    """What the browser's ``getStats`` showed of the echoed streams."""

    rtt_ms: Annotated[float, Meta(ge=0, le=600_000)] | None = None
    loss_pct: Annotated[float, Meta(ge=0, le=100)] | None = None
    bitrate_kbps: Annotated[float, Meta(ge=0, le=10**7)] | None = None
    audio_frames: Count | None = None
    video_frames: Count | None = None


class MeasurementsOut(Struct, kw_only=True):
    rtt_ms: float | None
    loss_pct: float | None
    bitrate_kbps: float | None
    audio_frames: int | None
    video_frames: int | None


class AssessmentOut(Struct, kw_only=True):
    mode: Literal["video", "audio_only"]
    reasons: list[str]
    server: MeasurementsOut
    browser: MeasurementsOut


async def background(app: web.Application) -> AsyncIterator[None]:
    """Echo peers live as long as the app; every one still open is closed when it stops."""
    yield
    await app[ECHO].close()


def make_host(*, host_addresses: tuple[str, ...], max_peers: int, lifetime_s: float) -> EchoHost:
    pin_host_addresses(host_addresses)
    return EchoHost(ice_servers=(), max_peers=max_peers, lifetime_s=lifetime_s)


def _out(m: quality.Measurements) -> MeasurementsOut:
    return MeasurementsOut(rtt_ms=m.rtt_ms, loss_pct=m.loss_pct, bitrate_kbps=m.bitrate_kbps,
                           audio_frames=m.audio_frames, video_frames=m.video_frames)


def register(api: Registry) -> None:
    @api.route("POST", "/api/media/echo", permission=DEVICE_TEST, body=EchoOffer, response=EchoAnswerOut,
               status=201, tag="media", summary="Start a device test: the server answers and echoes audio and video",
               example={"type": "offer", "sdp": EXAMPLE_OFFER})
    async def offer(call: Call[EchoOffer]) -> EchoAnswerOut:
        made = await call.request.app[ECHO].answer(call.actor.user_id, call.body.sdp)
        return EchoAnswerOut(id=made.id, type="answer", sdp=made.sdp, lifetime_s=made.lifetime_s)

    @api.route("POST", "/api/media/echo/{echo_id}/assessment", permission=DEVICE_TEST, body=BrowserMeasurements,
               response=AssessmentOut, tag="media",
               summary="How the device test went: the server's and the browser's measurements, video or audio only",
               example={"rtt_ms": 20.0, "loss_pct": 0.0, "bitrate_kbps": 800.0, "video_frames": 30})
    async def assessment(call: Call[BrowserMeasurements]) -> AssessmentOut:
        echo_id = _echo_id(call)
        seen = await call.request.app[ECHO].measure(call.actor.user_id, echo_id)
        b = call.body
        browser = quality.Measurements(rtt_ms=b.rtt_ms, loss_pct=b.loss_pct, bitrate_kbps=b.bitrate_kbps,
                                       audio_frames=b.audio_frames, video_frames=b.video_frames)
        verdict = quality.recommend(seen.worst(browser))
        return AssessmentOut(mode=verdict.mode.value, reasons=list(verdict.reasons), server=_out(seen),
                             browser=_out(browser))

    @api.route("DELETE", "/api/media/echo/{echo_id}", permission=DEVICE_TEST, tag="media",
               summary="End a device test now (it also ends by itself after its lifetime)")
    async def end(call: Call[None]) -> None:
        await call.request.app[ECHO].end(call.actor.user_id, _echo_id(call))


def _echo_id(call: Call[Any]) -> str:
    echo_id = call.param("echo_id")
    if len(echo_id) > 64:
        raise BadRequest("echo_id is too long")
    return echo_id
