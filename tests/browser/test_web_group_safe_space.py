"""The safe-space check before a live group session is the server's (issue 14, "Joining"):
through the UI a participant answers "no" to the group's own question and sees only the
neutral end; the server kept the failed check, so coming back asks again (a passed check
would not be asked again); answering safely moves on to the agreement. The API only sets up
the facilitator, group, client and session, and reads what the server kept."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from tests.browser.support import Phone, api_call, api_login
from tests.browser.test_web_group_live import AGREEMENT, PASSWORD, _client
from tests.browser.test_web_groups import _facilitator

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def _to_the_questions(phone: Phone, sid: str) -> None:
    page = phone.page
    page.locator(f'[data-join-group="{sid}"]').click()
    page.locator("#device-start").click()
    page.locator("#device-continue-video").click(timeout=30_000)
    page.locator("#safe-form").wait_for(timeout=30_000)


@pytest.mark.timeout(180)
def test_an_unsafe_answer_is_kept_by_the_server_and_asked_again(phone: Phone) -> None:
    base = phone.base_url
    admin = api_login(base, "admin")
    tag = secrets.token_hex(2)
    fac_user, fac_password, _ = _facilitator(base, admin, f"Safe Ohjaaja {tag}")
    fac_token = api_login(base, fac_user, fac_password)
    group_id = api_call(base, "POST", "/api/groups", fac_token,
                        {"name": f"Safe {tag}", "programme": "Thinking Skills"})["id"]
    api_call(base, "PUT", f"/api/groups/{group_id}/agreement", fac_token, {"text": AGREEMENT})
    username, case_id = _client(base, f"Ana Sigur {tag}")
    api_call(base, "POST", f"/api/groups/{group_id}/participants", fac_token, {"case_id": case_id})
    now = datetime.now(UTC)
    sid = api_call(base, "POST", f"/api/groups/{group_id}/sessions", fac_token, {
        "starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()})["sessions"][0]["id"]

    page = phone.page
    phone.open_login()
    phone.submit_login(username, PASSWORD)
    _to_the_questions(phone, sid)
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
    _to_the_questions(phone, sid)
    for fieldset in form.locator("fieldset.question").all():
        fieldset.locator("input[value=yes]").check()
    page.locator("#safe-submit").click()
    expect(page.locator("#live-agreement-accept")).to_be_visible(timeout=30_000)
    assert api_call(base, "GET", f"/api/group-sessions/{sid}/safe-space", token)["passed"] is True
