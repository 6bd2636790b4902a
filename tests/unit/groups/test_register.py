"""The attendance register built from evidence: minutes, drops, lateness, the room, suggestions."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from server.checkins.outcomes import Sample
from server.clock import FakeClock
from server.groups.register import RESUMED, Attendance, Mark, build_line, csv_of, evidence_of
from server.groups.session_machine import Session
from server.groups.session_snapshot import dump, restore
from server.groups.session_values import Effect, JoinFacts, Note, Role, Tell

START = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=90)
POOR = Sample(rtt_ms=1200, loss_pct=12, bitrate_kbps=40)
GOOD = Sample(rtt_ms=60, loss_pct=0.1, bitrate_kbps=900)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def pid(effects: list[Effect]) -> str:
    return next(str(e.frame["participant"]) for e in effects if isinstance(e, Tell) and e.frame["type"] == "joined")


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
    # the server changed over and they came back: present all along, the gap is not held against them
    ([Mark(at(0), "present"), Mark(at(40), "absent", "interrupted"), Mark(at(45), "present"),
      Mark(at(90), "absent", "ended")], (Attendance.ATTENDED, 90, 0, False)),
    # ... also when they arrived late (and the change-over and their return share an instant)
    ([Mark(at(15), "arrived"), Mark(at(16), "present"), Mark(at(40), "present"), Mark(at(40), "absent", "interrupted"),
      Mark(at(90), "absent", "ended")], (Attendance.ATTENDED, 74, 0, True)),
    # interrupted and never back ("gone"): a technical failure, never an absence, present until the change-over
    ([Mark(at(0), "present"), Mark(at(40), "absent", "interrupted"), Mark(at(41), "absent", "gone")],
     (Attendance.TECHNICAL_FAILURE, 40, 0, False)),
    # ... even when the session ends before their grace runs out, or before anything more is known
    ([Mark(at(0), "present"), Mark(at(60), "absent", "interrupted"), Mark(at(61), "absent", "ended")],
     (Attendance.TECHNICAL_FAILURE, 60, 0, False)),
    ([Mark(at(0), "present"), Mark(at(60), "absent", "interrupted")], (Attendance.TECHNICAL_FAILURE, 60, 0, False)),
    # ... or when they had dropped just before it, on a good network
    ([Mark(at(0), "present"), Mark(at(20), "absent", "dropped"), Mark(at(21), "absent", "interrupted"),
      Mark(at(50), "absent", "gone")], (Attendance.TECHNICAL_FAILURE, 20, 1, False)),
    # waiting in the lobby at the change-over, back to it and admitted
    ([Mark(at(0), "arrived"), Mark(at(5), "absent", "interrupted"), Mark(at(6), "present"),
      Mark(at(90), "absent", "ended")], (Attendance.ATTENDED, 84, 0, False)),
    # back after the change-over, left halfway of their own accord: partly, as for anyone
    ([Mark(at(0), "present"), Mark(at(20), "absent", "interrupted"), Mark(at(21), "present"),
      Mark(at(40), "absent", "left")], (Attendance.PARTLY, 40, 0, False)),
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


def test_an_interruption_says_why() -> None:
    back = build_line("u1", [Mark(at(0), "present"), Mark(at(30), "absent", "interrupted"), Mark(at(31), "present")],
                      starts_at=START, ends_at=END, until=END)
    assert back.reasons[-1] == RESUMED and back.last_left_at is None
    lost = build_line("u1", [Mark(at(0), "present"), Mark(at(30), "absent", "interrupted"),
                             Mark(at(31), "absent", "gone")], starts_at=START, ends_at=END, until=END)
    assert "did not come back" in lost.reasons[0] and "not an absence" in lost.reasons[-1]
    assert lost.last_left_at == at(30)
    assert evidence_of("interrupted", "dropped") == [("absent", "interrupted")]


def test_a_taken_over_session_becomes_evidence() -> None:
    """From the live session through a takeover to the register: one back, one gone."""
    clock = FakeClock(START)
    ok = JoinFacts(enrolled=True, agreement_accepted=True)
    s = Session("s", clock, grace_s=60)
    fac = pid(s.join(user_id="f", display_name="F", role=Role.FACILITATOR))
    marks: dict[str, list[Mark]] = {}

    def keep(effects: list[Effect]) -> None:
        for n in effects:
            if isinstance(n, Note):
                found = evidence_of(n.kind, n.place)
                marks.setdefault(n.user_id, []).extend(Mark(clock.now(), k, d) for k, d in found)

    for user in ("u1", "u2"):
        out = s.join(user_id=user, display_name=user, role=Role.PARTICIPANT, facts=ok)
        keep(out)
        keep(s.admit(fac, pid(out)))
    clock.advance(timedelta(minutes=30))
    got = restore(dump(s, naming="first_name", voice_only=()), "s", clock)
    keep(got.effects)
    s = got.session
    keep(s.join(user_id="u1", display_name="u1", role=Role.PARTICIPANT, facts=ok))
    clock.advance(timedelta(minutes=1))
    keep(s.tick())
    clock.advance(timedelta(minutes=59))
    keep(s.end(None))
    lines = {u: build_line(u, m, starts_at=START, ends_at=END, until=END).suggestion
             for u, m in marks.items() if u != "f"}
    assert lines == {"u1": Attendance.ATTENDED, "u2": Attendance.TECHNICAL_FAILURE}
    assert [m.detail for m in marks["u2"] if m.kind == "absent"] == ["interrupted", "gone"]


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
