"""Evaluation's pure core: the filters, the "fewer than 5" rule for every kind of cell, figures
assembled from the store's cells, and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from server.errors import BadRequest
from server.evaluation import model
from server.evaluation.model import FEWER, NOW, Raw, cell, figure, filters, to_csv


def _f(**kw: str | None) -> model.Filters:
    args: dict[str, str | None] = {"first": None, "last": None, "office_id": None, "channel": None,
                                   "language": None, "digital": None}
    args.update(kw)
    return filters(today=date(2026, 3, 15), **args)  # type: ignore[arg-type]


def test_default_is_six_months_up_to_this_one_across_a_year() -> None:
    f = _f()
    assert f.months == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert (f.first, f.end) == (date(2025, 10, 1), date(2026, 4, 1))
    assert _f(first="2025-12", last="2025-12").end == date(2026, 1, 1)


@pytest.mark.parametrize(("kw", "reason"), [
    ({"first": "2026-13"}, "evaluation.month"), ({"last": "26-01"}, "evaluation.month"),
    ({"first": "2026-02", "last": "2026-01"}, "evaluation.months"),
    ({"first": "2024-01", "last": "2026-01"}, "evaluation.months"),
    ({"channel": "fax"}, "evaluation.channel"), ({"digital": "high"}, "evaluation.digital"),
    ({"language": "Finnish"}, "evaluation.language"),
])
def test_bad_filters_are_named(kw: dict[str, str], reason: str) -> None:
    with pytest.raises(BadRequest) as err:
        _f(**kw)
    assert err.value.reason == reason


def test_twenty_four_months_is_the_most() -> None:
    assert len(_f(first="2024-04", last="2026-03").months) == model.MAX_MONTHS


@pytest.mark.parametrize(("value", "people", "unit", "shown"), [
    (0, 0, "count", 0), (None, 0, "minutes", None), (None, 0, "percent", None),
    (1, 1, "count", FEWER), (12, 4, "count", FEWER), (3.25, 4, "minutes", FEWER),
    (12, 5, "count", 12), (7.0, 5, "count", 7), (3.25, 5, "minutes", 3.2), (66.666, 9, "percent", 66.7),
    (None, 6, "days", None),
])
def test_a_cell_drawn_from_fewer_than_5_people_is_never_shown(value: float | None, people: int, unit: model.Unit,
                                                              shown: model.Value) -> None:
    assert cell(value, people, unit) == shown


def test_a_figure_fills_every_month_and_series_and_suppresses() -> None:
    spec = model.BY_ID["appointments"]
    fig = figure(spec, ["2026-01", "2026-02"], [Raw("attended", "2026-02", 9, 6), Raw("missed", "2026-01", 2, 2)])
    assert [(s.key, s.cells) for s in fig.series] == [
        ("attended", [0, 9]), ("missed", [FEWER, 0]), ("technical_failure", [0, 0]), ("cancelled", [0, 0])]
    assert fig.by_channel and not fig.snapshot


def test_series_named_by_the_data_sort_by_their_label_and_snapshots_have_one_column() -> None:
    rates = figure(model.BY_ID["group_attendance"], ["2026-01"],
                   [Raw("c2", "2026-01", 80.0, 7), Raw("c1", "2026-01", 50.0, 3)], {"c1": "Tuesday", "c2": "Monday"})
    assert [(s.label, s.cells) for s in rates.series] == [("Monday", [80.0]), ("Tuesday", [FEWER])]
    assert not rates.by_channel
    stages = figure(model.BY_ID["network_stages"], ["2026-01"], [Raw("make_a_plan", NOW, 6, 6)])
    assert stages.months == [NOW] and stages.series[0].cells == [6]


def test_csv_says_fewer_than_5_and_keeps_formulas_out() -> None:
    fig = figure(model.BY_ID["group_attendance"], ["2026-01"],
                 [Raw("c1", "2026-01", 80.0, 7), Raw("c2", "2026-01", 10.0, 2), Raw("c3", "2026-01", None, 0)],
                 {"c1": "=cmd()", "c2": "Evening", "c3": "Morning"})
    rows = list(csv.reader(io.StringIO(to_csv(fig))))
    assert rows == [["figure", "series", "2026-01"], ["group_attendance", "'=cmd()", "80.0"],
                    ["group_attendance", "Evening", FEWER], ["group_attendance", "Morning", ""]]


def test_comment_aad_binds_the_row() -> None:
    assert model.comment_aad("abc") == b"feedback|abc"
