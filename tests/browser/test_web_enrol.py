"""A new client enrols with the link (or code) from their officer, then signs in.

Every failed enrolment counts against one shared server-side throttle (key "enrol", per
address), so these tests send as few wrong codes as they can; the 429 case is simulated.
"""

from __future__ import annotations

import json
import re
import secrets

import pytest

from tests.browser.support import Phone, api_call, assert_phone_friendly, open_case

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def fill_passwords(phone: Phone, password: str, again: str | None = None) -> None:
    phone.page.locator("#new-password").fill(password)
    phone.page.locator("#confirm-password").fill(password if again is None else again)


def submit(phone: Phone) -> None:
    phone.page.locator("form button[type=submit]").click()


def test_client_enrols_with_the_link_and_signs_in(phone: Phone) -> None:
    username, link = open_case(phone.base_url, "Kaisa Uusi")
    code = link.split("code=", 1)[1]
    page = phone.page
    page.goto(f"{phone.base_url}{link}")
    phone.settled()
    expect(page.locator("h1")).to_have_text(phone.t("enrol.title"))
    expect(page.locator("#enrol-code")).to_have_value(code)
    expect(page.locator("#new-password-hint")).to_have_text(phone.t("enrol.password_rule", min=10))
    expect(page.locator("#new-password")).to_have_attribute("aria-describedby", "new-password-hint")
    assert_phone_friendly(phone)
    fill_passwords(phone, PASSWORD)
    submit(phone)
    expect(page.locator("h1")).to_have_text(phone.t("enrol.done_title"))
    expect(page.locator("h1")).to_be_focused()
    expect(page.locator("#enrol-done")).to_contain_text(phone.t("enrol.done_username"))
    expect(page.locator("#enrol-username")).to_have_text(username)
    assert_phone_friendly(phone)
    page.locator("#lang-select").select_option("fi")  # the used-up code cannot show it again
    expect(page.locator("h1")).to_have_text(phone.t("enrol.done_title", lang="fi"))
    expect(page.locator("#enrol-username")).to_have_text(username)
    page.locator("#lang-select").select_option("en")
    page.locator("#enrol-sign-in").click()
    expect(page).to_have_url(f"{phone.base_url}/#/login")
    expect(page.locator("#username")).to_have_value(username)
    expect(page.locator("#password")).to_be_focused()
    page.locator("#password").fill(PASSWORD)
    submit(phone)
    expect(page.locator("h1")).to_have_text(phone.t("home.greeting", name="Kaisa Uusi"))
    expect(page).to_have_url(f"{phone.base_url}/#/home")
    expect(page.locator("#officer-name")).not_to_be_empty()
    assert not phone.page_errors, phone.page_errors
    assert not phone.csp_reports()


def test_used_code_says_ask_the_officer_for_a_new_one(phone: Phone) -> None:
    _, link = open_case(phone.base_url)
    code = link.split("code=", 1)[1]
    assert api_call(phone.base_url, "POST", "/api/enrol", body={"code": code, "password": PASSWORD})["username"]
    phone.page.goto(f"{phone.base_url}{link}")
    phone.settled()
    fill_passwords(phone, PASSWORD)
    submit(phone)
    alert = phone.page.locator("#enrol-error")
    expect(alert).to_have_text(phone.t("enrol.code_invalid"))
    expect(alert).to_have_attribute("role", "alert")
    expect(phone.page.locator("#enrol-code")).to_have_attribute("aria-invalid", "true")
    expect(phone.page.locator("#enrol-code")).to_be_focused()
    expect(phone.page.locator("h1")).to_have_text(phone.t("enrol.title"))


def test_typed_code_may_be_lowercase_with_spaces(phone: Phone) -> None:
    """A code typed from paper is tidied up before it is sent; a wrong one is refused."""
    phone.open_login()
    phone.page.locator("#enrol-link").click()
    expect(phone.page.locator("h1")).to_have_text(phone.t("enrol.title"))
    expect(phone.page).to_have_url(f"{phone.base_url}/#/enrol")
    expect(phone.page.locator("#enrol-code")).to_have_value("")
    made_up = secrets.token_hex(9)
    sent: list[dict[str, str]] = []
    phone.page.on("request", lambda req: sent.append(json.loads(req.post_data or "{}"))
                  if req.url.endswith("/api/enrol") else None)
    phone.page.locator("#enrol-code").fill(f" {made_up[:6]} {made_up[6:12]}  {made_up[12:]} ")
    fill_passwords(phone, PASSWORD)
    submit(phone)
    expect(phone.page.locator("#enrol-error")).to_have_text(phone.t("enrol.code_invalid"))
    expected = "-".join(made_up[i:i + 6] for i in (0, 6, 12)).upper()
    assert [body["code"] for body in sent] == [expected]
    expect(phone.page.locator("#enrol-code")).to_have_value(expected)


def test_form_is_checked_before_sending(phone: Phone) -> None:
    page = phone.page
    page.goto(f"{phone.base_url}/#/enrol")
    phone.settled()
    sent: list[str] = []
    page.on("request", lambda req: sent.append(req.url) if "/api/enrol" in req.url else None)
    alert = page.locator("#enrol-error")
    submit(phone)
    expect(alert).to_have_text(phone.t("enrol.code_missing"))
    expect(page.locator("#enrol-code")).to_be_focused()
    page.locator("#enrol-code").fill("A1B2C3-D4E5F6")
    submit(phone)
    expect(alert).to_have_text(phone.t("enrol.code_format"))
    page.locator("#enrol-code").fill("a1b2c3-d4e5f6-0a1b2c")
    fill_passwords(phone, "too short")
    submit(phone)
    expect(alert).to_have_text(phone.t("enrol.password_short", min=10))
    expect(page.locator("#new-password")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#new-password")).to_be_focused()
    fill_passwords(phone, PASSWORD, PASSWORD + "!")
    submit(phone)
    expect(alert).to_have_text(phone.t("enrol.password_mismatch"))
    expect(page.locator("#confirm-password")).to_be_focused()
    expect(page.locator("#new-password")).not_to_have_attribute("aria-invalid", "true")
    page.locator("#show-passwords").check()
    expect(page.locator("#new-password")).to_have_attribute("type", "text")
    expect(page.locator("#confirm-password")).to_have_attribute("type", "text")
    assert not sent
    # Typing survives a language switch (the code tidied up as it would be sent).
    page.locator("#lang-select").select_option("ro")
    expect(page.locator("h1")).to_have_text(phone.t("enrol.title", lang="ro"))
    expect(page.locator("#enrol-code")).to_have_value("A1B2C3-D4E5F6-0A1B2C")


def test_throttled_enrolment_says_wait(phone: Phone) -> None:
    body = {"error": {"code": "rate_limited", "message": "Too many attempts; try again in 30 s"}}
    phone.page.route("**/api/enrol", lambda route: route.fulfill(
        status=429, content_type="application/json", body=json.dumps(body)))
    phone.page.goto(f"{phone.base_url}/#/enrol?code=A1B2C3-D4E5F6-0A1B2C")
    phone.settled()
    fill_passwords(phone, PASSWORD)
    submit(phone)
    expect(phone.page.locator("#enrol-error")).to_have_text(phone.t("errors.rate_limited"))
    expect(phone.page.locator("form button[type=submit]")).to_be_enabled()


def test_login_page_links_to_enrolment(phone: Phone) -> None:
    phone.open_login()
    link = phone.page.get_by_role("link", name=phone.t("login.enrol_link"))
    expect(link).to_have_attribute("href", "#/enrol")
    link.click()
    expect(phone.page.locator("h1")).to_have_text(phone.t("enrol.title"))
    phone.page.get_by_role("link", name=phone.t("enrol.have_password")).click()
    expect(phone.page.locator("h1")).to_have_text(phone.t("login.title"))
    assert re.search(r"#/login$", phone.page.url)
