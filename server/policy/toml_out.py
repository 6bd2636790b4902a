"""A tiny TOML writer for policy documents.

Policy configs hold only booleans, integers, strings, arrays of those, nested tables
and arrays of tables, so this covers exactly that and refuses anything else rather
than writing something ``tomllib`` would read back differently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _string(value: str) -> str:
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _scalar(value: object) -> str:
    # bool first: bool is a subclass of int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple) and not any(isinstance(v, Mapping) for v in value):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def _is_table_array(value: object) -> bool:
    return isinstance(value, list | tuple) and len(value) > 0 and all(isinstance(v, Mapping) for v in value)


def _table(path: Sequence[str], table: Mapping[str, object], lines: list[str]) -> None:
    header = ".".join(_key(p) for p in path)
    for key, value in table.items():
        if not isinstance(value, Mapping) and not _is_table_array(value):
            lines.append(f"{_key(key)} = {_scalar(value)}")
    for key, value in table.items():
        if isinstance(value, Mapping):
            lines.append("")
            lines.append(f"[{header}.{_key(key)}]")
            _table([*path, key], value, lines)
        elif isinstance(value, list | tuple) and _is_table_array(value):
            for item in value:
                lines.append("")
                lines.append(f"[[{header}.{_key(key)}]]")
                _table([*path, key], item, lines)


def dumps(name: str, table: Mapping[str, object], *, comment: str = "") -> str:
    """Write ``table`` as the single top-level table ``[name]``."""
    lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
    if lines:
        lines.append("")
    lines.append(f"[{_key(name)}]")
    _table([name], table, lines)
    return "\n".join(lines) + "\n"
