"""Names people type that others read (pure).

A display name, an office, a group, a programme or a meeting place is shown to other
people, often next to words the server or the page writes itself. Each is stored in
Unicode NFC (UAX #15), so one name has one spelling in the database and in comparisons,
and refused when it holds a character that changes how the text around it is read:

- control characters (category Cc) and line or paragraph separators (Zl, Zp): a name
  is one line; a NUL, a newline or an escape can cut or restyle what is shown with it;
- bidirectional formatting characters (UAX #9): the embeddings and overrides
  U+202A..U+202E, the isolates U+2066..U+2069 and the marks U+200E, U+200F, U+061C. A
  right-to-left override makes a name display as other letters than it holds (the
  "Trojan Source" trick, CVE-2021-42574), so one person can pass for another.

Right-to-left scripts themselves (Arabic, Hebrew) need none of these and are accepted.
"""

from __future__ import annotations

import unicodedata

from server.errors import InvalidName

BIDI_FORMATTING = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ONE_LINE_BREAKERS = frozenset({"Cc", "Zl", "Zp"})


def clean_name(value: str, field: str, *, max_length: int | None = None) -> str:
    """``value`` in NFC, or InvalidName naming ``field`` and the first character refused."""
    name = unicodedata.normalize("NFC", value)
    for ch in name:
        if ch in BIDI_FORMATTING:
            raise InvalidName(f"{field}: a name may not hold bidirectional formatting characters "
                              f"(U+{ord(ch):04X} {unicodedata.name(ch)})", reason="field.invalid_name", field=field)
        if unicodedata.category(ch) in _ONE_LINE_BREAKERS:
            raise InvalidName(f"{field}: a name is one line of text, without control characters (U+{ord(ch):04X})",
                              reason="field.invalid_name", field=field)
    if max_length is not None and len(name) > max_length:
        raise InvalidName(f"{field}: a name may be at most {max_length} characters long", reason="field.too_long",
                          params={"max": max_length}, field=field)
    return name
