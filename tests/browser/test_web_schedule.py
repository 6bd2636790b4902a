"""Scheduling in the web client: an officer schedules, sees the day and week, is refused
video for a client not yet met (with the rule named) and cancels; a client on a phone
gets a reminder live over /ws and sees their upcoming appointments. Axe-clean, 360 px."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import _phone, _serve
from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly, open_case
from tests.browser.test_web_axe import assert_no_violations

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

LIVE_MS = 15_000


@pytest.fixture(scope="module")
def reminding_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo server whose reminder task looks for due reminders every second."""
    yield from _serve(tmp_path_factory, "TANDEM_SCHEDULE_BASE_URL", TANDEM_REMINDER_INTERVAL_S="1")


def case_of(base_url: str, token: str, client_name: str) -> str:
    cases = api_call(base_url, "GET", "/api/caseload", token)["cases"]
    return str(next(c["case_id"] for c in cases if c["client"]["display_name"] == client_name))


def test_a_one_off_appointment_has_one_cancel_button_and_no_stray_text(phone: Phone) -> None:
    """Not part of a series: one cancel button, and nothing else in the actions (a null
    handed to Element.append used to show as the word "null" beside it); the day view names
    its day once (it used to print the day heading twice)."""
    page = phone.page
    place = f"Room {secrets.token_hex(3)}"
    phone.login("officer")
    page.locator("#open-schedule").click()
    page.wait_for_url("**/#/schedule")
    phone.settled()
    tomorrow = page.locator("#appt-date").input_value()
    page.locator("#appt-case").select_option(label="Kalle Client")
    page.locator("#appt-kind").select_option("in_person")
    page.locator("#appt-time").fill("15:00")
    page.locator("#appt-location").fill(place)
    page.locator("#appt-repeat").select_option("0")
    page.locator("#schedule-submit").click()
    page.wait_for_url(f"**/#/schedule?view=day&date={tomorrow}")
    phone.settled()
    actions = page.locator("#appointments .appointment").filter(has_text=place).locator(".actions")
    expect(actions.locator("button")).to_have_text([phone.t("schedule.change"), phone.t("schedule.cancel")])
    expect(actions).to_have_text(phone.t("schedule.change") + phone.t("schedule.cancel"))
    # The day is named once, by the range title; the week view names each of its days.
    expect(page.locator("#range-title")).not_to_be_empty()
    expect(page.locator("#appointments .day > h3")).to_have_count(0)
    page.locator("#view-week").click()
    phone.settled()
    expect(page.locator(f"#appointments [data-day='{tomorrow}'] > h3")).to_have_count(1)


def test_officer_moves_an_appointment_and_is_refused_video_for_a_client_never_met(phone: Phone) -> None:
    """Change on an open appointment: a form prefilled from the server's copy; video for a
    client never met is refused with the server's reason and rule (nothing typed is lost);
    moved to 14:30 in person, the schedule shows it there and so does the API. A fresh
    case, so the demo's own appointments stay as other tests expect them."""
    page = phone.page
    name = f"Toomas Tamm {secrets.token_hex(2)}"
    place = f"Room {secrets.token_hex(3)}"
    open_case(phone.base_url, name)
    token = api_login(phone.base_url, "officer")
    case_id = case_of(phone.base_url, token, name)
    # The browser runs in UTC here, so the day and times the form shows are the API's.
    day = (datetime.now(UTC) + timedelta(days=2)).date()
    starts = datetime(day.year, day.month, day.day, 11, 0, tzinfo=UTC)
    made = api_call(phone.base_url, "POST", f"/api/cases/{case_id}/appointments", token, {
        "kind": "in_person", "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(minutes=45)).isoformat(),
        "location": place})["appointments"][0]
    phone.login("officer")
    page.goto(f"{phone.base_url}/#/schedule?view=day&date={day.isoformat()}")
    phone.settled()
    mine = page.locator(f"#appointments [data-appointment-id='{made['id']}']")
    mine.locator("[data-change]").click()
    form = mine.locator("form")
    prefix = f"#change-{made['id']}-"
    expect(page.locator(f"{prefix}date")).to_be_focused()
    expect(page.locator(f"{prefix}date")).to_have_value(day.isoformat())
    expect(page.locator(f"{prefix}time")).to_have_value("11:00")
    expect(page.locator(f"{prefix}duration")).to_have_value("45")
    expect(page.locator(f"{prefix}location")).to_have_value(place)
    expect(page.locator(f"{prefix}kind")).to_have_value("in_person")
    assert_no_violations(phone, "officer schedule changing an appointment")

    page.locator(f"{prefix}kind").select_option("video")
    page.locator(f"{prefix}time").fill("14:30")
    page.locator(f"{prefix}save").click()
    expect(form.locator("[role=alert]")).to_contain_text("face-to-face")
    expect(form).to_contain_text("face_to_face_first")
    expect(page.locator(f"{prefix}time")).to_have_value("14:30")
    assert_no_violations(phone, "officer schedule with a refused change")
    assert api_call(phone.base_url, "GET", f"/api/appointments/{made['id']}", token)["kind"] == "in_person"

    page.locator(f"{prefix}kind").select_option("in_person")
    page.locator(f"{prefix}save").click()
    expect(page.locator("#schedule-status")).to_contain_text(phone.t("schedule.changed", when="").rstrip(". "))
    moved = page.locator(f"#appointments [data-appointment-id='{made['id']}']")
    expect(moved.locator("h3")).to_have_text(re.compile(r"^(14:30|02:30\sPM)"))  # as the language writes 14:30
    expect(moved.locator("form")).to_have_count(0)
    stored = api_call(phone.base_url, "GET", f"/api/appointments/{made['id']}", token)
    assert datetime.fromisoformat(stored["starts_at"]) == starts.replace(hour=14, minute=30)
    assert datetime.fromisoformat(stored["ends_at"]) == starts.replace(hour=15, minute=15)
    assert stored["location"] == place


def test_officer_schedules_sees_day_and_week_and_cancels(phone: Phone) -> None:
    page = phone.page
    place = f"Room {secrets.token_hex(3)}"
    phone.login("officer")
    page.locator("#open-schedule").click()
    page.wait_for_url("**/#/schedule")
    phone.settled()
    expect(page.locator("h1")).to_have_text(phone.t("schedule.title"))
    assert_no_violations(phone, "officer schedule (empty day)")
    # A video call for a client never met in person: refused, and the rule is named.
    page.locator("#appt-case").select_option(label="Liis Client")
    page.locator("#appt-kind").select_option("video")
    page.locator("#schedule-submit").click()
    expect(page.locator("#schedule-error [role=alert]")).to_contain_text("face-to-face")
    expect(page.locator("#schedule-error")).to_contain_text("face_to_face_first")
    assert_no_violations(phone, "officer schedule with a refusal")
    # In person with Kalle, tomorrow at 10:00, weekly, three times.
    tomorrow = page.locator("#appt-date").input_value()  # the form's default: tomorrow, in the browser's zone
    page.locator("#appt-case").select_option(label="Kalle Client")
    page.locator("#appt-kind").select_option("in_person")
    page.locator("#appt-date").fill(tomorrow)
    page.locator("#appt-time").fill("10:00")
    page.locator("#appt-location").fill(place)
    page.locator("#appt-repeat").select_option("1")
    page.locator("#appt-count").fill("3")
    page.locator("#schedule-submit").click()
    page.wait_for_url(f"**/#/schedule?view=day&date={tomorrow}")
    phone.settled()
    item = page.locator("#appointments .appointment").filter(has_text=place)
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Kalle Client")
    expect(item).to_contain_text(phone.t("appt.kind.in_person"))
    assert_phone_friendly(phone)
    assert_no_violations(phone, "officer schedule (day with an appointment)")
    page.locator("#view-week").click()
    page.wait_for_url(f"**/#/schedule?view=week&date={tomorrow}")
    phone.settled()
    expect(page.locator("#view-week")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#appointments .appointment").filter(has_text=place)).to_have_count(1)
    assert_no_violations(phone, "officer schedule (week)")
    page.locator("#next").click()  # the next week has the second of the series
    phone.settled()
    expect(page.locator("#appointments .appointment").filter(has_text=place)).to_have_count(1)
    # Cancel it and the one after: both show as cancelled, with no cancel buttons left.
    mine = page.locator("#appointments .appointment").filter(has_text=place)
    mine.locator("[data-cancel=following]").click()
    expect(mine.locator("[data-confirm=following]")).to_be_focused()  # asks once more: it cannot be undone
    mine.locator("[data-keep]").click()
    expect(mine.locator("[data-confirm]")).to_have_count(0)
    mine.locator("[data-cancel=following]").click()
    assert_no_violations(phone, "officer schedule asking to confirm a cancellation")
    mine.locator("[data-confirm=following]").click()
    expect(page.locator("#schedule-status")).to_have_text(phone.t("schedule.cancelled"))
    cancelled = page.locator("#appointments .appointment[data-status=cancelled]").filter(has_text=place)
    expect(cancelled).to_have_count(1)
    expect(cancelled).to_contain_text(phone.t("appt.cancelled"))
    expect(cancelled.locator("button")).to_have_count(0)
    assert_no_violations(phone, "officer schedule with a cancelled appointment")


def test_client_gets_a_live_reminder_and_sees_upcoming(browser: Any, reminding_server: str,
                                                       catalogs: dict[str, dict[str, str]]) -> None:
    devices = _phone(browser, reminding_server, catalogs)
    phone = next(devices)
    try:
        page = phone.page
        phone.login("client1")
        phone.settled()  # (the demo's own check-in with client1 may have a reminder already, or get one)
        token = api_login(reminding_server, "officer")
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
        made = api_call(reminding_server, "POST", f"/api/cases/{case_of(reminding_server, token, 'Kalle Client')}"
                        "/appointments", token, {"kind": "video", "starts_at": start.isoformat(),
                                                 "ends_at": (start + timedelta(minutes=30)).isoformat()})
        appointment_id = made["appointments"][0]["id"]
        reminder = page.locator(f'#reminders .reminder[data-appointment-id="{appointment_id}"]')
        expect(reminder).to_have_count(1, timeout=LIVE_MS)  # the 15-minute one, live over /ws
        expect(reminder).to_contain_text(phone.t("appt.kind.video"))
        expect(page.locator("#reminder-announce")).to_contain_text(phone.t("appt.kind.video"))
        expect(page.locator("#no-reminders")).to_be_hidden()
        page.reload()
        phone.settled()
        expect(reminder).to_have_count(1)  # kept in the in-app list
        mine = page.locator(f'#appointments [data-appointment-id="{appointment_id}"]')
        expect(mine).to_contain_text(phone.t("appt.kind.video"))
        with page.expect_download() as download:  # "Add to my calendar": the .ics, with this session's cookie
            mine.get_by_role("link", name=phone.t("appt.add_to_calendar")).click()
        ics = download.value.path().read_bytes().decode()
        assert ics.startswith("BEGIN:VCALENDAR\r\n") and f"UID:{appointment_id}@tandem" in ics
        assert_phone_friendly(phone)
        assert_no_violations(phone, "client home with appointments and a reminder")
        assert not phone.page_errors, phone.page_errors
    finally:
        devices.close()


def test_a_reminder_no_longer_counts_down_once_its_appointment_began(phone: Phone) -> None:
    """The reminder list keeps a week of reminders: one whose appointment began says when it
    was, not "in about 15 min" (issue 13). The page's own module, in the page's language."""
    phone.login("client1")
    texts = phone.page.evaluate("""async () => {
        const { reminderText } = await import("/shared/appointments.js");
        const r = { kind: "video", offset_s: 900, starts_at: "2026-12-01T10:00:00Z" };
        return [reminderText(r, new Date("2026-12-01T09:45:00Z")), reminderText(r, new Date("2026-12-01T10:30:00Z"))];
    }""")
    assert phone.t("appt.kind.video") in texts[0] and "15" in texts[0], texts
    was = phone.t("reminders.past").split("{when}")[0].replace("{kind}", phone.t("appt.kind.video"))
    assert texts[1].startswith(was), texts
