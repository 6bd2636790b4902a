"""The officer's case page, through the UI only: from the caseload card an officer sees the
client refused remote supervision by face_to_face_first, is refused a meeting in the future
(the server's reason shown), records one that happened two hours ago, and remote supervision
opens; schedules a video check-in, makes its join link and invites an interpreter; adds a
note, assigns a mentor, ends the mentoring and assigns one again. The
office's senior puts the case on legal hold. The API is used only to open a fresh case (so
the demo's own cases stay as other tests expect them) and to check results. Axe-clean at
360 px."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly, open_case
from tests.browser.test_web_axe import assert_no_violations

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def _open_case_page(phone: Phone, username: str, name: str) -> None:
    """A fresh case of the demo officer's for `name`, opened from `username`'s caseload."""
    open_case(phone.base_url, name)
    phone.login(username)
    # Nothing missing is written out as "null" (a senior has no inbox card).
    expect(phone.page.locator("#main")).not_to_contain_text("null")
    phone.page.locator(".case a[data-open-case]").filter(has_text=name).click()
    phone.page.wait_for_url("**/#/cases/*")
    phone.settled()
    expect(phone.page.locator("h1")).to_have_text(name)


def _case_id(base_url: str, name: str) -> str:
    cases = api_call(base_url, "GET", "/api/caseload", api_login(base_url, "officer"))["cases"]
    return str(next(c["case_id"] for c in cases if c["client"]["display_name"] == name))


def _new_mentor(base_url: str) -> str:
    """A mentor of the demo office of the test's own, so the demo mentor's mentees stay as
    other tests expect them: their display name."""
    name = f"Maria Mentor {secrets.token_hex(2)}"
    api_call(base_url, "POST", "/api/admin/users", api_login(base_url, "admin"), {
        "username": f"mentor{secrets.token_hex(4)}", "display_name": name, "role": "mentor",
        "password": "correct horse battery"})
    return name


def _worded(phone: Phone, code: dict[str, Any]) -> str:
    """A reason code as the officer's catalog words it (its parameters as shared/reasons.js shows them)."""
    params = {k: phone.t(f"reason.param.{v}") if k == "relation" else v for k, v in code["params"].items()}
    return phone.t(f"reason.{code['code']}", **params)


def _decision_shown_in_full(phone: Phone, name: str) -> None:
    """The remote-supervision card shows the server's decision whole: the policy version
    that decided it, its rule, every reason and every obligation."""
    token = api_login(phone.base_url, "officer")
    d = api_call(phone.base_url, "GET", f"/api/cases/{_case_id(phone.base_url, name)}/remote-decision", token)
    card = phone.page.locator("#case-remote")
    expect(card.locator("#remote-policy-version")).to_have_text(str(d["policy_version"]))
    expect(card.locator("#remote-rule")).to_have_count(1 if d["rule_id"] else 0)
    if d["rule_id"]:
        expect(card.locator("#remote-rule")).to_have_text(d["rule_id"])
    # Every reason in the officer's language, worded from its code (issue 13).
    expect(card.locator("#remote-reasons li")).to_have_text([_worded(phone, c) for c in d["codes"]])
    expect(card.locator("#remote-obligations li")).to_have_text(d["obligations"])


def test_officer_records_a_meeting_adds_a_note_and_assigns_a_mentor(phone: Phone) -> None:
    page = phone.page
    name = f"Mari Tamm {secrets.token_hex(2)}"
    mentor = _new_mentor(phone.base_url)
    _open_case_page(phone, "officer", name)
    remote = page.locator("#case-remote [data-remote]")
    expect(remote).to_have_attribute("data-remote", "refused")
    expect(remote).to_have_attribute("data-rule-id", "face_to_face_first")
    _decision_shown_in_full(phone, name)
    expect(page.locator("#meetings")).to_have_text(phone.t("case.no_meetings"))
    assert_phone_friendly(phone)
    assert_no_violations(phone, "officer case page (never met)")

    # Tomorrow: the server refuses, and its reason stays on the form with what was typed.
    # The browser runs in UTC here, so the server's clock and the form's agree.
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    page.locator("#f2f-date").fill(tomorrow.strftime("%Y-%m-%d"))
    page.locator("#f2f-time").fill("10:00")
    page.locator("#f2f-location").fill("Office, room 2")
    page.locator("#f2f-form-submit").click()
    # The server's reason in the officer's words, not "Something in the form is missing or not valid."
    expect(page.locator("#f2f-form-error [role=alert]")).to_have_text(phone.t("reason.case.meeting_in_future"))
    expect(page.locator("#f2f-location")).to_have_value("Office, room 2")
    assert_no_violations(phone, "officer case page (meeting refused)")

    # Two hours ago: recorded, listed, and remote supervision is open.
    met = datetime.now(UTC) - timedelta(hours=2)
    page.locator("#f2f-date").fill(met.strftime("%Y-%m-%d"))
    page.locator("#f2f-time").fill(met.strftime("%H:%M"))
    page.locator("#f2f-form-submit").click()
    expect(page.locator("#case-status")).to_have_text(phone.t("case.meeting_recorded"))
    expect(page.locator("#meetings li")).to_have_count(1)
    expect(page.locator("#meetings li")).to_contain_text("Office, room 2")
    expect(page.locator("#case-remote [data-remote]")).to_have_attribute("data-remote", "allowed")
    _decision_shown_in_full(phone, name)

    # A video check-in in an hour: its one-time join link, and the interpreter invited.
    soon = datetime.now(UTC) + timedelta(hours=1)
    page.locator("#checkin-date").fill(soon.strftime("%Y-%m-%d"))
    page.locator("#checkin-time").fill(soon.strftime("%H:%M"))
    page.locator("#checkin-form-submit").click()
    checkin = page.locator("#case-checkins-list [data-checkin-id]")
    expect(checkin).to_have_count(1)
    checkin.locator("[data-link]").click()
    expect(checkin.locator("code")).to_contain_text("/#/checkin?c=")
    expect(checkin.locator("code")).to_contain_text("&code=")
    checkin.locator("select").select_option(label="Irina Interpreter")
    checkin.locator("[data-invite]").click()
    expect(checkin).to_contain_text(phone.t("case_checkins.interpreter_invited", name="Irina Interpreter"))
    assert_no_violations(phone, "officer case page (a check-in with its link)")

    page.locator("#note-text").fill("Talked about the job interview on Monday.")
    page.locator("#note-form-submit").click()
    expect(page.locator("#case-status")).to_have_text(phone.t("case.note_added"))
    expect(page.locator("#notes li")).to_contain_text("job interview on Monday")

    page.locator("#mentor-choice").select_option(label=mentor)
    page.locator("#mentor-form-submit").click()
    expect(page.locator("#case-status")).to_have_text(phone.t("case.mentor_assigned"))
    expect(page.locator("#mentors li .name")).to_have_text(mentor)
    assert_no_violations(phone, "officer case page (met, with a note and a mentor)")
    page.locator("#mentors [data-end-mentoring]").click()
    assert_no_violations(phone, "officer case page (asked to confirm the end of a mentoring)")
    page.locator("#mentors [data-confirm-end]").click()
    expect(page.locator("#case-status")).to_have_text(phone.t("case.mentoring_ended"))
    expect(page.locator("#mentors")).to_have_text(phone.t("case.no_mentor"))
    page.locator("#mentor-choice").select_option(label=mentor)  # a new mentoring, a new conversation
    page.locator("#mentor-form-submit").click()
    expect(page.locator("#mentors li .name")).to_have_text(mentor)

    # What the server holds now, read back through the API.
    token = api_login(phone.base_url, "officer")
    case_file = api_call(phone.base_url, "GET", f"/api/cases/{_case_id(phone.base_url, name)}/file", token)
    assert [m["location"] for m in case_file["meetings"]] == ["Office, room 2"]
    assert case_file["remote"]["allowed"] is True
    assert [m["mentor"]["display_name"] for m in case_file["mentors"]] == [mentor]


def test_senior_puts_a_case_on_legal_hold_from_its_page(phone: Phone) -> None:
    page = phone.page
    name = f"Jaan Kask {secrets.token_hex(2)}"
    _open_case_page(phone, "senior", name)
    expect(page.locator("#hold-state")).to_have_text(phone.t("case.hold_off"))
    expect(page.locator("#exception-form")).to_be_visible()  # never met: a senior may grant an exception
    assert_no_violations(phone, "senior case page")
    page.locator("#hold-reason").fill("Appeal pending")
    page.locator("#hold-form-submit").click()
    expect(page.locator("#case-status")).to_have_text(phone.t("case.hold_was_set"))
    expect(page.locator("#hold-state")).to_have_text(phone.t("case.hold_on"))
    case_id = _case_id(phone.base_url, name)
    detail = api_call(phone.base_url, "GET", f"/api/cases/{case_id}", api_login(phone.base_url, "senior"))
    assert detail["legal_hold"] is True


def test_officer_opens_a_case_and_the_client_enrols_from_the_link(phone: Phone) -> None:
    """Open a case on the caseload: the one-time enrolment link is shown once; the client
    opens it and chooses a password; the case is on the caseload with its flags."""
    page = phone.page
    suffix = secrets.token_hex(3)
    name, username = f"Anna Põld {suffix}", f"anna{suffix}"
    phone.login("officer")
    page.locator("#new-client-name").fill(name)
    page.locator("#new-client-username").fill(username)
    page.locator("#new-client-low-digital").check()
    page.locator("#new-client-language").select_option("ru")
    assert_no_violations(phone, "officer home, opening a case")
    page.locator("#open-case-submit").click()
    link = page.locator("#enrolment-link")
    expect(link).to_contain_text("/#/enrol?code=")
    enrolment = link.inner_text()
    expect(page.locator("#new-client-name")).to_have_value("")  # the form is ready for the next one
    card = page.locator(".case").filter(has_text=name)
    expect(card).to_contain_text(phone.t("flag.low_digital_access"))
    assert_no_violations(phone, "officer home, a case opened")
    # The same username again: the server's refusal is shown, and nothing typed is lost.
    page.locator("#new-client-name").fill("Someone Else")
    page.locator("#new-client-username").fill(username)
    page.locator("#open-case-submit").click()
    expect(page.locator("#open-case-result [role=alert]")).to_be_visible()
    expect(page.locator("#new-client-name")).to_have_value("Someone Else")

    page.locator("#logout").click()
    page.locator("#username").wait_for()  # signed out: the sign-in screen
    page.goto(enrolment)
    phone.settled()
    page.locator("#new-password").fill("correct horse battery")
    page.locator("#confirm-password").fill("correct horse battery")
    page.locator("form button[type=submit]").click()
    expect(page.locator("#enrol-username")).to_have_text(username)
