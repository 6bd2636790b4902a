"""Signing in and out: errors come from the catalog and are announced."""

from __future__ import annotations

import time

import pytest

from server.identity import totp  # the server's RFC 6238 generator stands in for an authenticator app
from tests.browser.support import Phone, enrolled_staff

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def test_wrong_password_shows_catalog_message(phone: Phone) -> None:
    phone.open_login()
    phone.submit_login("officer", "not-the-password")
    alert = phone.page.locator("#login-error")
    expect(alert).to_have_text(phone.t("errors.invalid_credentials"))
    expect(alert).to_have_attribute("role", "alert")
    expect(phone.page.locator("#password")).to_have_attribute("aria-invalid", "true")
    expect(phone.page).to_have_url(f"{phone.base_url}/#/login")


def test_empty_form_is_caught_before_sending(phone: Phone) -> None:
    phone.open_login()
    sent: list[str] = []
    phone.page.on("request", lambda req: sent.append(req.url) if "/api/session" in req.url else None)
    phone.page.locator("form button[type=submit]").click()
    expect(phone.page.locator("#login-error")).to_have_text(phone.t("login.missing_fields"))
    expect(phone.page.locator("#username")).to_be_focused()
    assert not sent


def test_logout_returns_to_login_and_ends_the_session(phone: Phone) -> None:
    phone.login("officer")
    phone.page.reload()  # the HttpOnly session cookie keeps the person signed in
    phone.page.locator("#logout").wait_for()
    phone.settled()
    phone.page.locator("#logout").click()
    expect(phone.page).to_have_url(f"{phone.base_url}/#/login")
    expect(phone.page.locator("h1")).to_have_text(phone.t("login.title"))
    expect(phone.page.locator("#logout")).to_have_count(0)
    phone.page.goto(f"{phone.base_url}/#/home")  # the server no longer knows the session
    phone.page.reload()
    phone.page.locator("#username").wait_for()
    expect(phone.page).to_have_url(f"{phone.base_url}/#/login")


def test_expired_session_returns_to_login_with_a_notice(phone: Phone) -> None:
    phone.login("officer")
    phone.page.context.clear_cookies()  # as if the session expired on the server
    phone.page.locator("#lang-select").select_option("fi")  # re-renders, so the caseload is fetched again
    expect(phone.page).to_have_url(f"{phone.base_url}/#/login")
    expect(phone.page.locator("#login-error")).to_have_text(phone.t("errors.unauthenticated", lang="fi"))


def test_keyboard_focus_is_always_visible(phone: Phone) -> None:
    phone.open_login()
    seen = []
    for _ in range(8):
        phone.page.keyboard.press("Tab")
        focused = phone.page.evaluate("""() => {
            const el = document.activeElement, style = getComputedStyle(el);
            return {id: el.id || el.tagName, outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
        }""")
        if focused["id"] in ("BODY", "HTML"):
            break  # tabbed past the last control
        seen.append(focused["id"])
        assert focused["outline"] != "none", focused
        assert focused["width"] >= 2, focused
    assert seen == ["lang-select", "username", "password", "show-password", "BUTTON", "enrol-link"], seen


def test_staff_sign_in_asks_for_the_second_factor(phone: Phone, admin_token: str) -> None:
    username, password, secret = enrolled_staff(phone.base_url, admin_token)
    phone.open_login()
    phone.submit_login(username, password)
    expect(phone.page.locator("h1")).to_have_text(phone.t("login.totp_title"))
    expect(phone.page.locator("#totp")).to_be_focused()
    phone.page.reload()  # password accepted, second factor pending: the code step comes back
    expect(phone.page.locator("h1")).to_have_text(phone.t("login.totp_title"))
    phone.page.locator("#totp").fill("000000" if totp.code_at(secret, time.time()) != "000000" else "111111")
    phone.page.locator("form button[type=submit]").click()
    expect(phone.page.locator("#login-error")).to_have_text(phone.t("errors.invalid_totp"))
    phone.page.locator("#totp").fill(totp.code_at(secret, time.time() + 30))
    phone.page.locator("form button[type=submit]").click()
    expect(phone.page.locator("h1")).to_have_text(phone.t("officer.title"))
    expect(phone.page.locator("main")).to_contain_text(phone.t("officer.empty"))


def test_second_factor_step_can_be_abandoned(phone: Phone, admin_token: str) -> None:
    username, password, _ = enrolled_staff(phone.base_url, admin_token)
    phone.open_login()
    phone.submit_login(username, password)
    phone.page.locator("#totp-cancel").click()
    expect(phone.page.locator("h1")).to_have_text(phone.t("login.title"))
    phone.page.reload()  # the half-finished session was ended on the server too
    expect(phone.page.locator("#password")).to_be_visible()
