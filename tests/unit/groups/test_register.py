"""The attendance register built from evidence: minutes, drops, lateness, the room, suggestions."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from server.checkins.outcomes import Sample
from server.clock import FakeClock
from server.groups.register import Attendance, Mark, build_line, csv_of, evidence_of
from server.groups.session_machine import Session
from server.groups.session_values import JoinFacts, Note, Role, Tell

START = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=90)
POOR = Sample(rtt_ms=1200, loss_pct=12, bitrate_kbps=40)
GOOD = Sample(rtt_ms=60, loss_pct=0.1, bitrate_kbps=900)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def line(*marks: Mark, until: datetime = END) -> tuple[Attendance, int, int, bool]:
    got = build_line("u1", marks, starts_at=START, ends_at=END, until=until)
    return got.suggestion, got.minutes_present, got.drops, got.late


@pytest.mark.parametrize(("marks", "expected"), [
    # present all along (a little early: only the session's own time counts)
    ([Mark(at(-5), "arrived"), Mark(at(-4), "present"), Mark(at(90), "absent", "ended")],
     (Attendance.ATTENDED, 90, 0, False)),
    # never came
    ([], (Attendance.ABSENT, 0, 0, False)),
    # came late but stayed: attended, and late
    ([Mark(at(15), "arrived"), Mark(at(16), "present"), Mark(at(90), "absent", "ended")],
     (Attendance.ATTENDED, 74, 0, True)),
    # left halfway
    ([Mark(at(0), "present"), Mark(at(40), "absent", "left")], (Attendance.PARTLY, 40, 0, False)),
    # dropped on a poor network: a technical failure, never an absence
    ([Mark(at(0), "present"), Mark(at(5), "quality", sample=POOR), Mark(at(20), "absent", "dropped"),
      Mark(at(50), "absent", "gone")], (Attendance.TECHNICAL_FAILURE, 20, 1, False)),
    # dropped on a good network and did not come back: partly
    ([Mark(at(0), "present"), Mark(at(5), "quality", sample=GOOD), Mark(at(20), "absent", "dropped")],
     (Attendance.PARTLY, 20, 1, False)),
    # dropped, came back, stayed: attended
    ([Mark(at(0), "present"), Mark(at(5), "quality", sample=POOR), Mark(at(10), "absent", "dropped"),
      Mark(at(12), "present"), Mark(at(90), "absent", "ended")], (Attendance.ATTENDED, 88, 1, False)),
    # waited in the lobby and was never let in
    ([Mark(at(0), "arrived"), Mark(at(30), "absent", "left")], (Attendance.TECHNICAL_FAILURE, 0, 0, False)),
    # turned away at the door
    ([Mark(at(0), "arrived"), Mark(at(1), "absent", "denied")], (Attendance.ABSENT, 0, 0, False)),
    # in the room, marked by the facilitator
    ([Mark(at(20), "in_room")], (Attendance.ATTENDED, 0, 0, False)),
    # marked, then unmarked: no sign of them
    ([Mark(at(20), "in_room"), Mark(at(21), "not_in_room")], (Attendance.ABSENT, 0, 0, False)),
])
def test_suggestions(marks: list[Mark], expected: tuple[Attendance, int, int, bool]) -> None:
    assert line(*marks) == expected


def test_open_presence_counts_until_now_and_never_past_the_end() -> None:
    assert line(Mark(at(0), "present"), until=at(30))[1] == 30
    assert line(Mark(at(0), "present"), until=at(200))[1] == 90
    assert line(Mark(at(100), "present"), until=at(200))[1] == 0


def test_reasons_and_quality_are_kept() -> None:
    got = build_line("u1", [Mark(at(0), "present"), Mark(at(1), "quality", sample=POOR),
                            Mark(at(2), "absent", "dropped")], starts_at=START, ends_at=END, until=END)
    assert got.quality.poor and got.quality.samples == 1
    assert "not an absence" in got.reasons[-1]
    assert got.first_arrived_at == at(0) and got.last_left_at == at(2)
    empty = build_line("u1", [], starts_at=START, ends_at=START, until=START)
    assert empty.suggestion is Attendance.ABSENT


def test_the_live_session_notes_become_evidence() -> None:
    clock = FakeClock()
    s = Session("s", clock)
    fac = "p1"
    s.join(user_id="f", display_name="F", role=Role.FACILITATOR)
    notes: list[Note] = []
    ok = JoinFacts(enrolled=True, agreement_accepted=True)
    out = s.join(user_id="u1", display_name="U1", role=Role.PARTICIPANT, facts=ok)
    p = next(str(e.frame["participant"]) for e in out if isinstance(e, Tell))
    notes += [e for e in out if isinstance(e, Note)]
    notes += [e for e in s.admit(fac, p) if isinstance(e, Note)]
    notes += [e for e in s.drop(p) if isinstance(e, Note)]
    notes += [e for e in s.join(user_id="u1", display_name="U1", role=Role.PARTICIPANT, facts=ok)
              if isinstance(e, Note)]
    notes += [e for e in s.leave(p) if isinstance(e, Note)]
    evidence = [ev for n in notes for ev in evidence_of(n.kind, n.place)]
    assert evidence == [("arrived", None), ("present", None), ("absent", "dropped"), ("present", None),
                        ("absent", "left")]
    assert evidence_of("joined", "waiting") == [("arrived", None)]
    assert evidence_of("rejoined", "waiting") == []
    assert evidence_of("media", "present") == []


def test_csv_export_quotes_formulas() -> None:
    got = build_line("u1", [Mark(at(0), "present"), Mark(at(90), "absent", "ended")], starts_at=START,
                     ends_at=END, until=END)
    text = csv_of(START, [("=HYPERLINK(\"x\")", "attended", got, "-1 note"), ("Bo", "excused", None, None)])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["session_starts_at", "participant", "status"]
    assert rows[1][1] == "'=HYPERLINK(\"x\")" and rows[1][2] == "attended" and rows[1][3] == "90"
    assert rows[1][-1] == "'-1 note"
    assert rows[2][1:4] == ["Bo", "excused", ""]
