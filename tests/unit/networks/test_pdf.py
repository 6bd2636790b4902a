"""The plan's PDF (pure): a well-formed PDF 1.4 file whose cross-reference table points at its
objects, text wrapped and continued on new pages, every letter kept (in WinAnsi or without its
accent), and the labels in the reader's language."""

from __future__ import annotations

import re
import zlib

import pytest

from server.networks.pdf import LABELS, Line, document, plan_document
from server.networks.pdf import _winansi as winansi

PLAN = {"version": 2, "sent_at": "2026-12-05T10:00:00Z", "crisis": True,
        "tasks": [{"id": "t1", "text": "Check the order (Pärnu) is respected", "owner_id": "p", "due_on": "2026-12-08",
                   "state": "open", "notes": []},
                  {"id": "t2", "text": "Sună-l pe ofițer", "owner_id": "lead", "due_on": "2026-12-09",
                   "state": "done", "notes": []}],
        "next_meeting_at": "2026-12-20T10:00:00+00:00", "keep_in_touch": "A call every Monday",
        "acknowledged": {"p": "2026-12-05T11:00:00Z"}}
MEMBERS = [{"user_id": "p", "agency": "Police", "ends_on": "2027-01-31"}]


def objects(pdf: bytes) -> dict[int, bytes]:
    """Every object, found through the cross-reference table (so the offsets must be right)."""
    start = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", pdf).group(1))  # type: ignore[union-attr]
    assert pdf[start:start + 5] == b"xref\n"
    count = int(pdf[start:].split(b"\n")[1].split()[1])
    rows = pdf[start:].split(b"\n")[3:2 + count]
    found = {}
    for number, row in enumerate(rows, start=1):
        offset = int(row[:10])
        head = f"{number} 0 obj\n".encode()
        assert pdf[offset:offset + len(head)] == head
        found[number] = pdf[offset + len(head):pdf.index(b"\nendobj\n", offset)]
    return found


def shown(pdf: bytes) -> str:
    return "".join(m.decode("cp1252") for m in re.findall(rb"\((.*?)\) Tj", pdf)).replace("\\(", "(").replace(
        "\\)", ")")


def test_a_plan_is_a_well_formed_pdf_with_every_part() -> None:
    pdf = plan_document(PLAN, MEMBERS, locale="en")
    assert pdf.startswith(b"%PDF-1.4\n")
    found = objects(pdf)
    for body in found.values():
        if b"stream\n" in body:
            length = int(re.search(rb"/Length (\d+)", body).group(1))  # type: ignore[union-attr]
            assert len(body.split(b"stream\n", 1)[1].rsplit(b"\nendstream", 1)[0]) == length
    text = shown(pdf)
    for part in ("Risk-reduction plan, version 2", "Crisis plan", "Check the order (Pärnu) is respected",
                 "Police", "2026-12-08", "Case leader", "done", "2026-12-20 10:00 UTC", "A call every Monday",
                 "Acknowledged by: Police"):
        assert part in text
    assert "Suna-l pe ofiter" in text  # ă, ț are not in WinAnsi: written without their accents, not dropped
    assert b"/Title (Risk-reduction plan, version 2)" in pdf
    assert zlib.crc32(pdf) == zlib.crc32(plan_document(PLAN, MEMBERS, locale="en"))  # no clock, no randomness


@pytest.mark.parametrize("locale", sorted(LABELS))
def test_labels_are_the_readers_language(locale: str) -> None:
    text = shown(plan_document(PLAN, MEMBERS, locale=locale))
    for key in ("tasks", "owner", "next", "touch", "members"):
        assert winansi(LABELS[locale][key]).decode("cp1252") in text


def test_long_text_wraps_and_continues_on_new_pages() -> None:
    word = "x" * 300  # longer than a line: cut, not lost
    pdf = document([Line("A long task " * 40), Line(word)] + [Line(f"Line {i}") for i in range(120)], title="T")
    text = shown(pdf)
    assert text.count("x") == 300 and "Line 119" in text
    pages = [b for b in objects(pdf).values() if b.startswith(b"<< /Type /Page ")]
    assert len(pages) >= 3
    assert all(len(line) <= 100 for line in re.findall(rb"\((.*?)\) Tj", pdf))


def test_unknown_locale_falls_back_to_english() -> None:
    assert "Risk-reduction plan" in shown(plan_document(PLAN, MEMBERS, locale="xx"))
