"""A case network through the UI (issue 16, TUKO): the officer raises a concern on the case page,
invites two partner agencies and the client, schedules a network meeting (in everyone's calendar
as .ics), records the common
assessment and writes and sends a risk-reduction plan of two tasks; a partner, on their home,
downloads the plan as PDF, acknowledges it and completes their task; the client sees the network
on their own home and acknowledges the plan; the officer sends a new version (the first stays
readable), then closes the process, and neither the partner nor the client can open the network
any more. A second test follows the demo's overdue task from the officer's follow-up list to the
case's network card. The API only opens a fresh case and fresh partners (a random tag) and checks
what the server holds. Every screen axe-clean at 360 px."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
    client_username, case_id = fresh_client(tandem_server, name)
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
    # The client too (no victim-protection flag on this case: no reason needed).
    page.locator("#network-partner").select_option(label=phone.t("network.the_client", name=name))
    page.locator("#network-agency").fill("Client")
    page.locator("#network-invite-submit").click()
    expect(page.locator(".network-members li")).to_have_count(3)
    expect(page.locator(".network-members li[data-kind=client]")).to_contain_text("Client")

    # A meeting in person; then the common assessment and the decision to make a plan.
    page.locator("#network-meeting-place").fill("Office, room 2")
    page.locator("#network-meeting-submit").click()
    expect(status).to_have_text(phone.t("network.scheduled"))
    expect(page.locator("#case-network-stage")).to_have_text(phone.t("network.stage.share_and_evaluate"))
    assert_no_violations(phone, "the case network card")
    calendar = page.request.get(f"{tandem_server}{page.locator('a.network-ics').get_attribute('href')}")
    assert calendar.ok and "SUMMARY:Case network meeting (in person)" in calendar.text()
    assert "LOCATION:Office\\, room 2" in calendar.text()
    page.locator("#network-assess-under_threat").fill("The ex-partner and her son")
    page.locator("#network-assess-harm_likelihood").fill("High when he drinks")
    page.locator("#network-decision").select_option("plan")
    page.locator("#network-assessment-submit").click()
    expect(page.locator("#case-network-stage")).to_have_text(phone.t("network.stage.make_a_plan"))

    # The plan: two tasks (the police's in one week, social work's in two), the next meeting, how
    # members keep in touch; saved, then sent.
    page.locator("#network-plan-task-1-text").fill("Check the restraining order is respected")
    page.locator("#network-plan-task-1-owner").select_option(label="Police")
    page.locator("#network-plan-task-1-due").fill("1")
    page.locator("#network-plan-add-task").click()
    expect(page.locator("#network-plan-task-2-text")).to_be_focused()
    page.locator("#network-plan-task-2-text").fill("Offer a place in the anger-management group")
    page.locator("#network-plan-task-2-owner").select_option(label="Social work")
    expect(page.locator("label[for=network-plan-task-2-due]")).to_have_text(phone.t("network.due_in_weeks"))
    page.locator("#network-plan-touch").fill("A call every Monday")
    page.locator("#network-plan-submit").click()
    expect(status).to_have_text(phone.t("network.saved"))
    assert_no_violations(phone, "the case network card's plan")
    assert_phone_friendly(phone)
    page.locator("#network-send-plan").click()
    expect(status).to_have_text(phone.t("network.sent"))
    expect(page.locator("#case-network-stage")).to_have_text(
        phone.t("network.stage.coordinated_case_management"))
    expect(page.locator(".network-tasks [data-task]")).to_have_count(2)
    sent = network(tandem_server, "officer", case_id)["processes"][-1]["plans"][-1]
    local_today = datetime.now(UTC).astimezone().date()  # the browser's day: it counts the weeks from it
    assert [t["due_on"] for t in sent["tasks"]] == [str(local_today + timedelta(weeks=w)) for w in (1, 2)]
    href = page.locator(".network-plan[data-version='1'] a.network-pdf").get_attribute("href")
    pdf = page.request.get(f"{tandem_server}{href}")  # the officer's own session
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF-1.4")

    # The police partner sees only this network, acknowledges the plan and completes the task.
    partner = open_device(tandem_server)
    partner.login(police)
    item = partner.page.locator("#partner-networks [data-network]")
    expect(item).to_have_count(1)
    expect(item.locator(".network-tasks [data-task=t1]")).to_contain_text("Check the restraining order")
    assert_no_violations(partner, "the partner's networks")
    assert_phone_friendly(partner)
    with partner.page.expect_download() as download:
        item.locator("a.network-pdf").click()
    assert download.value.suggested_filename == "risk-reduction-plan-v1.pdf"
    with open(download.value.path(), "rb") as saved:
        assert saved.read().startswith(b"%PDF-1.4")
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

    # The client sees the network on their own home: the plan, not the concerns; and acknowledges it.
    client = open_device(tandem_server)
    client.login(client_username)
    mine = client.page.locator("#client-networks [data-network]")
    expect(mine).to_have_count(1)
    expect(mine.locator("h2")).to_have_text(client.t("network.yours_client"))
    expect(mine.locator(".network-tasks [data-task=t2]")).to_contain_text("anger-management group")
    expect(client.page.locator("#client-networks")).not_to_contain_text("Threatening calls")
    assert_no_violations(client, "the client's network")
    assert_phone_friendly(client)
    mine.locator("form[id^=ack-] button[type=submit]").click()
    expect(client.page.locator("#client-network-status")).to_have_text(client.t("network.acknowledged_now"))

    # A new version of the plan; the first stays readable under the earlier versions.
    page.reload()
    phone.settled()
    expect(page.locator(".network-tasks [data-task=t1]")).to_have_attribute("data-state", "done")
    page.locator("#network-revise-task-1-text").fill("Visit the family with child protection")
    page.locator("#network-revise-task-1-owner").select_option(label="Social work")
    page.locator("#network-revise-touch").fill("A call every Monday and Thursday")
    page.locator("#network-revise-submit").click()
    expect(page.locator(".network-plan[data-version='2'] h3")).to_have_text(
        phone.t("network.plan_version", version="2"))
    earlier = page.locator(".network-earlier")
    earlier.locator("summary").click()
    expect(earlier.locator(".network-plan[data-version='1'] [data-earlier-task=t1]")).to_have_attribute(
        "data-state", "done")
    assert_no_violations(phone, "the case network card with two versions")

    # The officer closes the process with a conclusion.
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
    client.page.reload()
    client.settled()
    expect(client.page.locator("#client-networks")).to_be_hidden()


def test_an_overdue_network_task_on_the_follow_up_list(phone: Phone) -> None:
    """The demo's coordinated case (Liis Client) had its plan sent three weeks ago; the police's task
    is overdue: on the officer's follow-up list, and from there in the case's network card."""
    page = phone.page
    phone.login("officer")
    page.goto(f"{phone.base_url}/#/schedule")
    phone.settled()
    card = page.locator("#network-followups-card")
    item = card.locator("[data-task=t1]").filter(has_text="Liis Client")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Check that the restraining order is respected")
    expect(item).to_contain_text("Police")
    assert_no_violations(phone, "the follow-up list with overdue network tasks")
    item.locator("a").click()
    page.wait_for_url("**/#/cases/*")
    phone.settled()
    overdue = page.locator("#network-overdue [data-overdue-task=t1]")
    expect(overdue).to_contain_text("Check that the restraining order is respected")
    expect(page.locator(".network-plan[data-version='1'] h3")).to_have_text(phone.t("network.plan_version",
                                                                                     version="1"))
    expect(page.locator(".network-plan dd").first).to_have_text(phone.t("network.crisis_yes"))
    assert_no_violations(phone, "the case network card with an overdue task")


def test_the_demo_networks_from_a_partner_and_a_client(phone: Phone, open_device: Callable[..., Phone],
                                                        tandem_server: str) -> None:
    """`make serve` shows a case network in each TUKO stage: the demo police partner is in all four,
    and client4 sees their own (share and evaluate, a video meeting in two days), axe-clean at 360 px."""
    phone.login("police")
    items = phone.page.locator("#partner-networks [data-network]")
    stages = {phone.t(f"network.stage.{s}") for s in ("notice_and_inform", "share_and_evaluate", "make_a_plan",
                                                       "coordinated_case_management")}
    expect(items.locator(".network-stage")).to_have_count(4)
    assert set(items.locator(".network-stage").all_inner_texts()) == stages
    assert_no_violations(phone, "the demo partner's four networks")
    client = open_device(tandem_server)
    client.login("client4")
    mine = client.page.locator("#client-networks [data-network]")
    expect(mine.locator(".network-stage")).to_have_text(client.t("network.stage.share_and_evaluate"))
    expect(mine.locator(".network-members li")).to_have_count(3)
    expect(mine.locator("a.network-ics")).to_be_visible()
    assert_no_violations(client, "the demo client's network")
