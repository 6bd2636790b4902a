"""A case network through the UI (issue 16, TUKO): the officer raises a concern on the case page,
invites two partner agencies, schedules a network meeting, records the common assessment and
writes and sends the risk-reduction plan; a partner, on their home, acknowledges the plan and
completes their task; the officer closes the process, and the partner can no longer open the
network. The API only opens a fresh case and fresh partners (a random tag) and checks what the
server holds. Both screens axe-clean at 360 px."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.error import HTTPError

import pytest

from tests.browser.support import DEMO_PASSWORD, Phone, api_call, api_login, assert_phone_friendly
from tests.browser.test_web_axe import assert_no_violations
from tests.browser.test_web_data_requests import fresh_client

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def new_partner(base_url: str, tag: str, who: str) -> tuple[str, str]:
    """A partner-agency user: (username, display name)."""
    username, name = f"{who}{tag}", f"{who.title()} Partner {tag}"
    api_call(base_url, "POST", "/api/admin/users", api_login(base_url, "admin"), {
        "username": username, "display_name": name, "role": "partner", "password": DEMO_PASSWORD})
    return username, name


def network(base_url: str, username: str, case_id: str) -> Any:
    return api_call(base_url, "GET", f"/api/cases/{case_id}/network", api_login(base_url, username))


def test_a_case_network_from_concern_to_closure(phone: Phone, tandem_server: str,
                                                open_device: Callable[..., Phone]) -> None:
    tag = secrets.token_hex(3)
    name = f"Mart Tamm {tag}"
    _, case_id = fresh_client(tandem_server, name)
    police, police_name = new_partner(tandem_server, tag, "police")
    _, social_name = new_partner(tandem_server, tag, "social")

    # The officer raises a concern from the case page.
    page = phone.page
    phone.login("officer")
    page.locator(".case a[data-open-case]").filter(has_text=name).click()
    page.wait_for_url("**/#/cases/*")
    phone.settled()
    status = page.locator("#case-network-status")
    expect(page.locator("#case-network-stage")).to_have_text(phone.t("network.stage.none"))
    page.locator("#network-noticed").fill("Threatening calls to the ex-partner")
    page.locator("#network-noticed-by").fill("Victim support")
    page.locator("#network-concern-submit").click()
    expect(status).to_have_text(phone.t("network.raised"))
    expect(page.locator("#case-network-stage")).to_have_text(phone.t("network.stage.notice_and_inform"))

    # Two partners, each with their agency and last day.
    for partner_name, agency in ((police_name, "Police"), (social_name, "Social work")):
        page.locator("#network-partner").select_option(label=partner_name)
        page.locator("#network-agency").fill(agency)
        page.locator("#network-invite-submit").click()
        expect(page.locator(".network-members")).to_contain_text(agency)
    expect(page.locator(".network-members li")).to_have_count(2)

    # A meeting in person; then the common assessment and the decision to make a plan.
    page.locator("#network-meeting-place").fill("Office, room 2")
    page.locator("#network-meeting-submit").click()
    expect(status).to_have_text(phone.t("network.scheduled"))
    expect(page.locator("#case-network-stage")).to_have_text(phone.t("network.stage.share_and_evaluate"))
    assert_no_violations(phone, "the case network card")
    page.locator("#network-assess-under_threat").fill("The ex-partner and her son")
    page.locator("#network-assess-harm_likelihood").fill("High when he drinks")
    page.locator("#network-decision").select_option("plan")
    page.locator("#network-assessment-submit").click()
    expect(page.locator("#case-network-stage")).to_have_text(phone.t("network.stage.make_a_plan"))

    # The plan: the police's task, the next meeting, how members keep in touch; saved, then sent.
    page.locator("#network-plan-task").fill("Check the restraining order is respected")
    page.locator("#network-plan-owner").select_option(label="Police")
    page.locator("#network-plan-touch").fill("A call every Monday")
    page.locator("#network-plan-submit").click()
    expect(status).to_have_text(phone.t("network.saved"))
    assert_no_violations(phone, "the case network card's plan")
    assert_phone_friendly(phone)
    page.locator("#network-send-plan").click()
    expect(status).to_have_text(phone.t("network.sent"))
    expect(page.locator("#case-network-stage")).to_have_text(
        phone.t("network.stage.coordinated_case_management"))

    # The police partner sees only this network, acknowledges the plan and completes the task.
    partner = open_device(tandem_server)
    partner.login(police)
    item = partner.page.locator("#partner-networks [data-network]")
    expect(item).to_have_count(1)
    expect(item.locator(".network-tasks [data-task=t1]")).to_contain_text("Check the restraining order")
    assert_no_violations(partner, "the partner's networks")
    assert_phone_friendly(partner)
    item.locator("form[id^=ack-] button[type=submit]").click()
    expect(partner.page.locator("#partner-status")).to_have_text(partner.t("network.acknowledged_now"))
    item = partner.page.locator("#partner-networks [data-network]")
    expect(item.locator(".network-acknowledged")).to_have_text(partner.t("network.you_acknowledged"))
    item.locator("form[id^=task-] select[id$=-state]").select_option("done")
    item.locator("form[id^=task-] input[id$=-note]").fill("Checked with the court on Tuesday")
    item.locator("form[id^=task-] button[type=submit]").click()
    expect(partner.page.locator("#partner-status")).to_have_text(partner.t("network.task_marked"))
    expect(partner.page.locator("#partner-networks [data-task=t1]")).to_have_attribute("data-state", "done")
    held = network(tandem_server, "officer", case_id)["processes"][-1]["plans"][-1]
    assert held["tasks"][0]["state"] == "done" and len(held["acknowledged"]) == 1

    # The officer closes the process with a conclusion.
    page.reload()
    phone.settled()
    expect(page.locator("[data-task=t1]")).to_have_attribute("data-state", "done")
    page.locator("#network-conclusion").fill("The plan was carried out")
    page.locator("#network-close-submit").click()
    expect(status).to_have_text(phone.t("network.closed"))
    expect(page.locator("#case-network-stage")).to_have_text(phone.t("network.stage.closed"))

    # The partner can no longer open it: gone from their home, refused by the server.
    partner.page.reload()
    partner.settled()
    expect(partner.page.locator("#partner-no-networks")).to_have_text(partner.t("network.none_yours"))
    with pytest.raises(HTTPError) as refused:
        network(tandem_server, police, case_id)
    refused.value.close()
    assert refused.value.code == 403
