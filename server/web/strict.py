"""The checks every request body and query gets when it is decoded (pure): dates and times
inside the supported years (aware times stored in UTC) and names cleaned (``server/text.py``).
``Strict`` is the base of every request schema in ``schemas.py``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Literal

import msgspec.inspect as mi
from msgspec import Struct

from server.errors import BadRequest, DateOutOfRange
from server.text import clean_name

#: The years a date or time sent to the API may fall in. Every real appointment, meeting
#: or retention date is far inside; the margin keeps the server's own arithmetic on them (a
#: week view's seven days, a weekly series of up to 10,000 occurrences, a shift of up to
#: 14 h into UTC, a retention period subtracted) inside the years 1..9999 that Python's
#: datetime holds. "9999-12-31" plus a week, or "0001-01-01T00:00+14:00" in UTC, overflowed
#: into a 500 (issue 12, finding 5).
MIN_YEAR, MAX_YEAR = 1900, 2200


def in_range(value: date, field: str) -> date:
    """``value`` (an aware time converted to UTC), or DateOutOfRange naming ``field``."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise DateOutOfRange(f"{field}: a date must fall in the years {MIN_YEAR} to {MAX_YEAR}",
                             reason="field.date_out_of_range", params={"min": MIN_YEAR, "max": MAX_YEAR}, field=field)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


@dataclass(frozen=True)
class _Check:
    attr: str
    field: str
    kind: Literal["date", "name"]
    max_length: int | None
    many: bool  # a list of them


def _check_of(field: mi.Field) -> _Check | None:
    t, many, name = field.type, False, False
    while True:
        if isinstance(t, mi.UnionType):
            inner = [m for m in t.types if not isinstance(m, mi.NoneType)]
            if len(inner) != 1:
                return None
            t = inner[0]
        elif isinstance(t, mi.Metadata):
            name = name or bool((t.extra_json_schema or {}).get("x-name"))
            t = t.type
        elif isinstance(t, mi.ListType) and not many:
            t, many = t.item_type, True
        else:
            break
    if isinstance(t, mi.DateTimeType | mi.DateType):
        return _Check(field.name, field.encode_name, "date", None, many)
    if name and isinstance(t, mi.StrType):
        return _Check(field.name, field.encode_name, "name", t.max_length, many)
    return None


@cache
def _checks(cls: type) -> tuple[_Check, ...]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return tuple(c for f in info.fields if (c := _check_of(f)) is not None)


class Strict(Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body or query. Unknown fields are refused; every date or time is checked
    against the supported years (an aware time is stored in UTC) and every ``Name`` is
    cleaned (``server/text.py``), when the body is decoded, with a coded 400 naming the
    field. A subclass with its own ``__post_init__`` calls this one first."""

    def __post_init__(self) -> None:
        for check in _checks(type(self)):
            value = getattr(self, check.attr)
            if value is None:
                continue
            done = [self._checked(check, v) for v in (value if check.many else [value])]
            setattr(self, check.attr, done if check.many else done[0])

    @staticmethod
    def _checked(check: _Check, value: Any) -> Any:
        if check.kind == "date":
            return in_range(value, check.field)
        return clean_name(value, check.field, max_length=check.max_length)


# -- refusals a client can word (issue 13) -------------------------------------------

_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
#: msgspec's validation messages -> (reason, the params the match gives), first match wins.
_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Object missing required field `(?P<field>[^`]+)`"), "field.missing"),
    (re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`"), "field.unknown"),
    (re.compile(r"^Expected `str` of length <= (?P<max>\d+)"), "field.too_long"),
    (re.compile(r"^Expected `str` of length >= (?P<min>\d+)"), "field.too_short"),
    (re.compile(r"^Expected `(?:int|float)` >= (?P<min>-?[\d.]+)"), "field.too_small"),
    (re.compile(r"^Expected `(?:int|float)` <= (?P<max>-?[\d.]+)"), "field.too_large"),
    (re.compile(r"^Expected `(?:array|object)` of length <= (?P<max>\d+)"), "field.too_many"),
    (re.compile(r"^Expected `(?:array|object)` of length >= (?P<min>\d+)"), "field.too_few"),
    (re.compile(r"^Expected `datetime` with a timezone"), "field.needs_timezone"),
    (re.compile(r"^Invalid RFC3339 encoded (?:datetime|date|time)"), "field.invalid_time"),
    (re.compile(r"^Invalid enum value"), "field.invalid_choice"),
    (re.compile(r"^Expected `str` matching regex"), "field.invalid_format"),
    (re.compile(r"^Expected `[^`]+`, got `[^`]+`"), "field.wrong_type"),
)


def validation_error(err: Exception, what: str = "request") -> BadRequest:
    """A BadRequest for a body or query msgspec refused, naming the ``field`` and a ``reason``
    (``field.missing``, ``field.too_long`` with ``max``, ...) a client words in its language;
    the English message is msgspec's, as before."""
    text = str(err)
    field: str | None = None
    at = _AT.search(text)
    if at is not None:
        field, text = at.group("path") or None, text[: at.start()]
    reason, params = "field.invalid", {}
    for pattern, code in _MESSAGES:
        found = pattern.match(text)
        if found is not None:
            reason = code
            groups = found.groupdict()
            field = groups.pop("field", None) or field
            params = {k: int(v) if v.lstrip("-").isdigit() else v for k, v in groups.items()}
            break
    return BadRequest(f"Invalid {what}: {err}", reason=reason, params=params, field=field)
