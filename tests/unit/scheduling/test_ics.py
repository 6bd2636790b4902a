"""iCalendar rendering: escaping, folding at 75 octets (UTF-8 safe), CRLF, UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.scheduling import ics

T = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)


def test_escape_text() -> None:
    assert ics.escape_text("a;b,c\\d\ne\r\nf") == "a\\;b\\,c\\\\d\\ne\\nf"


def test_short_lines_are_not_folded() -> None:
    assert ics.fold("SUMMARY:short") == "SUMMARY:short"
    assert ics.fold("X" * 75) == "X" * 75


def test_long_lines_fold_at_75_octets() -> None:
    line = "DESCRIPTION:" + "x" * 200
    folded = ics.fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert "".join([parts[0], *(p[1:] for p in parts[1:])]) == line


def test_folding_never_splits_a_utf8_character() -> None:
    line = "LOCATION:" + "ä€" * 60  # 2- and 3-byte characters
    parts = ics.fold(line).split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts)
    assert "".join([parts[0], *(p[1:] for p in parts[1:])]) == line  # each piece decoded on its own


def test_stamp_is_utc_and_refuses_naive() -> None:
    helsinki = datetime(2026, 1, 6, 12, 0, tzinfo=UTC).astimezone()  # any aware zone
    assert ics.stamp(helsinki) == "20260106T120000Z"
    with pytest.raises(ValueError, match="naive"):
        ics.stamp(datetime(2026, 1, 6, 12, 0))


def test_calendar() -> None:
    events = [
        ics.Event(uid="a@tandem", starts_at=T, ends_at=T + timedelta(minutes=45), summary="Appointment (video)",
                  stamp=T - timedelta(days=1), location="Room 3; desk 2, left", description="Line 1\nLine 2"),
        ics.Event(uid="b@tandem", starts_at=T, ends_at=T + timedelta(hours=1), summary="Appointment (phone)",
                  stamp=T, cancelled=True, sequence=3),
    ]
    text = ics.calendar(events, name="Tandem")
    lines = text.split("\r\n")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert lines[:5] == ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{ics.PRODID}", "CALSCALE:GREGORIAN",
                         "METHOD:PUBLISH"]
    assert "X-WR-CALNAME:Tandem" in lines
    assert lines.count("BEGIN:VEVENT") == 2 and lines.count("END:VEVENT") == 2
    assert "DTSTART:20260106T100000Z" in lines and "DTEND:20260106T104500Z" in lines
    assert "DTSTAMP:20260105T100000Z" in lines
    assert "LOCATION:Room 3\\; desk 2\\, left" in lines and "DESCRIPTION:Line 1\\nLine 2" in lines
    assert "STATUS:CANCELLED" in lines and "STATUS:CONFIRMED" in lines and "SEQUENCE:3" in lines
    assert lines[-2] == "END:VCALENDAR"
