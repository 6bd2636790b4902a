"""A risk-reduction plan as a PDF (pure): a small PDF 1.4 writer and the plan's page.

The writer knows only what a plan needs: A4 pages of left-aligned text in Helvetica and
Helvetica-Bold (the standard fonts every PDF reader has, so nothing is embedded), wrapped to
the page's width and continued on new pages. Text is encoded in WinAnsi (cp1252), which holds
the Finnish and Estonian letters; a letter it lacks (Romanian ă, ș, ț) is written without its
accent rather than dropped, so nothing of a task goes missing. ISO 32000-1, 7.5 (file
structure) and 9.6.2.2 (standard Type 1 fonts).

The labels are the reader's language (en, fi, et, ro), like the web client's.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PAGE_W, PAGE_H, MARGIN = 595, 842, 56  # A4 in points, 2 cm margins
_WIDTH = {"F1": 0.52, "F2": 0.56}  # average glyph width, in em, to wrap conservatively


@dataclass(frozen=True)
class Line:
    text: str
    size: int = 10
    bold: bool = False
    gap: int = 4  # points of space after the line


def _winansi(text: str) -> bytes:
    out = bytearray()
    for ch in text.replace("\r", ""):
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            bare = unicodedata.normalize("NFKD", ch).encode("cp1252", "ignore")
            out += bare or b"?"
    return bytes(out)


def _escape(raw: bytes) -> bytes:
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _wrap(text: str, size: int, font: str) -> list[str]:
    per_line = max(8, int((PAGE_W - 2 * MARGIN) / (size * _WIDTH[font])))
    lines: list[str] = []
    for paragraph in text.split("\n") or [""]:
        words, line = paragraph.split(" "), ""
        for word in words:
            while len(word) > per_line:  # a word longer than the line is cut, not lost
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:per_line])
                word = word[per_line:]
            candidate = f"{line} {word}" if line else word
            if len(candidate) > per_line:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def document(lines: list[Line], *, title: str) -> bytes:
    """A PDF of ``lines`` on as many A4 pages as they need."""
    pages: list[list[bytes]] = [[]]
    y = PAGE_H - MARGIN
    for line in lines:
        font = "F2" if line.bold else "F1"
        for part in _wrap(line.text, line.size, font):
            lead = int(line.size * 1.35)
            if y - lead < MARGIN:
                pages.append([])
                y = PAGE_H - MARGIN
            y -= lead
            pages[-1].append(b"BT /%s %d Tf %d %d Td (%s) Tj ET" % (
                font.encode(), line.size, MARGIN, y, _escape(_winansi(part))))
        y -= line.gap
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, once the pages' numbers are known
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Title (%s) /Producer (Tandem) >>" % _escape(_winansi(title)),
    ]
    kids: list[int] = []
    for content in pages:
        stream = b"\n".join(content)
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> >>" % (PAGE_W, PAGE_H, len(objects)))
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


LABELS: dict[str, dict[str, str]] = {
    "en": {"title": "Risk-reduction plan, version {version}", "sent": "Sent", "crisis": "Crisis plan",
           "tasks": "Tasks", "owner": "Who does it", "due": "Due", "state": "State", "next": "Next meeting",
           "touch": "How members keep in touch", "members": "Members", "until": "until",
           "leader": "Case leader", "open": "open", "done": "done", "blocked": "blocked",
           "acknowledged": "Acknowledged by"},
    "fi": {"title": "Riskienvähentämissuunnitelma, versio {version}", "sent": "Lähetetty",
           "crisis": "Kriisisuunnitelma", "tasks": "Tehtävät", "owner": "Tekijä", "due": "Määräpäivä",
           "state": "Tila", "next": "Seuraava tapaaminen", "touch": "Miten jäsenet pitävät yhteyttä",
           "members": "Jäsenet", "until": "asti", "leader": "Tapauksen vetäjä", "open": "avoin",
           "done": "tehty", "blocked": "estynyt", "acknowledged": "Kuitannut"},
    "et": {"title": "Riski vähendamise plaan, versioon {version}", "sent": "Saadetud", "crisis": "Kriisiplaan",
           "tasks": "Ülesanded", "owner": "Kes teeb", "due": "Tähtaeg", "state": "Olek", "next": "Järgmine kohtumine",
           "touch": "Kuidas liikmed ühendust hoiavad", "members": "Liikmed", "until": "kuni",
           "leader": "Juhtumi juht", "open": "avatud", "done": "tehtud", "blocked": "takistatud",
           "acknowledged": "Kinnitanud"},
    "ro": {"title": "Plan de reducere a riscului, versiunea {version}", "sent": "Trimis", "crisis": "Plan de criză",
           "tasks": "Sarcini", "owner": "Cine o face", "due": "Termen", "state": "Stare",
           "next": "Următoarea întâlnire", "touch": "Cum țin legătura membrii", "members": "Membri",
           "until": "până la", "leader": "Responsabilul de caz", "open": "deschisă", "done": "făcută",
           "blocked": "blocată", "acknowledged": "Confirmat de"},
}


def _when(value: str) -> str:
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")


def plan_document(plan: dict[str, Any], members: list[dict[str, Any]], *, locale: str) -> bytes:
    """The plan as its reader may see it (``plan`` and ``members`` as the network's read gives
    them): version, tasks with their owner's agency and due date, next meeting, keeping in touch."""
    label = LABELS.get(locale, LABELS["en"])
    agency = {m["user_id"]: m["agency"] for m in members}
    title = label["title"].format(version=plan["version"])
    lines = [Line(title, size=16, bold=True, gap=8)]
    if plan.get("sent_at"):
        lines.append(Line(f"{label['sent']}: {_when(plan['sent_at'])}"))
    if plan.get("crisis"):
        lines.append(Line(label["crisis"], bold=True))
    lines += [Line(label["tasks"], size=13, bold=True, gap=6)]
    for i, task in enumerate(plan["tasks"], start=1):
        lines += [Line(f"{i}. {task['text']}", bold=True, gap=2),
                  Line(f"{label['owner']}: {agency.get(task['owner_id'], label['leader'])} · {label['due']}: "
                       f"{task['due_on']} · {label['state']}: {label[task['state']]}", gap=8)]
    lines += [Line(label["next"], size=13, bold=True, gap=2), Line(_when(plan["next_meeting_at"]), gap=8),
              Line(label["touch"], size=13, bold=True, gap=2), Line(plan["keep_in_touch"], gap=8),
              Line(label["members"], size=13, bold=True, gap=2)]
    lines += [Line(f"{m['agency']} ({label['until']} {m['ends_on']})", gap=2) for m in members]
    acknowledged = [agency.get(user_id, label["leader"]) for user_id in plan.get("acknowledged", {})]
    if acknowledged:
        lines += [Line("", gap=6), Line(f"{label['acknowledged']}: {', '.join(acknowledged)}")]
    return document(lines, title=title)
