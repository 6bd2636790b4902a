"""The attendance register of a group session (pure): evidence in, one line per participant out.

Evidence kinds, as the session's shell records them for each participant:

    arrived       reached the session (its lobby, or straight in)
    present       began to be in the session (admitted, straight in, back after a drop)
    absent        stopped being in it; ``detail`` says why: left, dropped, gone, removed, ended, denied,
                  interrupted (the session's server died or drained and another took it over)
    in_room       the facilitator marked them present in the room (``not_in_room`` undoes it)
    quality       a connection-quality sample (rtt_ms, loss_pct, bitrate_kbps)

The facilitator confirms each line as attended, partly, absent, excused or technical
failure; the register suggests one and says why. The rule that matters most (as for
check-ins, ``server/checkins/outcomes.py``; policies/alternatives.toml; CEP 2024
checklist): a participant who showed up and lost the connection on a poor network is a
technical failure, never an absence, which can lead to breach proceedings. ``absent`` is
suggested only for someone with no evidence of coming at all (or turned away at the
door by the facilitator); ``excused`` is the facilitator's word alone. A server change-over
(``interrupted``) is never held against anyone: whoever comes back was present all along,
whoever does not is a technical failure (as for check-ins, ``server/checkins/evidence.py``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from server.checkins.outcomes import Quality, Sample, summarise

LATE_AFTER = timedelta(minutes=10)
#: Present for at least this share of the session counts as attended.
ATTENDED_SHARE = 0.8
EVIDENCE_KINDS = ("arrived", "present", "absent", "in_room", "not_in_room", "quality")
ABSENT_REASONS = ("left", "dropped", "gone", "removed", "ended", "denied", "interrupted")
RESUMED = "The session was interrupted when its server changed over, and resumed"


class Attendance(StrEnum):
    ATTENDED = "attended"
    PARTLY = "partly"
    ABSENT = "absent"
    EXCUSED = "excused"
    TECHNICAL_FAILURE = "technical_failure"


@dataclass(frozen=True)
class Mark:
    """One piece of evidence about one participant."""

    at: datetime
    kind: str
    detail: str | None = None
    sample: Sample | None = None


@dataclass(frozen=True)
class Line:
    user_id: str
    first_arrived_at: datetime | None
    last_left_at: datetime | None
    minutes_present: int
    drops: int
    late: bool
    in_room: bool
    quality: Quality
    suggestion: Attendance
    reasons: tuple[str, ...]


def build_line(user_id: str, marks: Iterable[Mark], *, starts_at: datetime, ends_at: datetime,
               until: datetime) -> Line:
    """The line for one participant of a session from ``starts_at`` to ``ends_at``; presence
    still open is counted up to ``until`` (the end, or now while the session runs)."""
    # A takeover notes its interruptions before anyone can come back, so at one instant they come first.
    ordered = sorted(marks, key=lambda m: (m.at, not _interrupted(m)))
    first_arrived: datetime | None = None
    last_left: datetime | None = None
    since: datetime | None = None
    away: datetime | None = None  # interrupted by a server change-over and not back yet
    present = timedelta()
    drops, in_room, denied, interrupted = 0, False, False, False
    samples: list[Sample] = []

    def clipped(a: datetime, b: datetime) -> timedelta:
        a, b = max(a, starts_at), min(b, ends_at)
        return b - a if b > a else timedelta()

    for m in ordered:
        if m.kind in ("arrived", "present") and first_arrived is None:
            first_arrived = m.at
        if _interrupted(m):
            interrupted = True
            away = away or m.at
            continue
        if m.kind == "present" and since is None:
            since = m.at
        if m.kind == "present":
            away = None  # back after an interruption: the gap is not held against them
        elif m.kind == "absent":
            if away is not None and since is not None:  # never back: present until the interruption
                present += clipped(since, away)
                since, last_left = None, away
            elif since is not None:
                present += clipped(since, m.at)
                since = None
                last_left = m.at
            drops += m.detail == "dropped"
            denied = denied or m.detail == "denied"
        elif m.kind in ("in_room", "not_in_room"):
            in_room = m.kind == "in_room"
        elif m.kind == "quality" and m.sample is not None:
            samples.append(m.sample)
    if since is not None:
        present += clipped(since, away or until)
        last_left = away or last_left
    lost = away is not None
    quality = summarise(samples)
    length = ends_at - starts_at
    share = present / length if length > timedelta() else 0.0
    late = first_arrived is not None and first_arrived - starts_at > LATE_AFTER and not in_room
    suggestion, reasons = _suggest(in_room=in_room, arrived=first_arrived is not None, share=share, drops=drops,
                                   poor=quality.poor, denied=denied, late=late, lost=lost)
    if interrupted and not lost:
        reasons = (*reasons, RESUMED)
    return Line(user_id=user_id, first_arrived_at=first_arrived, last_left_at=last_left,
                minutes_present=int(present.total_seconds() // 60), drops=drops, late=late, in_room=in_room,
                quality=quality, suggestion=suggestion, reasons=reasons)


def _suggest(*, in_room: bool, arrived: bool, share: float, drops: int, poor: bool, denied: bool,
             late: bool, lost: bool = False) -> tuple[Attendance, tuple[str, ...]]:
    late_note = ("Arrived late",) if late else ()
    if in_room:
        return Attendance.ATTENDED, ("Marked present in the room by the facilitator",)
    if not arrived:
        return Attendance.ABSENT, ("No sign of joining the session",)
    if share >= ATTENDED_SHARE:
        return Attendance.ATTENDED, (f"Present for {round(share * 100)} % of the session", *late_note)
    if lost:
        return Attendance.TECHNICAL_FAILURE, (
            "The session was interrupted when its server changed over, and they did not come back",
            "A session lost to a server change-over is a technical failure, not an absence")
    if drops and poor:
        return Attendance.TECHNICAL_FAILURE, (
            "The connection dropped on a poor network",
            "A session lost to the network is a technical failure, not an absence")
    if share == 0 and denied:
        return Attendance.ABSENT, ("Not admitted by the facilitator",)
    if share == 0:
        return Attendance.TECHNICAL_FAILURE, ("Reached the session but was never in it",)
    dropped = ("The connection dropped",) if drops else ()
    return Attendance.PARTLY, (f"Present for {round(share * 100)} % of the session", *dropped, *late_note)


def _interrupted(m: Mark) -> bool:
    return m.kind == "absent" and m.detail == "interrupted"


def evidence_of(kind: str, place: str) -> list[tuple[str, str | None]]:
    """The register's evidence (kind, detail) for one of the live session's notes
    (``session_values.Note``: its kind and the person's place after it)."""
    if kind in ("joined", "admitted", "rejoined"):
        out: list[tuple[str, str | None]] = [("arrived", None)] if kind == "joined" else []
        return out + ([("present", None)] if place == "present" else [])
    if kind in ABSENT_REASONS:
        return [("absent", kind)]
    return []


def csv_of(session_starts_at: datetime, rows: Sequence[tuple[str, str, Line | None, str | None]]) -> str:
    """The confirmed register as CSV: (name, status, line details, note) per participant.
    Cells that a spreadsheet would run as a formula are quoted with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["session_starts_at", "participant", "status", "minutes_present", "first_arrived_at",
                     "last_left_at", "drops", "late", "in_room", "poor_quality", "note"])
    for name, status, line, note in rows:
        writer.writerow([
            session_starts_at.isoformat(), _cell(name), status,
            "" if line is None else line.minutes_present,
            "" if line is None or line.first_arrived_at is None else line.first_arrived_at.isoformat(),
            "" if line is None or line.last_left_at is None else line.last_left_at.isoformat(),
            "" if line is None else line.drops, "" if line is None else str(line.late).lower(),
            "" if line is None else str(line.in_room).lower(), "" if line is None else str(line.quality.poor).lower(),
            _cell(note or "")])
    return out.getvalue()


def _cell(text: str) -> str:
    """OWASP CSV injection: a cell starting with = + - @ tab or CR is read as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
