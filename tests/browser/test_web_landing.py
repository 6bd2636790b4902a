"""Each demo user signs in on a phone and lands on the page for their role."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.support import DEMO_USERS, Phone, assert_phone_friendly

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

Directory = dict[str, dict[str, Any]]


def name_of(directory: Directory, username: str) -> str:
    return str(directory[username]["display_name"])


def case_card(phone: Phone, directory: Directory, client: str) -> Any:
    return phone.page.locator("li.case").filter(
        has=phone.page.get_by_role("heading", name=name_of(directory, client), exact=True))


def check_admin(phone: Phone, directory: Directory) -> None:
    page = phone.page
    expect(page.locator("h1")).to_have_text(phone.t("admin.title"))
    table = page.locator("#users-table")
    for username in DEMO_USERS:
        expect(table.locator(f'tr[data-username="{username}"]')).to_contain_text(
            name_of(directory, username))
    expect(page.locator("#policy-version")).to_have_text(re.compile(r"^\d+$"))
    rule = page.locator('.rules li[data-rule-id="face_to_face_first"]')
    expect(rule).to_be_visible()
    expect(rule.locator(".rule-title")).not_to_be_empty()


def check_caseload(phone: Phone, directory: Directory, heading_key: str) -> None:
    page = phone.page
    expect(page.locator("h1")).to_have_text(phone.t(heading_key))
    allowed = case_card(phone, directory, "client1")
    expect(allowed.locator("[data-remote]")).to_have_attribute("data-remote", "allowed")
    expect(allowed).to_contain_text(phone.t("remote.allowed.staff"))
    refused = case_card(phone, directory, "client2")
    remote = refused.locator("[data-remote]")
    expect(remote).to_have_attribute("data-remote", "refused")
    expect(remote).to_have_attribute("data-rule-id", "face_to_face_first")
    expect(remote).to_contain_text(phone.t("remote.not_allowed.staff"))
    expect(remote).to_contain_text(phone.t("remote.rule", rule_id="face_to_face_first"))
    expect(refused.locator(".badge")).to_contain_text([phone.t("flag.domestic_violence")])
    needs = case_card(phone, directory, "client3")
    expect(needs).to_contain_text(phone.t("flag.low_digital_access"))
    interpreter = phone.t("flag.interpreter_language", language="")
    expect(needs.locator(".badge").filter(has_text=interpreter)).to_have_count(1)
    if phone.lang() == "en":
        expect(needs).to_contain_text("Interpreter needed: Romanian")


def check_officer(phone: Phone, directory: Directory) -> None:
    check_caseload(phone, directory, "officer.title")


def check_senior(phone: Phone, directory: Directory) -> None:
    check_caseload(phone, directory, "officer.title_senior")
    expect(case_card(phone, directory, "client1")).to_contain_text(name_of(directory, "officer"))


def check_facilitator(phone: Phone, directory: Directory) -> None:
    expect(phone.page.locator("h1")).to_have_text(phone.t("facilitator.title"))
    expect(phone.page.locator("main")).to_contain_text(
        phone.t("home.greeting", name=name_of(directory, "facilitator")))
    expect(phone.page.locator("main")).to_contain_text(
        phone.t("home.signed_in_as", role=phone.t("role.facilitator")))
    # The demo programme groups by name (Thursday afternoon holds the history clients' month of
    # sessions, server/demo.py); each group's conversation is in the message list.
    expect(phone.page.locator("#groups > li")).to_have_count(2)
    for name in ("Tuesday evening", "Thursday afternoon"):
        expect(phone.page.locator("#groups > li", has_text=name)).to_have_count(1)
    expect(phone.page.locator('.conv[data-kind="group"]')).to_have_count(2)


def check_mentor(phone: Phone, directory: Directory) -> None:
    expect(phone.page.locator("h1")).to_have_text(phone.t("mentor.title"))
    expect(phone.page.locator("#mentees > li h2")).to_have_text([name_of(directory, "client1")])
    main = phone.page.locator("main")
    for other in ("client2", "client3"):
        expect(main).not_to_contain_text(name_of(directory, other))


def check_evaluator(phone: Phone, directory: Directory) -> None:
    """The figures are an evaluator's home: every office, a chart and its table per figure."""
    expect(phone.page.locator("h1")).to_have_text(phone.t("evaluation.title"))
    expect(phone.page.locator("#office option")).to_have_count(3)  # all offices, and each of the two
    expect(phone.page.locator("#table-appointments")).to_be_visible()
    expect(phone.page.locator("main")).not_to_contain_text(name_of(directory, "client1"))


def check_client(client: str, remote: str, reason_key: str | None, alternatives: bool, join: bool = False
                 ) -> Callable[[Phone, Directory], None]:
    def check(phone: Phone, directory: Directory) -> None:
        page = phone.page
        # The demo's video check-in with client1 is open from load: its appointment offers "Join".
        expect(page.locator("#appointments [data-join]")).to_have_count(1 if join else 0)
        expect(page.locator("h1")).to_have_text(phone.t("home.greeting", name=name_of(directory, client)))
        expect(page.locator("#officer-name")).to_have_text(name_of(directory, "officer"))
        status = page.locator("[data-remote]")
        expect(status).to_have_attribute("data-remote", remote)
        expect(status).to_contain_text(phone.t(f"remote.{'allowed' if remote == 'allowed' else 'not_allowed'}.client"))
        if reason_key:
            expect(status).to_contain_text(phone.t(reason_key))
        expect(page.locator(".note")).to_have_count(1 if alternatives else 0)
        if alternatives:
            expect(page.locator(".note")).to_have_text(phone.t("client.alternatives"))
        if join:
            page.locator("#appointments [data-join]").click()
            expect(page.locator("h1")).to_have_text(phone.t("device.title"))  # signed in: straight to the device test
    return check


CHECKS: dict[str, Callable[[Phone, Directory], None]] = {
    "admin": check_admin,
    "senior": check_senior,
    "officer": check_officer,
    "facilitator": check_facilitator,
    "mentor": check_mentor,
    "evaluator": check_evaluator,
    "client1": check_client("client1", "allowed", None, alternatives=False, join=True),
    "client2": check_client("client2", "refused", "remote.refused.face_to_face_first.client", alternatives=False),
    "client3": check_client("client3", "refused", None, alternatives=True),
}


@pytest.mark.parametrize("username", DEMO_USERS)
def test_landing_page_for_each_demo_user(phone: Phone, demo_directory: Directory, username: str) -> None:
    phone.login(username)
    CHECKS[username](phone, demo_directory)
    header = phone.page.locator("header")
    expect(header.get_by_role("button", name=phone.t("action.logout"))).to_be_visible()
    expect(header.get_by_label(phone.t("lang.label"))).to_be_visible()
    assert phone.page.title() == phone.t("app.doc_title", page=phone.page.locator("h1").inner_text())
    assert_phone_friendly(phone)
    assert not phone.page_errors, phone.page_errors
