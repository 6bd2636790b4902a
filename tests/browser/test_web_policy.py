"""An admin changes a policy rule through the UI only, on a server of its own (so the
shared demo server's rules stay as other tests expect them): the rule's form is derived
from its config and the values the server lists (a yes/no as a checkbox, a number as a
number, one of a fixed set as a select, a list of them as checkboxes, other lists as comma-separated
text); a value the server's schema refuses is shown with the server's reason, nothing
stored; a valid change with a reason becomes a new policy version, listed with who and
why; changed back, a version more. The API is used only to check results. Axe-clean at
360 px."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import _phone, _serve
from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly
from tests.browser.test_web_axe import assert_no_violations

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

RULE = "face_to_face_first"


@pytest.fixture(scope="module")
def policy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(tmp_path_factory, "TANDEM_POLICY_BASE_URL")


@pytest.fixture
def admin(browser: Any, policy_server: str, catalogs: dict[str, dict[str, str]]) -> Iterator[Phone]:
    yield from _phone(browser, policy_server, catalogs)


def _rule(base_url: str) -> tuple[int, dict[str, Any]]:
    policies = api_call(base_url, "GET", "/api/policies", api_login(base_url, "admin"))
    return int(policies["version"]), next(r["config"] for r in policies["rules"] if r["rule_id"] == RULE)


def _change(phone: Phone, min_meetings: str, reason: str) -> None:
    page = phone.page
    page.locator(f"#policy-{RULE}-min_meetings").fill(min_meetings)
    page.locator(f"#policy-{RULE}-reason").fill(reason)
    page.locator(f"#policy-{RULE}-save").click()


def test_admin_changes_a_rule_is_refused_a_bad_value_and_changes_it_back(admin: Phone) -> None:
    page, base = admin.page, admin.base_url
    version, config = _rule(base)
    assert config["min_meetings"] == 1
    admin.login("admin")
    page.locator(f"[data-change-rule={RULE}]").click()
    form = page.locator(f"#policy-{RULE}-form")
    expect(page.locator(f"#policy-{RULE}-enabled")).to_be_checked()
    expect(page.locator(f"#policy-{RULE}-enabled")).to_have_attribute("type", "checkbox")
    expect(page.locator(f"#policy-{RULE}-min_meetings")).to_have_attribute("type", "number")
    expect(page.locator(f"#policy-{RULE}-min_meetings")).to_have_value("1")
    # A list of a fixed set (the server lists the values): a checkbox each, those in force ticked.
    for action in ("send_message", "start_video", "supervise_remotely"):
        box = page.locator(f"#policy-{RULE}-gated_actions-{action}")
        expect(box).to_be_checked(checked=action in config["gated_actions"])
    # One of a fixed set: a select.
    page.locator("[data-change-rule=scope]").click()
    expect(page.locator("#policy-scope-senior_officer_scope option")).to_have_text(["caseload", "office"])
    assert_phone_friendly(admin)
    assert_no_violations(admin, "admin changing a policy rule")

    # No meetings at all is not a setting the schema allows: refused, the reason shown, nothing stored.
    _change(admin, "0", "Try none")
    expect(form.locator("[role=alert]")).to_be_visible()
    expect(form.locator(".error-box")).to_contain_text("min_meetings")
    expect(page.locator(f"#policy-{RULE}-min_meetings")).to_have_value("0")
    assert_no_violations(admin, "admin policy form with a refusal")
    assert _rule(base) == (version, config)

    # Two meetings first: a new version, listed with who changed it and why.
    reason = f"Pilot: two meetings first {secrets.token_hex(2)}"
    _change(admin, "2", reason)
    expect(page.locator("#policy-status")).to_have_text(admin.t("admin.policy_changed", version=version + 1))
    expect(page.locator("#policy-version")).to_have_text(str(version + 1))
    newest = page.locator("#versions > li").first
    expect(newest).to_have_attribute("data-version", str(version + 1))
    expect(newest).to_contain_text(reason)
    stored = api_call(base, "GET", "/api/policies/versions", api_login(base, "admin"))["versions"]
    author = next(v["author"] for v in stored if v["version"] == version + 1)
    assert author
    expect(newest).to_contain_text(author)
    assert _rule(base) == (version + 1, {**config, "min_meetings": 2})

    # And back, as it was: one version more.
    page.locator(f"[data-change-rule={RULE}]").click()
    expect(page.locator(f"#policy-{RULE}-min_meetings")).to_have_value("2")
    _change(admin, "1", "Pilot over")
    expect(page.locator("#policy-version")).to_have_text(str(version + 2))
    expect(page.locator("#versions > li").first).to_contain_text("Pilot over")
    assert _rule(base) == (version + 2, config)
    versions = api_call(base, "GET", "/api/policies/versions", api_login(base, "admin"))["versions"]
    assert {v["reason"] for v in versions} >= {reason, "Pilot over"}
