"""Call-quality advice over /ws: after each kept ``stats`` sample, the participant who sent it
gets a ``quality`` frame when the recommendation for their link changes (video -> audio
only, or back). Advice only: the browser offers the switch, the person decides, and the
switch itself is a renegotiation between the peers (docs/protocol.md, ``media``)."""

from __future__ import annotations

from server.media.quality import Advisor, Measurements, QualityError
from server.signalling import protocol as p
from server.web.frames import Outbound
from server.web.gateway import Connection, Gateway
from server.web.ws_signalling import Conn, Signalling


class Quality(Outbound, tag="quality"):
    room: str
    mode: str  # video | audio_only
    reasons: tuple[str, ...] = ()  # rtt_high, loss_high, bitrate_low, no_video (server/media/quality.py)


def register(gateway: Gateway, signalling: Signalling, advisor: Advisor) -> None:
    async def on_stats(conn: Conn, frame: p.Stats) -> None:
        if frame.audio_only:
            return  # already voice only: no video to advise about
        try:
            m = Measurements(rtt_ms=frame.rtt_ms, loss_pct=frame.loss_pct, bitrate_kbps=frame.bitrate_kbps,
                             video_frames=frame.frames_decoded)
        except QualityError:
            return  # the frame schema already bounds these; nothing to advise on otherwise
        verdict = advisor.sample((conn, frame.room), m)
        if verdict is not None:
            conn.send(Quality(room=frame.room, mode=verdict.mode.value, reasons=verdict.reasons))

    async def on_close(conn: Connection) -> None:
        for room in signalling.of_conn.get(conn, set()):
            advisor.forget((conn, room))

    signalling.stats_hooks.append(on_stats)
    gateway.close_hooks.insert(0, on_close)  # before signalling forgets the connection's rooms
