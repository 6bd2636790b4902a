"""iCalendar (RFC 5545) rendering of appointments (pure).

Text values are escaped (RFC 5545 §3.3.11: backslash, semicolon, comma, newline),
content lines are folded at 75 octets without splitting a UTF-8 character (§3.1), and
lines end with CRLF. Times are UTC ("Z" form, §3.3.5). Summaries are neutral on
purpose: a calendar is read on a lock screen and synced to other services, so it says
"Appointment (video)" and never names a client, an officer's case or an order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

PRODID = "-//Tandem//Probation appointments//EN"
FOLD_AT = 75  # octets, excluding the CRLF


@dataclass(frozen=True)
class Event:
    uid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    stamp: datetime
    location: str | None = None
    description: str | None = None
    cancelled: bool = False
    sequence: int = 0


def escape_text(value: str) -> str:
    out = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return out.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Split a content line into 75-octet pieces; continuation lines start with a space."""
    raw = line.encode()
    if len(raw) <= FOLD_AT:
        return line
    pieces: list[str] = []
    current = b""
    limit = FOLD_AT
    for ch in line:
        enc = ch.encode()
        if len(current) + len(enc) > limit:
            pieces.append(current.decode())
            current = b""
            limit = FOLD_AT - 1  # the leading space counts
        current += enc
    pieces.append(current.decode())
    return "\r\n ".join(pieces)


def stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("iCalendar times here are UTC; got a naive datetime")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _event_lines(e: Event) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{escape_text(e.uid)}",
        f"DTSTAMP:{stamp(e.stamp)}",
        f"DTSTART:{stamp(e.starts_at)}",
        f"DTEND:{stamp(e.ends_at)}",
        f"SEQUENCE:{e.sequence}",
        f"SUMMARY:{escape_text(e.summary)}",
        f"STATUS:{'CANCELLED' if e.cancelled else 'CONFIRMED'}",
    ]
    if e.location:
        lines.append(f"LOCATION:{escape_text(e.location)}")
    if e.description:
        lines.append(f"DESCRIPTION:{escape_text(e.description)}")
    lines.append("END:VEVENT")
    return lines


def calendar(events: Iterable[Event], *, name: str | None = None) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
    if name:
        lines.append(f"X-WR-CALNAME:{escape_text(name)}")
    for e in events:
        lines.extend(_event_lines(e))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
