"""Staff are told wherever they are (issue 13, item 8), in Chromium, driven through the UI:
an officer on the Schedule page sees the header's alert count and "(1)" in the page title
as a client enters the waiting room, and the video appointment's card says so; a "can't
talk" alert is still there after a reload and goes once acknowledged. When the officer
answers their own safe-space question "no", the client waiting is told kindly, and the
officer moves the appointment to another time from the same page.

Each test has an officer and a client of its own (made through the admin API), so the
demo accounts keep their state."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly
from tests.browser.test_web_axe import assert_no_blocking_violations
from tests.browser.test_web_checkin_call import _answer_safe, _client_reaches_safe_space

pytestmark = pytest.mark.browser


def _officer_with_video_appointment(base_url: str, admin_token: str) -> dict[str, Any]:
    """A new officer, a new client met face to face, and a video appointment starting in two
    minutes (its check-in is open to join now); with the link the client joins from."""
    username, password = f"alerts{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    api_call(base_url, "POST", "/api/admin/users", admin_token,
             {"username": username, "display_name": "Olga Officer", "role": "officer", "password": password})
    token = api_login(base_url, username, password)
    officer_id = api_call(base_url, "GET", "/api/me", token)["id"]
    name = f"Wanda Waiting {secrets.token_hex(2)}"
    case_id = api_call(base_url, "POST", "/api/cases", token, {
        "client_username": f"client{secrets.token_hex(4)}", "client_display_name": name,
        "officer_id": officer_id})["case_id"]
    now = datetime.now(UTC).replace(microsecond=0)
    api_call(base_url, "POST", f"/api/cases/{case_id}/face-to-face", token,
             {"met_at": (now - timedelta(days=1)).isoformat(), "location": "Office"})
    appointment = api_call(base_url, "POST", f"/api/cases/{case_id}/appointments", token, {
        "kind": "video", "starts_at": (now + timedelta(minutes=2)).isoformat(),
        "ends_at": (now + timedelta(minutes=32)).isoformat()})["appointments"][0]
    checkin = next(c["id"] for c in api_call(base_url, "GET", "/api/checkins", token)["checkins"]
                   if c["appointment_id"] == appointment["id"])
    path = api_call(base_url, "POST", f"/api/checkins/{checkin}/link", token)["path"]
    return {"username": username, "password": password, "token": token, "client": name, "checkin": checkin,
            "appointment": appointment, "path": path}


def _sign_in(device: Phone, username: str, password: str) -> None:
    device.open_login()
    device.submit_login(username, password)
    device.page.locator("#logout").wait_for()
    device.settled()


def _card_state(officer: Phone, appointment_id: str, state: str) -> None:
    officer.page.locator(f"[data-appointment-id='{appointment_id}'] [data-checkin-state='{state}']").wait_for(
        timeout=20_000)


def test_waiting_and_cant_talk_reach_the_schedule_page_and_stay_until_acknowledged(
        phone: Phone, open_device: Callable[..., Phone], admin_token: str) -> None:
    made = _officer_with_video_appointment(phone.base_url, admin_token)
    officer = open_device(phone.base_url, desktop=True)
    _sign_in(officer, made["username"], made["password"])
    officer.page.locator("#nav-schedule").click()
    officer.settled()
    _card_state(officer, made["appointment"]["id"], "scheduled")
    count = officer.page.locator("#alerts-count")
    assert count.is_hidden() and not officer.page.title().startswith("(")

    # The client enters the waiting room: the officer, on the Schedule page, is told.
    _client_reaches_safe_space(phone, made["path"])
    _answer_safe(phone)
    phone.page.wait_for_function(
        "(text) => document.getElementById('call-status')?.textContent === text", arg=phone.t("checkin.waiting"))
    officer.page.wait_for_function("() => document.getElementById('alerts-count')?.textContent === '1'",
                                   timeout=20_000)
    assert count.is_visible()
    officer.page.wait_for_function("() => document.title.startsWith('(1) ')")
    assert officer.page.title() == "(1) " + officer.t("app.doc_title", page=officer.t("schedule.title"))
    _card_state(officer, made["appointment"]["id"], "waiting")
    officer.page.locator("#alerts-toggle").click()
    item = officer.page.locator(f"#alerts-list [data-checkin='{made['checkin']}']")
    assert item.get_attribute("data-kind") == "client_waiting" and made["client"] in item.inner_text()
    assert item.locator("[data-open=checkin]").get_attribute("href") == f"#/checkin?c={made['checkin']}"
    assert_no_blocking_violations(officer, "schedule with an alert open")

    # "I can't talk safely now" from the waiting room: the waiting alert goes, this one stays.
    phone.page.locator("#call-cant-talk").click()
    phone.page.locator("#checkin-ended").wait_for(timeout=15_000)
    officer.page.locator("#alerts-list [data-kind=cant_talk_safely]").wait_for(timeout=20_000)
    officer.page.locator("#alerts-list [data-kind=client_waiting]").wait_for(state="detached")
    _card_state(officer, made["appointment"]["id"], "not_safe")

    officer.page.reload()  # kept by the server, not by the page
    officer.settled()
    officer.page.wait_for_function("() => document.getElementById('alerts-count')?.textContent === '1'")
    assert officer.page.title().startswith("(1) ")
    officer.page.locator("#alerts-toggle").click()
    item = officer.page.locator("#alerts-list [data-kind=cant_talk_safely]")
    assert made["client"] in item.inner_text()
    assert_no_blocking_violations(officer, "alerts after a reload")
    item.locator("[data-ack]").click()
    item.wait_for(state="detached")
    officer.page.locator("#alerts-none").wait_for()
    assert count.is_hidden()
    officer.page.wait_for_function("() => !document.title.startsWith('(')")
    assert api_call(phone.base_url, "GET", "/api/alerts", made["token"])["alerts"] == []

    # The sound is off until turned on, and the choice is kept on this device.
    sound = officer.page.locator("#alerts-sound")
    assert not sound.is_checked()
    sound.check()
    officer.page.reload()
    officer.settled()
    officer.page.locator("#alerts-toggle").click()
    assert officer.page.locator("#alerts-sound").is_checked()
    for device in (phone, officer):
        assert not device.page_errors, device.page_errors


def test_officer_not_safe_tells_the_client_kindly_and_offers_another_time(
        phone: Phone, open_device: Callable[..., Phone], admin_token: str) -> None:
    made = _officer_with_video_appointment(phone.base_url, admin_token)
    officer = open_device(phone.base_url, desktop=True)
    _sign_in(officer, made["username"], made["password"])
    _client_reaches_safe_space(phone, made["path"])
    _answer_safe(phone)

    # The officer goes from the alert to the check-in and answers their own question "no".
    officer.page.wait_for_function("() => document.getElementById('alerts-count')?.textContent === '1'",
                                   timeout=20_000)
    officer.page.locator("#alerts-toggle").click()
    officer.page.locator(f"#alerts-list [data-checkin='{made['checkin']}'] [data-open=checkin]").click()
    _answer_safe(officer, safe=False)

    ended = phone.page.locator("#checkin-ended")
    ended.wait_for(timeout=15_000)
    assert ended.inner_text() == phone.t("checkin.officer_unavailable")
    assert_no_blocking_violations(phone, "officer unavailable (client)")
    assert_phone_friendly(phone)

    officer.page.locator("#staff-unavailable").wait_for()
    officer.page.locator("#propose-time").click()
    form_id = f"change-{made['appointment']['id']}"
    officer.page.locator(f"#{form_id}-form").wait_for()
    assert_no_blocking_violations(officer, "officer unavailable, another time")
    officer.page.locator(f"#{form_id}-date").fill((datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d"))
    officer.page.locator(f"#{form_id}-time").fill("10:30")
    officer.page.locator(f"#{form_id}-save").click()
    officer.page.locator("#propose-status").filter(has_text=officer.t("schedule.changed", when="")[:10]).wait_for()
    moved = api_call(phone.base_url, "GET", f"/api/appointments/{made['appointment']['id']}", made["token"])
    assert moved["starts_at"] != made["appointment"]["starts_at"]
    assert datetime.fromisoformat(moved["starts_at"]) > datetime.now(UTC) + timedelta(days=1)
    for device in (phone, officer):
        assert not device.page_errors, device.page_errors
