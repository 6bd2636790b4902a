""""How did this go?" after a live group session, through the UI alone (issue 16, section 3).
The API only sets up the facilitator, the group, a client and the session. The participant
joins from their phone (device test, safe space, agreement, lobby), is admitted from the
facilitator's console, leaves with the Leave button and is asked the three-faces question as
after a check-in: they answer "Badly" with a comment. The facilitator then ends the session for
everyone and is asked the same: they answer "Well". A second answer is refused by the server,
naming the reason. The card passes axe at 360 px."""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Callable

import pytest

from tests.browser.group_setup import live_group, sign_in_participant, to_the_questions
from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly
from tests.browser.test_web_axe import assert_no_violations
from tests.browser.test_web_group_live import PASSWORD, _admit, _answer_safe

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def _answer(device: Phone, face: int, comment: str) -> None:
    card = device.page.locator("#feedback")
    expect(card.locator("#feedback-title")).to_have_text(device.t("feedback.question"), timeout=20_000)
    expect(card.locator("#feedback-hint")).to_have_text(device.t("feedback.group_hint"))
    card.locator(f'label[for="feedback-face-{face}"]').click()
    if comment:
        card.locator("#feedback-comment").fill(comment)
    card.locator("#feedback-send").click()
    expect(device.page.locator("#feedback-thanks")).to_have_text(device.t("feedback.thanks"), timeout=20_000)


@pytest.mark.timeout(240)
def test_participant_and_facilitator_answer_after_a_live_session(phone: Phone,
                                                                 open_device: Callable[..., Phone]) -> None:
    base = phone.base_url
    live = live_group(base, facilitator="Kadri Ohjaaja", group="Feedback", client="Ioana Feedback")
    fac_user, fac_password, group_id, sid = live.fac_user, live.fac_password, live.group_id, live.sid

    # The facilitator opens the session from their groups page.
    fac = open_device(base, desktop=True)
    fac.open_login()
    fac.submit_login(fac_user, fac_password)
    fac.page.locator(f'#groups > li[data-id="{group_id}"] [data-open-group]').click()
    fac.page.locator(f'[data-start-session="{sid}"]').click()
    _answer_safe(fac)
    expect(fac.page.locator("#live-status")).to_have_attribute("data-place", "present", timeout=30_000)

    # The participant joins from their phone and is admitted.
    page = phone.page
    sign_in_participant(phone, live)
    to_the_questions(phone, sid)
    _answer_safe(phone)
    page.locator("#live-agreement-accept").click(timeout=30_000)
    expect(page.locator("#live-status")).to_have_text(phone.t("live.waiting"), timeout=30_000)
    expect(page.locator("#feedback")).to_have_count(0)  # not asked while waiting
    _admit(fac, live.client_name)
    expect(page.locator("#live-status")).to_have_text(phone.t("live.present"), timeout=30_000)
    expect(page.locator("#feedback")).to_have_count(0)  # nor during the session

    # They leave: asked how it went, answered with a face and a comment.
    page.locator("#live-leave").click()
    expect(page.locator("#feedback")).to_be_visible(timeout=20_000)
    assert_no_violations(phone, "feedback after a group session")
    assert_phone_friendly(phone)
    _answer(phone, 1, "The sound kept breaking up.")

    # The facilitator ends the session for everyone and is asked the same.
    fac.page.locator("#live-end").click()
    fac.page.locator("#live-confirm-yes").click()
    expect(fac.page.locator("#live-register-after")).to_be_visible(timeout=20_000)
    _answer(fac, 3, "")

    # Once each: the server refuses a second answer, with its reason.
    with pytest.raises(urllib.error.HTTPError) as refused:
        api_call(base, "POST", f"/api/group-sessions/{sid}/feedback", api_login(base, live.username, PASSWORD),
                 {"face": 2})
    assert refused.value.code == 409
    assert json.loads(refused.value.read())["error"]["reason"] == "group_feedback.answered"
    for device in (phone, fac):
        assert not device.page_errors, device.page_errors
        assert not device.csp_reports()
