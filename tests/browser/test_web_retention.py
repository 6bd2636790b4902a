"""The admin's retention card (dry run, save, a refused period) and the client's "my
data" card with its countdowns: they work and axe finds no violation at all."""

from __future__ import annotations

import re

import pytest

from tests.browser.support import Phone
from tests.browser.test_web_axe import assert_no_violations

pytestmark = pytest.mark.browser


def test_admin_previews_and_is_told_what_is_wrong(phone: Phone) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    page = phone.page
    phone.login("admin")
    page.locator("#retention-table").wait_for()
    phone.settled()
    assert_no_violations(phone, "admin retention card")
    page.locator("#period-messages").fill("30")
    page.locator("#retention-preview-button").click()
    expect(page.locator("#retention-preview")).to_contain_text(phone.t("retention.summary").split("{date}")[0])
    assert_no_violations(phone, "admin retention dry run")
    page.locator("#period-messages").fill("0")
    page.locator("#retention-preview-button").click()
    alert = page.locator("#retention-result [role=alert]")
    expect(alert).to_contain_text(phone.t("errors.invalid_request"))
    expect(alert).to_contain_text("categories.messages.period_days")  # the server's reason, once
    expect(page.locator("#retention-result")).not_to_contain_text("null")
    assert_no_violations(phone, "admin retention refused period")
    page.locator("#lang-select").select_option("fi")
    page.locator("#retention-table").wait_for()
    expect(page.locator("#retention-title")).to_have_text(phone.t("retention.title", lang="fi"))
    expect(page.locator('[data-category="case_notes"] th label')).to_have_text(
        phone.t("retention.category.case_notes", lang="fi"))


def test_admin_previews_a_future_date(phone: Phone) -> None:
    """The dry run answers for the date typed in the date field: the summary names that date,
    and by 2090 every bucket of the demo data has expired, so it removes more than today."""
    expect = pytest.importorskip("playwright.sync_api").expect
    page = phone.page
    phone.login("admin")
    page.locator("#retention-table").wait_for()
    phone.settled()
    page.locator("#retention-preview-button").click()
    today = page.locator("#retention-preview")
    expect(today).to_be_visible()
    today_text = today.inner_text()
    page.locator("#retention-on").fill("2090-06-15")
    page.locator("#retention-preview-button").click()
    future = page.locator("#retention-preview")
    expect(future).to_contain_text("2090")
    pattern = re.escape(phone.t("retention.summary"))
    for name in ("items", "buckets", "cases"):
        pattern = pattern.replace(re.escape("{" + name + "}"), r"(\d+)")
    pattern = pattern.replace(re.escape("{date}"), ".+")
    match_today, match_future = re.search(pattern, today_text), re.search(pattern, future.inner_text())
    assert match_today and match_future, (today_text, future.inner_text())
    assert int(match_future.group(1)) > int(match_today.group(1))  # items removed
    assert_no_violations(phone, "admin retention dry run on a future date")


def test_client_sees_their_data_with_countdowns(phone: Phone) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    page = phone.page
    phone.login("client1")
    page.locator("#my-data-card").wait_for()
    phone.settled()
    expect(page.locator("#my-data-title")).to_have_text(phone.t("mydata.title"))
    expect(page.locator("#my-data-html")).to_have_attribute("href", "/api/my/data?format=html")
    assert_no_violations(phone, "client my data")
    page.locator("#lang-select").select_option("ro")
    page.locator("#my-data-card").wait_for()
    phone.settled()
    expect(page.locator("#my-data-title")).to_have_text(phone.t("mydata.title", lang="ro"))
    assert_no_violations(phone, "client my data in Romanian")
