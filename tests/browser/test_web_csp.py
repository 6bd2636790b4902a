"""The client runs under the server's strict Content Security Policy without a violation."""

from __future__ import annotations

import urllib.request

import pytest

from tests.browser.support import Phone

pytestmark = pytest.mark.browser

# One user per landing module.
USERS = ("admin", "senior", "facilitator", "mentor", "client3")


def test_server_sends_strict_csp(tandem_server: str) -> None:
    with urllib.request.urlopen(f"{tandem_server}/", timeout=10) as resp:
        policy = resp.headers.get("Content-Security-Policy", "")
        body = resp.read().decode()
    for required in ("script-src 'self'", "style-src 'self'", "connect-src 'self'"):
        assert required in policy, policy
    for loophole in ("unsafe-inline", "unsafe-eval"):
        assert loophole not in policy, policy
    assert '<script type="module" src="/shared/app.js">' in body


def test_no_csp_violations_on_any_screen(phone: Phone) -> None:
    phone.open_login()
    phone.page.locator("#lang-select").select_option("fi")
    phone.page.locator("#lang-select").select_option("en")
    phone.page.locator("#enrol-link").click()  # the client enrolment screen, and back
    phone.page.locator("#enrol-code").wait_for()
    phone.page.locator("#login-link").click()
    phone.page.locator("#username").wait_for()
    phone.submit_login("officer", "wrong-password")
    phone.page.locator("#login-error:not(:empty)").wait_for()
    phone.submit_login("officer")
    phone.page.locator("#logout").wait_for()
    phone.settled()
    for username in USERS:
        phone.page.locator("#logout").click()
        phone.page.locator("#username").wait_for()
        phone.submit_login(username)
        phone.page.locator("#logout").wait_for()
        phone.settled()
    reports = phone.csp_reports()  # no full page load happened, so nothing was lost
    assert not reports, "CSP violations:\n" + "\n".join(reports)
    assert not phone.page_errors, phone.page_errors
