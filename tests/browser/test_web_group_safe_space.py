"""The safe-space check before a live group session is the server's (issue 14, "Joining"):
through the UI a participant answers "no" to the group's own question and sees only the
neutral end; the server kept the failed check, so coming back asks again (a passed check
would not be asked again); answering safely moves on to the agreement. The API only sets up
the facilitator, group, client and session, and reads what the server kept."""

from __future__ import annotations

import pytest

from tests.browser.group_setup import live_group, sign_in_participant, to_the_questions
from tests.browser.support import Phone, api_call, api_login
from tests.browser.test_web_group_live import PASSWORD

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


@pytest.mark.timeout(180)
def test_an_unsafe_answer_is_kept_by_the_server_and_asked_again(phone: Phone) -> None:
    base = phone.base_url
    live = live_group(base, facilitator="Safe Ohjaaja", group="Safe", client="Ana Sigur")
    username, sid = live.username, live.sid

    page = phone.page
    sign_in_participant(phone, live)
    to_the_questions(phone, sid)
    form = page.locator("#safe-form")
    for fieldset in form.locator("fieldset.question").all():
        answer = "no" if fieldset.get_attribute("data-question") == "group_only" else "yes"
        fieldset.locator(f"input[value={answer}]").check()
    page.locator("#safe-submit").click()
    expect(page.locator("#live-ended")).to_have_text(phone.t("checkin.ended_neutral"))

    # The server kept the failed check: back from the appointments, the questions again.
    token = api_login(base, username, PASSWORD)
    assert api_call(base, "GET", f"/api/group-sessions/{sid}/safe-space", token)["passed"] is False
    page.goto(f"{base}/#/")
    to_the_questions(phone, sid)
    for fieldset in form.locator("fieldset.question").all():
        fieldset.locator("input[value=yes]").check()
    page.locator("#safe-submit").click()
    expect(page.locator("#live-agreement-accept")).to_be_visible(timeout=30_000)
    assert api_call(base, "GET", f"/api/group-sessions/{sid}/safe-space", token)["passed"] is True
