"""The outcome is asked for at once when the officer ends the call: what happened (who
joined, drops, quality) and the suggested outcome preselected, recorded from that page and
checked through the API. A client who said "I can't talk safely now" in the call is not one
click from "attended": the officer's form preselects "not safe to talk" and says why; nor
in the schedule's follow-up list, once the window has closed with nothing recorded."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import _serve
from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly, readme_screenshot
from tests.browser.test_web_axe import assert_no_blocking_violations
from tests.browser.test_web_checkin_call import (
    _answer_safe,
    _checkin_for,
    _client_reaches_safe_space,
    _decodes_video,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def closing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo server whose join windows close one second after the appointment's end."""
    yield from _serve(tmp_path_factory, "TANDEM_OUTCOME_BASE_URL", TANDEM_JOIN_CLOSE_AFTER_S="1")


def _in_call(phone: Phone, open_device: Callable[..., Phone], client: str) -> tuple[str, Phone]:
    """A check-in now for `client`: they join from the link, the officer admits them, video flows."""
    checkin, path = _checkin_for(phone.base_url, client)
    officer = open_device(phone.base_url, desktop=True)
    officer.login("officer")
    _client_reaches_safe_space(phone, path)
    _answer_safe(phone)
    officer.page.locator(f"#open-{checkin}").click(timeout=20_000)
    _answer_safe(officer)
    officer.page.locator("#call-lobby .admit").click(timeout=20_000)
    assert _decodes_video(phone) > 0
    assert _decodes_video(officer) > 0
    return checkin, officer


def _recorded(base_url: str, checkin: str) -> dict[str, Any]:
    return api_call(base_url, "GET", f"/api/checkins/{checkin}", api_login(base_url, "officer"))


def test_officer_records_the_suggested_outcome_when_the_call_ends(
        phone: Phone, open_device: Callable[..., Phone], demo_directory: dict[str, dict[str, Any]]) -> None:
    checkin, officer = _in_call(phone, open_device, demo_directory["client1"]["display_name"])
    officer.page.locator("#call-leave").click()  # "End the call"
    phone.page.locator("#checkin-ended").wait_for(timeout=15_000)
    assert phone.page.locator("#call-outcome").count() == 0  # the client is only thanked
    # ... and asked, optionally, how it went (issue 16): three faces in words, a comment kept 30 days.
    feedback = phone.page.locator("#feedback")
    assert feedback.locator("legend").inner_text() == phone.t("feedback.question")
    phone.page.locator("#feedback-send").click()  # no face chosen: told to choose one, nothing sent
    assert phone.page.locator("#feedback-form .form-error").inner_text() == phone.t("feedback.choose")
    phone.page.locator("label[for=feedback-face-3]").click()
    phone.page.locator("#feedback-comment").fill("The sound was clear.")
    assert_phone_friendly(phone)
    assert_no_blocking_violations(phone, "feedback after the call")
    phone.page.locator("#feedback-send").click()
    assert phone.page.locator("#feedback-thanks").inner_text(timeout=10_000) == phone.t("feedback.thanks")

    form = officer.page.locator("#call-outcome-form")
    form.wait_for(timeout=15_000)
    assert officer.page.locator("#outcome-dropped").inner_text() == officer.t("outcome.not_dropped")
    joins = officer.page.locator("#outcome-joins")
    assert officer.t("role.client") in joins.inner_text()
    assert officer.t("outcome.not_joined") not in joins.inner_text()
    assert officer.page.locator("#outcome-cant-talk").count() == 0
    suggested = form.locator("input[name=call-outcome]:checked")
    assert suggested.get_attribute("value") == "attended"
    assert officer.t("outcome.why.attended") in officer.page.locator("#call-outcome-why").inner_text()
    assert form.locator("input[name=call-outcome]").count() == 6  # every outcome stays selectable
    assert_no_blocking_violations(officer, "outcome after the call")
    readme_screenshot(officer.page, "officer-outcome.png", "main")

    officer.page.locator("#call-outcome-note").fill("Spoke about the job interview.")
    officer.page.locator("#call-outcome-submit").click()
    done = officer.page.locator("#call-outcome-recorded")
    done.wait_for()
    assert done.inner_text() == officer.t("outcome.recorded", outcome=officer.t("appt.outcome.attended"))
    seen = _recorded(phone.base_url, checkin)
    assert (seen["state"], seen["outcome"]) == ("closed", "attended")
    # The officer's own answer, after the outcome, on the same page.
    officer.page.locator("label[for=feedback-face-2]").click()
    officer.page.locator("#feedback-send").click()
    assert officer.page.locator("#feedback-thanks").inner_text(timeout=10_000) == officer.t("feedback.thanks")
    for device in (phone, officer):
        assert not device.page_errors, device.page_errors
        assert not device.csp_reports()


def test_cant_talk_in_the_call_is_not_preselected_as_attended(
        phone: Phone, open_device: Callable[..., Phone], demo_directory: dict[str, dict[str, Any]]) -> None:
    checkin, officer = _in_call(phone, open_device, demo_directory["client1"]["display_name"])
    assert_phone_friendly(phone)
    phone.page.locator("#call-cant-talk").click()
    ended = phone.page.locator("#checkin-ended")
    ended.wait_for(timeout=15_000)
    assert ended.inner_text() == phone.t("checkin.ended_neutral")
    assert _recorded(phone.base_url, checkin)["evidence"]["cant_talk"] is True

    officer.page.locator("#call-leave").click()
    form = officer.page.locator("#call-outcome-form")
    form.wait_for(timeout=15_000)
    officer.page.locator("#outcome-cant-talk").wait_for()
    assert form.locator("input[name=call-outcome][value=attended]").is_checked() is False
    assert form.locator("input[name=call-outcome]:checked").get_attribute("value") == "not_safe_to_talk"
    assert officer.t("outcome.why.not_safe_to_talk") in officer.page.locator("#call-outcome-why").inner_text()
    assert_no_blocking_violations(officer, "outcome after can't talk")
    officer.page.locator("#call-outcome-submit").click()
    officer.page.locator("#call-outcome-recorded").wait_for()
    assert _recorded(phone.base_url, checkin)["outcome"] == "not_safe_to_talk"
    assert not officer.page_errors, officer.page_errors


def test_followup_of_a_cant_talk_checkin_preselects_not_safe_to_talk(
        open_device: Callable[..., Phone], closing_server: str, demo_directory: dict[str, dict[str, Any]]) -> None:
    base = closing_server
    token = api_login(base, "officer")
    cases = api_call(base, "GET", "/api/caseload", token)["cases"]
    case_id = next(c["case_id"] for c in cases
                   if c["client"]["display_name"] == demo_directory["client1"]["display_name"])
    # The shortest appointment the server takes (5 min), started as far back as it allows,
    # so that its window closes within the test.
    ends = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=40)
    made = api_call(base, "POST", f"/api/cases/{case_id}/appointments", token,
                    {"kind": "video", "starts_at": (ends - timedelta(minutes=5)).isoformat(),
                     "ends_at": ends.isoformat()})["appointments"][0]
    checkin = next(c["id"] for c in api_call(base, "GET", "/api/checkins", token)["checkins"]
                   if c["appointment_id"] == made["id"])
    path = api_call(base, "POST", f"/api/checkins/{checkin}/link", token)["path"]

    phone = open_device(base)
    _client_reaches_safe_space(phone, path)
    phone.page.locator("#safe-cant-talk").click()
    phone.page.locator("#checkin-ended").wait_for()

    while datetime.now(UTC) < ends + timedelta(seconds=2):  # the window closes, nothing recorded
        time.sleep(0.5)
    officer = open_device(base, desktop=True)
    officer.login("officer")
    officer.page.goto(f"{base}/#/schedule")
    card = officer.page.locator(f"#followups [data-appointment-id='{made['id']}']")
    card.wait_for()
    assert card.get_attribute("data-checkin-id") == checkin
    card.locator("#outcome-cant-talk").wait_for()
    name = f"follow-{made['id']}-outcome"
    assert card.locator(f"input[name='{name}'][value=attended]").is_checked() is False
    assert card.locator(f"input[name='{name}']:checked").get_attribute("value") == "not_safe_to_talk"
    assert_no_blocking_violations(officer, "follow-up with a check-in's evidence")
    card.locator(f"#{name}-submit").click()
    # Recorded: announced, and the appointment has left the follow-up list.
    card.wait_for(state="detached")
    assert officer.page.locator("#schedule-status").text_content() == officer.t(
        "outcome.recorded", outcome=officer.t("appt.outcome.not_safe_to_talk"))
    seen = api_call(base, "GET", f"/api/appointments/{made['id']}", token)
    assert seen["outcome"] == "not_safe_to_talk"
    assert not officer.page_errors, officer.page_errors
