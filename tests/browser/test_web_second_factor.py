"""Staff set up two-step sign-in when the server requires it (TANDEM_REQUIRE_STAFF_MFA).

These run against `mfa_server`; a demo account can enrol only once per server, so each
test signs in as a different staff member (facilitator, officer; the axe test uses senior).
"""

from __future__ import annotations

import re
import time

import pytest

from server.identity import totp  # the server's RFC 6238 generator stands in for an authenticator app
from tests.browser.support import Phone, assert_phone_friendly

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def reach_setup(phone: Phone, username: str) -> str:
    """Sign in as a staff member without a second factor; returns the key the screen shows."""
    phone.open_login()
    phone.submit_login(username)
    expect(phone.page.locator("h1")).to_have_text(phone.t("mfa_setup.title"))
    expect(phone.page).to_have_url(f"{phone.base_url}/#/second-factor")
    shown = phone.page.locator("#totp-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})+", shown), shown
    return shown.replace(" ", "")


def confirm_with_app(phone: Phone, secret: str) -> list[str]:
    phone.page.locator("#totp-code").fill(totp.code_at(secret, time.time()))
    phone.page.locator("form button[type=submit]").click()
    expect(phone.page.locator("h1")).to_have_text(phone.t("mfa_setup.codes_title"))
    codes = phone.page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{8}", c) for c in codes), codes
    return codes


def test_facilitator_sets_up_second_factor_and_signs_in_with_it(mfa_phone: Phone) -> None:
    phone, page = mfa_phone, mfa_phone.page
    secret = reach_setup(phone, "facilitator")
    header = page.locator("header")
    expect(header.get_by_role("link", name=phone.t("nav.home"))).to_have_count(0)  # leads nowhere yet
    expect(header.get_by_role("button", name=phone.t("action.logout"))).to_be_visible()
    uri = page.locator("#otpauth-link")
    expect(uri).to_have_attribute("href", re.compile(rf"^otpauth://totp/.*secret={secret}"))
    assert_phone_friendly(phone)
    codes = confirm_with_app(phone, secret)
    expect(page.locator("h1")).to_be_focused()
    expect(page.locator("main")).to_contain_text(phone.t("mfa_setup.codes_once"))
    assert_phone_friendly(phone)
    page.locator("#codes-saved").click()
    expect(page.locator("h1")).to_have_text(phone.t("facilitator.title"))
    expect(page).to_have_url(f"{phone.base_url}/#/home")
    expect(header.get_by_role("link", name=phone.t("nav.home"))).to_be_visible()
    # The next sign-in asks for the second factor; a recovery code from the screen works.
    page.locator("#logout").click()
    phone.submit_login("facilitator")
    expect(page.locator("h1")).to_have_text(phone.t("login.totp_title"))
    page.locator("#totp").fill(codes[0])
    page.locator("form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text(phone.t("facilitator.title"))
    assert not phone.page_errors, phone.page_errors
    assert not phone.csp_reports()


def test_officer_is_sent_to_setup_by_the_caseload_call(mfa_phone: Phone) -> None:
    phone, page = mfa_phone, mfa_phone.page
    secret = reach_setup(phone, "officer")
    alert = page.locator("#mfa-setup-error")
    page.locator("#totp-code").fill("12 ab")
    page.locator("form button[type=submit]").click()
    expect(alert).to_have_text(phone.t("mfa_setup.code_format"))
    expect(page.locator("#totp-code")).to_be_focused()
    now = time.time()
    recent = {totp.code_at(secret, now + drift * 30) for drift in (-1, 0, 1, 2)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in recent)
    page.locator("#totp-code").fill(wrong)
    page.locator("form button[type=submit]").click()
    expect(alert).to_have_text(phone.t("mfa_setup.wrong_code"))
    expect(page.locator("#totp-code")).to_have_attribute("aria-invalid", "true")
    # Switching language keeps the same key (a new one would break the app's entry).
    page.locator("#lang-select").select_option("et")
    expect(page.locator("h1")).to_have_text(phone.t("mfa_setup.title", lang="et"))
    assert page.locator("#totp-secret").inner_text().replace(" ", "") == secret
    confirm_with_app(phone, secret)
    page.reload()  # the codes are shown once; enrolment is done, so the caseload loads
    expect(page.locator("h1")).to_have_text(phone.t("officer.title", lang="et"))
    expect(page.locator("li.case").first).to_be_visible()
    assert not phone.page_errors, phone.page_errors
