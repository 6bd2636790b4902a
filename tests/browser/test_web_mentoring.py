"""Mentoring periods through the UI (issue 16): the officer assigns a mentor for a period from
the case page; the mentor sees the mentee with the days left and records an activity; the
officer sees it in the case's log and extends the period with a reason; the mentee sees the
log in "my data"; the mentor and the officer record the outcome. The API only opens a fresh
case and a fresh mentor (so the demo's own stay as other tests expect them) and checks what
the server holds. Every screen axe-clean at 360 px."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.browser.support import DEMO_PASSWORD, Phone, api_call, api_login, assert_phone_friendly
from tests.browser.test_web_axe import assert_no_violations
from tests.browser.test_web_data_requests import fresh_client

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def new_mentor(base_url: str) -> tuple[str, str]:
    """A mentor of the demo office: (username, display name)."""
    username, name = f"mentor{secrets.token_hex(4)}", f"Mirela Mentor {secrets.token_hex(2)}"
    api_call(base_url, "POST", "/api/admin/users", api_login(base_url, "admin"), {
        "username": username, "display_name": name, "role": "mentor", "password": DEMO_PASSWORD})
    return username, name


def test_a_mentoring_period_from_assignment_to_outcome(
        phone: Phone, tandem_server: str, open_device: Callable[..., Phone]) -> None:
    # The browser runs in UTC here, so the server's days and the forms' agree.
    today = datetime.now(UTC).date()
    name = f"Ion Popescu {secrets.token_hex(2)}"
    client_username, case_id = fresh_client(tandem_server, name)
    mentor_username, mentor_name = new_mentor(tandem_server)

    # The officer assigns the mentor for a period of 20 days from the case page.
    page = phone.page
    phone.login("officer")
    page.locator(".case a[data-open-case]").filter(has_text=name).click()
    page.wait_for_url("**/#/cases/*")
    phone.settled()
    expect(page.locator("#case-mentoring-list")).to_have_text(phone.t("mentoring.none"))
    page.locator("#mentor-choice").select_option(label=mentor_name)
    expect(page.locator("#mentor-starts")).to_have_value(today.isoformat())
    page.locator("#mentor-ends").fill((today + timedelta(days=20)).isoformat())
    page.locator("#mentor-form-submit").click()
    expect(page.locator("#case-status")).to_have_text(phone.t("case.mentor_assigned"))
    period = page.locator("#case-mentoring [data-assignment-id]")
    expect(period.locator(".period")).to_contain_text(phone.t("mentoring.days_left", days=20))
    assignment = period.get_attribute("data-assignment-id")

    # The mentor sees the mentee, the days left, and records an activity.
    mentor = open_device(tandem_server)
    mentor.login(mentor_username)
    card = mentor.page.locator("#mentees > li").filter(has_text=name)
    expect(card.locator(".period")).to_contain_text(mentor.t("mentoring.days_left", days=20))
    expect(card.locator(f"#log-{assignment}")).to_have_text(mentor.t("mentoring.no_activities"))
    assert_phone_friendly(mentor)
    assert_no_violations(mentor, "mentor home with a mentoring period")
    form = f"#activity-{assignment}"
    mentor.page.locator(f"{form}-kind").select_option("court_conditions")
    mentor.page.locator(f"{form}-hours").fill("1.5")
    mentor.page.locator(f"{form}-note").fill("Went with him to the community work office")
    mentor.page.locator(f"{form}-date").fill((today + timedelta(days=1)).isoformat())  # not yet happened
    mentor.page.locator(f"{form}-submit").click()
    expect(mentor.page.locator(f"{form}-error [role=alert]")).to_contain_text(
        mentor.t("reason.mentoring.activity_in_future"))
    mentor.page.locator(f"{form}-date").fill(today.isoformat())
    mentor.page.locator(f"{form}-submit").click()
    expect(mentor.page.locator("#mentor-status")).to_have_text(mentor.t("mentoring.activity_recorded"))
    entry = mentor.page.locator(f"#log-{assignment} li")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(mentor.t("mentoring.kind.court_conditions"))
    expect(entry).to_contain_text("Went with him to the community work office")

    # The officer sees it in the case's log and extends the period, with a reason.
    page.reload()
    phone.settled()
    expect(page.locator(f"#case-log-{assignment} li")).to_contain_text(
        phone.t("mentoring.kind.court_conditions"))
    assert_no_violations(phone, "officer case page with a mentoring period and its log")
    new_end = today + timedelta(days=50)
    page.locator(f"#extend-{assignment}-date").fill(new_end.isoformat())
    page.locator(f"#extend-{assignment}-reason").fill("Court hearing moved")
    page.locator(f"#extend-{assignment}-submit").click()
    expect(page.locator("#case-status")).to_have_text(phone.t("mentoring.extended"))
    expect(page.locator(f"#case-mentoring [data-assignment-id='{assignment}'] .period")).to_contain_text(
        phone.t("mentoring.days_left", days=50))

    # The mentee sees the log, with the note, in "my data".
    client = open_device(tandem_server)
    client.login(client_username)
    mine = client.page.locator(f"#my-mentoring [data-assignment-id='{assignment}']")
    expect(mine).to_contain_text(client.t("mentoring.with", name=mentor_name))
    expect(mine.locator(f"#my-log-{assignment} li")).to_contain_text("Went with him to the community work office")
    assert_no_violations(client, "client's my data with their mentoring")

    # The mentor says it went well; the officer ends it early, saying why.
    mentor.page.reload()
    mentor.settled()
    mentor.page.locator(f"#outcome-{assignment}-outcome").select_option("completed")
    mentor.page.locator(f"#outcome-{assignment}-submit").click()
    expect(mentor.page.locator(f"#outcomes-{assignment} [data-party=mentor]")).to_have_text(
        mentor.t("mentoring.outcome_by.mentor", outcome=mentor.t("mentoring.outcome.completed")))
    expect(mentor.page.locator(f"#outcome-{assignment}")).to_have_count(0)
    page.reload()
    phone.settled()
    page.locator(f"#case-outcome-{assignment}-outcome").select_option("ended_early")
    page.locator(f"#case-outcome-{assignment}-submit").click()  # no reason: the server refuses, words shown
    expect(page.locator(f"#case-outcome-{assignment}-error [role=alert]")).to_contain_text(
        phone.t("reason.mentoring.why"))
    page.locator(f"#case-outcome-{assignment}-reason").fill("Moved to another region")
    page.locator(f"#case-outcome-{assignment}-submit").click()
    expect(page.locator("#case-status")).to_have_text(phone.t("mentoring.outcome_recorded"))
    ended = page.locator(f"#case-mentoring [data-assignment-id='{assignment}']")
    expect(ended).to_have_attribute("data-running", "false")
    expect(ended.locator("[data-party=officer]")).to_contain_text("Moved to another region")
    assert_no_violations(phone, "officer case page with an ended mentoring and its outcomes")

    # What the server holds, read back through the API.
    periods = api_call(tandem_server, "GET", f"/api/cases/{case_id}/mentoring",
                       api_login(tandem_server, "officer"))["periods"]
    [held] = [p for p in periods if p["assignment_id"] == assignment]
    assert held["ends_on"] == new_end.isoformat() and held["running"] is False
    assert [(a["kind"], a["hours"]) for a in held["activities"]] == [("court_conditions", 1.5)]
    assert [(o["party"], o["outcome"]) for o in held["outcomes"]] == [("mentor", "completed"),
                                                                     ("officer", "ended_early")]
