"""Totals of one aiortc peer connection's ``getStats()`` report, as quality measurements need them.

Takes the report's values (aiortc's ``RTC*Stats`` dataclasses, read by attribute) and imports
nothing of aiortc, so the echo peer and the headless test peers read statistics the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Totals:
    rtt_s: float | None  # the longest round trip an RTCP receiver report let a sender compute
    packets_received: int  # inbound RTP, every stream
    packets_lost: int
    bytes_received: int  # on the transport (media and RTCP)


def totals(report: Iterable[Any]) -> Totals:
    rtts: list[float] = []
    received = lost = bytes_in = 0
    for stats in report:
        if stats.type == "inbound-rtp":
            received += stats.packetsReceived
            lost += stats.packetsLost
        elif stats.type == "remote-inbound-rtp" and stats.roundTripTime is not None:
            rtts.append(stats.roundTripTime)
        elif stats.type == "transport":
            bytes_in = max(bytes_in, stats.bytesReceived)
    return Totals(rtt_s=max(rtts) if rtts else None, packets_received=received, packets_lost=lost,
                  bytes_received=bytes_in)
