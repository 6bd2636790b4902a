"""Programme groups through the UI only: a facilitator opens a group, enrols a participant
by the case reference of the officer's referral (a wrong one is refused with the server's
reason), adds a co-facilitator of the office, and withdraws the participant after a
confirmation. The API only sets up fresh facilitators and a fresh case (so the demo's own
group stays as other tests expect) and checks results. Axe-clean at 360 px."""

from __future__ import annotations

import secrets

import pytest

from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly, open_case
from tests.browser.test_web_axe import assert_no_violations

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def _facilitator(base_url: str, admin: str, name: str) -> tuple[str, str, str]:
    """A new facilitator of the demo office: (username, password, user id)."""
    username, password = f"fac{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    created = api_call(base_url, "POST", "/api/admin/users", admin,
                       {"username": username, "display_name": name, "role": "facilitator", "password": password})
    return username, password, str(created["id"])


def test_facilitator_opens_a_group_enrols_adds_and_withdraws(phone: Phone) -> None:
    page, base = phone.page, phone.base_url
    admin = api_login(base, "admin")
    tag = secrets.token_hex(2)
    username, password, _ = _facilitator(base, admin, f"Liisa Ohjaaja {tag}")
    _, _, colleague_id = _facilitator(base, admin, f"Peeter Kaas {tag}")
    client_name = f"Jaan Osaleja {tag}"
    open_case(base, client_name)
    cases = api_call(base, "GET", "/api/caseload", api_login(base, "officer"))["cases"]
    case_id = next(c["case_id"] for c in cases if c["client"]["display_name"] == client_name)

    phone.open_login()
    phone.submit_login(username, password)
    expect(page.locator("h1")).to_have_text(phone.t("facilitator.title"))
    phone.settled()
    expect(page.locator("main")).to_contain_text(phone.t("facilitator.no_groups"))
    group_name = f"Thursday {tag}"
    page.locator("#new-group-name").fill(group_name)
    page.locator("#new-group-programme").fill("Thinking Skills")
    page.locator("#new-group-form-submit").click()
    card = page.locator("#groups > li").filter(has_text=group_name)
    expect(card).to_have_count(1)
    expect(page.locator("#groups-status")).to_have_text(phone.t("groups.created", name=group_name))
    token = api_login(base, username, password)
    group_id = next(g["id"] for g in api_call(base, "GET", "/api/groups", token)["groups"] if g["name"] == group_name)

    card.locator("[data-open-group]").click()
    expect(card.locator("[data-open-group]")).to_have_attribute("aria-expanded", "true")
    facilitators = card.locator(f"#facilitators-{group_id}")
    participants = card.locator(f"#participants-{group_id}")
    expect(facilitators).to_contain_text(f"Liisa Ohjaaja {tag}")
    expect(participants).to_have_text(phone.t("groups.no_participants"))
    assert_phone_friendly(phone)
    assert_no_violations(phone, "facilitator group opened")

    # A case reference that names no case: the server's answer stays on the form.
    page.locator(f"#case-ref-{group_id}").fill("NOSUCHCASE")
    page.locator(f"#enrol-{group_id}-submit").click()
    expect(page.locator(f"#enrol-{group_id}-error [role=alert]")).to_have_text(phone.t("errors.not_found"))
    assert_no_violations(phone, "facilitator enrolment refused")

    page.locator(f"#case-ref-{group_id}").fill(case_id)
    page.locator(f"#enrol-{group_id}-submit").click()
    expect(participants).to_contain_text(client_name)

    page.locator(f"#colleague-{group_id}").select_option(colleague_id)
    page.locator(f"#cofac-{group_id}-submit").click()
    expect(facilitators).to_contain_text(f"Peeter Kaas {tag}")
    members = api_call(base, "GET", f"/api/groups/{group_id}", token)["members"]
    assert sorted((m["display_name"], m["role"]) for m in members) == [
        (client_name, "participant"), (f"Liisa Ohjaaja {tag}", "facilitator"), (f"Peeter Kaas {tag}", "facilitator")]

    member = participants.locator("li").filter(has_text=client_name)
    member.locator("[data-withdraw]").click()
    expect(member.locator(".confirm")).to_have_text(phone.t("groups.confirm_withdraw", name=client_name))
    assert_no_violations(phone, "facilitator withdraw confirmation")
    member.locator("[data-confirm-withdraw]").click()
    expect(participants).to_have_text(phone.t("groups.no_participants"))
    members = api_call(base, "GET", f"/api/groups/{group_id}", token)["members"]
    assert [m["role"] for m in members] == ["facilitator", "facilitator"]
