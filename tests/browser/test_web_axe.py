"""axe-core finds no serious or critical WCAG problem on any screen (phone size)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from server.identity import totp
from tests.browser.support import AXE_JS, DEMO_USERS, Phone, enrolled_staff, open_case

pytestmark = pytest.mark.browser

BLOCKING = {"serious", "critical"}


def run_axe(phone: Phone) -> list[dict[str, Any]]:
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} missing: run `npm ci` at the repository root", pytrace=False)
    # Evaluated through DevTools, so the page's strict CSP does not have to allow it.
    phone.page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    results = phone.page.evaluate("""async () => {
        const r = await axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa",
                                            "best-practice"]},
            resultTypes: ["violations"]});
        return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => ({target: n.target, summary: n.failureSummary}))}));
    }""")
    return list(results)


def assert_no_blocking_violations(phone: Phone, screen: str) -> None:
    violations = run_axe(phone)
    if violations:
        print(f"axe on {screen}:\n{json.dumps(violations, indent=2)}")
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"axe on {screen}:\n{json.dumps(blocking, indent=2)}"


def test_login_page_is_accessible(phone: Phone) -> None:
    phone.open_login()
    assert_no_blocking_violations(phone, "login")
    phone.submit_login("officer", "wrong-password")
    phone.page.locator("#login-error:not(:empty)").wait_for()
    assert_no_blocking_violations(phone, "login with error")


@pytest.mark.parametrize("username", DEMO_USERS)
def test_landing_page_is_accessible(phone: Phone, username: str) -> None:
    phone.login(username)
    assert_no_blocking_violations(phone, f"{username} landing page")


def test_second_factor_step_is_accessible(phone: Phone, admin_token: str) -> None:
    username, password, _ = enrolled_staff(phone.base_url, admin_token)
    phone.open_login()
    phone.submit_login(username, password)
    phone.page.locator("#totp").wait_for()
    assert_no_blocking_violations(phone, "second factor step")


def assert_no_violations(phone: Phone, screen: str) -> None:
    """The newer screens are held to more: no violation at all, whatever its impact."""
    violations = run_axe(phone)
    assert not violations, f"axe on {screen}:\n{json.dumps(violations, indent=2)}"


def test_enrolment_screens_are_accessible(phone: Phone) -> None:
    _, link = open_case(phone.base_url)
    phone.page.goto(f"{phone.base_url}{link}")
    phone.settled()
    assert_no_violations(phone, "client enrolment")
    phone.page.locator("#new-password").fill("short")
    phone.page.locator("form button[type=submit]").click()
    phone.page.locator("#enrol-error:not(:empty)").wait_for()
    assert_no_violations(phone, "client enrolment with error")
    phone.page.locator("#new-password").fill("a long enough password")
    phone.page.locator("#confirm-password").fill("a long enough password")
    phone.page.locator("form button[type=submit]").click()
    phone.page.locator("#enrol-username").wait_for()
    assert_no_violations(phone, "client enrolment done")


def test_second_factor_setup_is_accessible(mfa_phone: Phone) -> None:
    phone = mfa_phone
    phone.open_login()
    phone.submit_login("senior")
    phone.page.locator("#totp-secret").wait_for()
    phone.settled()
    assert_no_violations(phone, "second factor set-up")
    phone.page.locator(".more summary").click()
    phone.page.locator("#totp-code").fill("12")
    phone.page.locator("form button[type=submit]").click()
    phone.page.locator("#mfa-setup-error:not(:empty)").wait_for()
    assert_no_violations(phone, "second factor set-up with error")
    secret = phone.page.locator("#totp-secret").inner_text().replace(" ", "")
    phone.page.locator("#totp-code").fill(totp.code_at(secret, time.time()))
    phone.page.locator("form button[type=submit]").click()
    phone.page.locator("#recovery-codes").wait_for()
    assert_no_violations(phone, "recovery codes")


def test_messaging_screens_are_accessible(phone: Phone) -> None:
    page = phone.page
    phone.login("client1")
    assert_no_violations(phone, "client landing page with messages")
    page.locator("#nav-messages").click()
    page.wait_for_url("**/#/messages")
    phone.settled()
    assert_no_violations(phone, "client conversation list")
    page.locator('#conversations [data-kind="case"] a').click()
    page.locator("#message-input").wait_for()
    phone.settled()
    assert_no_violations(phone, "client thread")
    page.locator("#send-button").click()  # nothing written: an error for the text box
    page.locator("#composer-error:not(:empty)").wait_for()
    assert_no_violations(phone, "client thread, empty message")
    page.locator("#message-input").fill("Checking that this page is accessible")
    page.locator("#send-button").click()
    page.locator("#messages > li.msg-own[data-seq]").last.wait_for()
    assert_no_violations(phone, "client thread with a sent message")

    page.locator("#logout").click()
    page.locator("#username").wait_for()
    phone.submit_login("officer")
    page.locator("#open-inbox").wait_for()
    phone.settled()
    page.locator("#open-inbox").click()
    page.locator("#conversations").wait_for()
    phone.settled()
    assert_no_violations(phone, "officer inbox")
    page.locator("#conversations .badge-unread:visible").first.wait_for()  # client1 wrote
    page.locator('#conversations [data-kind="case"] a').first.click()
    page.locator("#message-input").wait_for()
    phone.settled()
    assert_no_violations(phone, "officer thread")

    page.locator("#logout").click()
    page.locator("#username").wait_for()
    phone.submit_login("mentor")
    page.locator('#messages-card [data-kind="mentoring"] a').wait_for()
    phone.settled()
    assert_no_violations(phone, "mentor landing page with messages")


def test_refused_message_is_accessible(phone: Phone) -> None:
    """A client who may not write yet is told why in place of the composer (issue 13)."""
    phone.login("client2")
    phone.page.locator('#messages-card [data-kind="case"] a').click()
    phone.page.locator("#cannot-write-reason").wait_for()
    phone.settled()
    assert_no_violations(phone, "thread where the client cannot write yet")
