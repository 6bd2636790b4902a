from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated

import msgspec
import pytest
from msgspec import Meta

from server.errors import DateOutOfRange, InvalidName
from server.web.schemas import MAX_YEAR, MIN_YEAR, Name, Strict, in_range


class Inner(Strict, kw_only=True):
    until: date | None = None
    label: Name = "x"


class Body(Strict, kw_only=True):
    at: Annotated[datetime, Meta(tz=True)]
    naive: datetime | None = None
    days: list[date] = []
    name: Name = "n"
    names: list[Name] = []
    note: str = ""
    inner: Inner | None = None


def decode(**fields: object) -> Body:
    return msgspec.json.decode(msgspec.json.encode({"at": "2026-01-05T09:00:00Z", **fields}), type=Body)


def test_aware_times_are_converted_to_utc_and_naive_ones_kept() -> None:
    body = decode(at="2026-01-05T23:30:00+14:00", naive="2026-01-05T09:00:00")
    assert body.at == datetime(2026, 1, 5, 9, 30, tzinfo=UTC) and body.at.tzinfo is UTC
    assert body.naive == datetime(2026, 1, 5, 9, 0)


@pytest.mark.parametrize(("fields", "named"), [
    ({"at": "9999-12-31T23:59:59-14:00"}, "at"),
    ({"at": "0001-01-01T00:00:00+14:00"}, "at"),
    ({"naive": "1899-12-31T23:59:59"}, "naive"),
    ({"days": ["2026-01-05", "2201-01-01"]}, "days"),
    ({"inner": {"until": "0001-01-01"}}, "until"),
])
def test_dates_outside_the_supported_years_are_refused_naming_the_field(fields: dict[str, object],
                                                                        named: str) -> None:
    with pytest.raises(DateOutOfRange) as err:
        decode(**fields)
    assert err.value.message.startswith(f"{named}: ") and err.value.status == 400


def test_the_edges_are_accepted_and_leave_room_for_a_week_and_a_zone_shift() -> None:
    low = in_range(datetime(MIN_YEAR, 1, 1, tzinfo=timezone(timedelta(hours=14))), "at")
    high = in_range(datetime(MAX_YEAR, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14))), "at")
    assert isinstance(low, datetime) and isinstance(high, datetime)
    assert (low - timedelta(days=7)).year == MIN_YEAR - 1 and (high + timedelta(days=7)).year == MAX_YEAR + 1
    assert in_range(date(MAX_YEAR, 12, 31), "day") == date(MAX_YEAR, 12, 31)


def test_names_are_cleaned_other_strings_left_alone() -> None:
    body = decode(name="Cafe\u0301", names=["Ma\u0308rt"], note="a\x00\u202eb", inner={"label": "Cafe\u0301"})
    assert body.name == "Caf\u00e9" and body.names == ["M\u00e4rt"] and body.note == "a\x00\u202eb"
    assert body.inner is not None and body.inner.label == "Caf\u00e9"
    for fields, named in (({"name": "a\x00"}, "name"), ({"names": ["ok", "a\u202eb"]}, "names"),
                          ({"inner": {"label": "a\u2066"}}, "label")):
        with pytest.raises(InvalidName) as err:
            decode(**fields)
        assert err.value.message.startswith(f"{named}: ")


def test_checks_run_when_built_directly_too() -> None:
    with pytest.raises(InvalidName):
        Body(at=datetime(2026, 1, 5, tzinfo=UTC), name="a\u202e")


def test_a_name_is_marked_in_the_json_schema() -> None:
    schema = msgspec.json.schema(Body)["$defs"]["Body"]["properties"]
    assert schema["name"]["x-name"] is True and "x-name" not in schema["note"]
