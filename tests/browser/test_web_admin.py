"""Administration through the UI only: the demo admin creates a staff account in their own
office, and the new person signs in with it (staff get no enrolment link); disables an
account after a confirmation, the person can then not sign in, and re-enables it; is
refused opening an office (an office's admin is not a cross-office one), with the server's
reason and rule; sees the policy versions and the retention receipts; pages through more
accounts than a page holds (on a server of its own). The API is used only to set up fresh
accounts and to check results. Axe-clean at 360 px."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from tests.browser.conftest import DemoServer
from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly
from tests.browser.test_web_axe import assert_no_violations

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def _fresh_username() -> str:
    # "aa…" sorts before every demo account, so it is on the table's first page (by username).
    return f"aa{secrets.token_hex(4)}"


def _sign_out(phone: Phone) -> None:
    phone.page.locator("#logout").click()
    phone.page.wait_for_url("**/#/login")
    phone.settled()


def _user(base_url: str, username: str) -> dict[str, object]:
    users = api_call(base_url, "GET", "/api/admin/users?limit=500", api_login(base_url, "admin"))["users"]
    return dict(next(u for u in users if u["username"] == username))


def test_admin_creates_a_staff_account_and_the_person_signs_in(phone: Phone) -> None:
    page = phone.page
    phone.login("admin")
    assert_phone_friendly(phone)
    assert_no_violations(phone, "admin home")
    username, password, name = _fresh_username(), secrets.token_urlsafe(12), f"Anna Uus {secrets.token_hex(2)}"
    page.locator("#new-username").fill(username)
    page.locator("#new-display-name").fill(name)
    page.locator("#new-role").select_option("mentor")
    page.locator("#new-password").fill(password)
    page.locator("#new-user-form-submit").click()
    expect(page.locator("#new-user-done")).to_contain_text(phone.t("admin.user_created", username=username))
    sign_in = f"{phone.base_url}/#/login"  # staff have no enrolment link: they are told where to sign in
    expect(page.locator("#new-user-done")).to_contain_text(phone.t("admin.how_staff_sign_in", url=sign_in))
    row = page.locator(f'#users-table tr[data-username="{username}"]')
    expect(row).to_contain_text(name)
    expect(row.locator("[data-status]")).to_have_text(phone.t("admin.active"))
    assert_no_violations(phone, "admin home after creating an account")
    admin_office = api_call(phone.base_url, "GET", "/api/me", api_login(phone.base_url, "admin"))["office_id"]
    created = _user(phone.base_url, username)
    assert (created["role"], created["office_id"]) == ("mentor", admin_office)  # the admin's own office

    # The same username again: the server's refusal stays on the form.
    page.locator("#new-username").fill(username)
    page.locator("#new-display-name").fill(name)
    page.locator("#new-password").fill(password)
    page.locator("#new-user-form-submit").click()
    expect(page.locator("#new-user-form-error [role=alert]")).not_to_be_empty()

    _sign_out(phone)
    phone.submit_login(username, password)
    expect(page.locator("h1")).to_have_text(phone.t("mentor.title"))
    expect(page.locator("main")).to_contain_text(phone.t("home.greeting", name=name))


def test_admin_disables_an_account_and_enables_it_again(phone: Phone) -> None:
    page = phone.page
    username, password = _fresh_username(), secrets.token_urlsafe(12)
    api_call(phone.base_url, "POST", "/api/admin/users", api_login(phone.base_url, "admin"),
             {"username": username, "display_name": "Olev Ootel", "role": "officer", "password": password})
    phone.login("admin")
    row = page.locator(f'#users-table tr[data-username="{username}"]')
    confirm = page.locator("#user-confirm")
    row.locator("[data-toggle=disable]").click()
    expect(confirm.locator(".confirm")).to_have_text(phone.t("admin.confirm_disable", username=username))
    expect(confirm.locator("[data-confirm]")).to_be_focused()
    assert_phone_friendly(phone)
    assert_no_violations(phone, "admin disable confirmation")
    confirm.locator("[data-cancel]").click()  # changing one's mind sends nothing
    expect(row.locator("[data-toggle=disable]")).to_be_focused()
    expect(confirm).to_be_empty()
    assert _user(phone.base_url, username)["disabled"] is False
    row.locator("[data-toggle=disable]").click()
    confirm.locator("[data-confirm]").click()
    expect(row.locator("[data-status]")).to_have_text(phone.t("admin.disabled"))
    expect(page.locator("#users-status")).to_have_text(phone.t("admin.disabled_done", username=username))
    assert _user(phone.base_url, username)["disabled"] is True

    _sign_out(phone)
    phone.submit_login(username, password)
    expect(page.locator("#login-error")).to_have_text(phone.t("errors.invalid_credentials"))

    phone.submit_login("admin")
    page.locator("#logout").wait_for()
    phone.settled()
    row.locator("[data-toggle=enable]").click()
    expect(confirm.locator(".confirm")).to_have_text(phone.t("admin.confirm_enable", username=username))
    confirm.locator("[data-confirm]").click()
    expect(row.locator("[data-status]")).to_have_text(phone.t("admin.active"))
    assert _user(phone.base_url, username)["disabled"] is False

    _sign_out(phone)
    phone.submit_login(username, password)
    expect(page.locator("h1")).to_have_text(phone.t("officer.title"))


def test_admin_sees_versions_receipts_and_the_office_refusal(phone: Phone) -> None:
    page = phone.page
    token = api_login(phone.base_url, "admin")
    versions = api_call(phone.base_url, "GET", "/api/policies/versions", token)["versions"]
    runs = api_call(phone.base_url, "GET", "/api/admin/retention/runs", token)["runs"]
    offices = api_call(phone.base_url, "GET", "/api/admin/offices", token)["offices"]
    phone.login("admin")
    newest = max(v["version"] for v in versions)
    expect(page.locator("#versions > li")).to_have_count(len(versions))
    expect(page.locator("#versions > li").first).to_have_attribute("data-version", str(newest))
    expect(page.locator("#versions > li").first).to_contain_text(phone.t("admin.version_n", version=newest))
    if runs:
        expect(page.locator("#runs > li")).to_have_count(len(runs))
    else:
        expect(page.locator("#runs")).to_have_text(phone.t("admin.no_runs"))
    expect(page.locator("#offices li")).to_have_text([o["name"] for o in offices])

    name = f"Tartu {secrets.token_hex(2)}"
    page.locator("#new-office-name").fill(name)
    page.locator("#new-office-form-submit").click()
    refusal = page.locator("#new-office-form-error")
    expect(refusal.locator("[role=alert]")).not_to_be_empty()
    expect(refusal).to_contain_text(phone.t("remote.rule", rule_id="scope"))
    assert_no_violations(phone, "admin office refused")
    after = api_call(phone.base_url, "GET", "/api/admin/offices", token)["offices"]
    assert name not in [o["name"] for o in after]

    page.locator("#lang-select").select_option("fi")
    page.locator("#versions").wait_for()
    phone.settled()
    expect(page.locator("#versions-card-title")).to_have_text(phone.t("admin.versions", lang="fi"))
    expect(page.locator("#new-user-form-submit")).to_have_text(phone.t("admin.create_user", lang="fi"))
    assert_no_violations(phone, "admin home in Finnish")


def test_admin_pages_through_the_accounts(restartable_server: DemoServer, open_device: Callable[..., Phone]) -> None:
    """A server of this test's own, so the shared one's first page keeps every demo account."""
    base = restartable_server.base_url
    admin = api_login(base, "admin")
    demo = len(api_call(base, "GET", "/api/admin/users", admin)["users"])
    for n in range(101 - demo):  # 101 accounts: one more than a page
        api_call(base, "POST", "/api/admin/users", admin,
                 {"username": f"zz{n:03d}", "display_name": f"Zoe {n:03d}", "role": "mentor",
                  "password": "a-long-password"})
    phone = open_device(base)
    page = phone.page
    phone.login("admin")
    rows = page.locator("#users-table tbody tr")
    expect(rows).to_have_count(100)
    expect(page.locator("#users-range")).to_have_text(phone.t("admin.users_range", **{"from": 1, "to": 100}))
    expect(page.locator("#users-previous")).to_have_count(0)
    page.locator("#users-next").click()
    expect(page.locator("#users-range")).to_have_text(phone.t("admin.users_range", **{"from": 101, "to": 101}))
    expect(rows).to_have_count(1)
    last = f"zz{100 - demo:03d}"
    expect(rows.first).to_have_attribute("data-username", last)
    expect(page.locator("#users-next")).to_have_count(0)
    assert_no_violations(phone, "admin users, second page")
    page.locator("#users-previous").click()
    expect(rows).to_have_count(100)
    expect(page.locator(f'#users-table tr[data-username="{last}"]')).to_have_count(0)
