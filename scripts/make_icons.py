"""Render client_web/shared/icon.svg to the PNG icons of the web app manifest.

    .venv/bin/python scripts/make_icons.py

Run once when the icon changes; the PNGs are committed. Pure Python (no image library
is in the lock): the icon is a rounded square and circle outlines, so this draws exactly
the SVG elements it uses (<rect> with rx, <circle> filled or stroked) with 4 x 4
supersampling and writes the PNGs with zlib. Anything else in the SVG is an error.

The maskable icon (launchers crop it to a circle or a squircle) fills the whole square
with the background and shrinks the drawing to 70 % so it stays inside the safe zone,
the centre circle of 80 % diameter (https://www.w3.org/TR/appmanifest/#icon-masks).
"""

from __future__ import annotations

import math
import struct
import sys
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "client_web" / "shared" / "icon.svg"
OUT = REPO / "client_web" / "shared"
SVG = "{http://www.w3.org/2000/svg}"
SAMPLES = 4
MASKABLE_SCALE = 0.7

RGBA = tuple[int, int, int, int]


@dataclass(frozen=True)
class Shape:
    kind: str  # "rect" or "circle"
    geometry: tuple[float, ...]  # rect: x, y, w, h, rx; circle: cx, cy, r
    fill: RGBA | None
    stroke: RGBA | None
    stroke_width: float

    def paint(self, x: float, y: float) -> RGBA | None:
        if self.kind == "rect":
            rx0, ry0, w, h, r = self.geometry
            dx = max(rx0 + r - x, 0.0, x - (rx0 + w - r))
            dy = max(ry0 + r - y, 0.0, y - (ry0 + h - r))
            inside = rx0 <= x <= rx0 + w and ry0 <= y <= ry0 + h and dx * dx + dy * dy <= r * r
            return self.fill if inside else None
        cx, cy, r = self.geometry
        d = math.hypot(x - cx, y - cy)
        if self.stroke is not None and abs(d - r) <= self.stroke_width / 2:
            return self.stroke
        return self.fill if d <= r else None


def colour(value: str | None) -> RGBA | None:
    if value is None or value == "none":
        return None
    names = {"#fff": "#ffffff", "white": "#ffffff", "#000": "#000000", "black": "#000000"}
    value = names.get(value, value)
    if not (value.startswith("#") and len(value) == 7):
        raise ValueError(f"colour {value!r} not supported")
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16), 255


def load(svg: Path) -> tuple[float, list[Shape]]:
    root = ET.parse(svg).getroot()
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    if width != height:
        raise ValueError("the icon must be square")
    shapes = []
    for el in root:
        a = el.attrib
        fill, stroke, sw = colour(a.get("fill", "#000")), colour(a.get("stroke")), float(a.get("stroke-width", "1"))
        if el.tag == SVG + "rect":
            geometry = tuple(float(a.get(k, "0")) for k in ("x", "y", "width", "height", "rx"))
        elif el.tag == SVG + "circle":
            geometry = tuple(float(a[k]) for k in ("cx", "cy", "r"))
        else:
            raise ValueError(f"<{el.tag}> is not supported")
        shapes.append(Shape(el.tag.removeprefix(SVG), geometry, fill, stroke, sw))
    return width, shapes


def maskable(size: float, shapes: list[Shape]) -> list[Shape]:
    """The first shape (the background) fills the square; the rest shrink about the centre."""
    background, *rest = shapes
    out = [Shape("rect", (0.0, 0.0, size, size, 0.0), background.fill, None, 0.0)]
    c = size / 2
    for s in rest:
        if s.kind != "circle":
            raise ValueError("a maskable icon scales circles only")
        cx, cy, r = s.geometry
        out.append(Shape("circle", (c + (cx - c) * MASKABLE_SCALE, c + (cy - c) * MASKABLE_SCALE, r * MASKABLE_SCALE),
                         s.fill, s.stroke, s.stroke_width * MASKABLE_SCALE))
    return out


def render(view: float, shapes: list[Shape], pixels: int) -> bytes:
    rows = bytearray()
    step = view / pixels
    n = SAMPLES * SAMPLES
    for py in range(pixels):
        rows.append(0)  # PNG filter type 0 for this row
        for px in range(pixels):
            r = g = b = a = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x, y = (px + (sx + 0.5) / SAMPLES) * step, (py + (sy + 0.5) / SAMPLES) * step
                    painted = None
                    for shape in shapes:
                        painted = shape.paint(x, y) or painted
                    if painted is not None:  # premultiplied sums
                        r, g, b, a = r + painted[0], g + painted[1], b + painted[2], a + 255
            if a:
                rows += bytes((round(r * 255 / a), round(g * 255 / a), round(b * 255 / a), round(a / n)))
            else:
                rows += b"\0\0\0\0"
    return bytes(rows)


def png(pixels: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", pixels, pixels, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main() -> int:
    view, shapes = load(SOURCE)
    for name, pixels, drawing in (("icon-192.png", 192, shapes), ("icon-512.png", 512, shapes),
                                  ("icon-maskable-512.png", 512, maskable(view, shapes))):
        (OUT / name).write_bytes(png(pixels, render(view, drawing, pixels)))
        print(f"wrote {(OUT / name).relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
