"""Evaluation through the UI (issue 16): the demo's month of check-in history as figures. The
senior officer opens Evaluation from the menu and sees their own office only; the evaluator
lands on the figures of every office and narrows them by office and channel; a figure's CSV
downloads with the same numbers and the same "fewer than 5". Axe-clean at 360 px."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest

from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly
from tests.browser.test_web_axe import assert_no_violations

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def table_rows(phone: Phone, figure: str) -> list[list[str]]:
    phone.page.locator(f"#table-{figure}").wait_for()
    rows = phone.page.locator(f"#table-{figure} tbody tr")
    return [[c.strip() for c in rows.nth(i).locator("th, td").all_inner_texts()] for i in range(rows.count())]


def assert_table(phone: Phone, figure: str, expected: list[list[str]]) -> None:
    """The figure's table shows ``expected`` (waiting up to 10 s for a reload to land)."""
    deadline = time.monotonic() + 10
    while (got := table_rows(phone, figure)) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert got == expected


def api_rows(body: dict[str, Any], figure: str, phone: Phone) -> list[list[str]]:
    [fig] = [f for f in body["figures"] if f["id"] == figure]
    def text(v: Any) -> str:
        return phone.t("evaluation.fewer") if v == "fewer than 5" else phone.t("evaluation.no_data") if v is None \
            else str(v)
    return [[phone.t(f"evaluation.series.{s['key']}"), *(text(v) for v in s["cells"])] for s in fig["series"]]


def test_senior_sees_their_office_and_the_evaluator_every_office(
        phone: Phone, tandem_server: str, tmp_path: Any) -> None:
    page = phone.page
    senior_token, evaluator_token = api_login(tandem_server, "senior"), api_login(tandem_server, "evaluator")
    own = api_call(tandem_server, "GET", "/api/evaluation", senior_token)
    everyone = api_call(tandem_server, "GET", "/api/evaluation", evaluator_token)
    assert len(own["offices"]) == 1 and len(everyone["offices"]) == 2
    [north] = [o for o in everyone["offices"] if o["id"] != own["offices"][0]["id"]]

    # The senior: Evaluation from the menu, their office's figures only.
    phone.login("senior")
    page.locator("#nav-evaluation").click()
    page.wait_for_url("**/#/evaluation")
    phone.settled()
    expect(page.locator("h1")).to_have_text(phone.t("evaluation.title"))
    expect(page.locator("#office option")).to_have_text([own["offices"][0]["name"]])
    assert_table(phone, "appointments", api_rows(own, "appointments", phone))
    # At least one cell of the demo's month is drawn from fewer than 5 people, and says so.
    expect(page.locator('#table-appointments td[data-cell="fewer"]').first).to_have_text(phone.t("evaluation.fewer"))
    assert_phone_friendly(phone)
    assert_no_violations(phone, "evaluation (senior)")
    page.locator("#logout").click()

    # The evaluator: the figures are the landing page, for every office.
    phone.login("evaluator")
    expect(page.locator("h1")).to_have_text(phone.t("evaluation.title"))
    expect(page.locator("#office option")).to_have_count(3)
    assert_table(phone, "appointments", api_rows(everyone, "appointments", phone))
    assert api_rows(everyone, "appointments", phone) != api_rows(own, "appointments", phone)  # North's month

    # Filters: the other office, by phone.
    page.locator("#office").select_option(north["id"])
    page.locator("#channel").select_option("phone")
    page.locator("#evaluation-show").click()
    phone.settled()
    narrowed = api_call(tandem_server, "GET", f"/api/evaluation?office={north['id']}&channel=phone", evaluator_token)
    assert_table(phone, "appointments", api_rows(narrowed, "appointments", phone))
    expect(page.locator("#office")).to_have_value(north["id"])
    expect(page.locator("#figure-group_attendance")).to_contain_text(phone.t("evaluation.not_by_channel"))

    # The CSV of the figure on screen: the same cells, "fewer than 5" included.
    with page.expect_download() as info:
        page.locator("#csv-appointments").click()
    path = tmp_path / "appointments.csv"
    info.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    [fig] = [f for f in narrowed["figures"] if f["id"] == "appointments"]
    assert rows[0] == ["figure", "series", *fig["months"]]
    assert rows[1:] == [["appointments", s["key"], *("" if v is None else str(v) for v in s["cells"])]
                        for s in fig["series"]]
    assert_phone_friendly(phone)
    assert_no_violations(phone, "evaluation (evaluator, filtered)")
    assert not phone.page_errors, phone.page_errors

