"""Group sessions in the shared scheduling screens, through the UI only (issue 14): a
participant's appointments card lists their group's sessions with a Join button while a
session's join window is open (to the live view, #/group-sessions/<id>/live) and an .ics for
a session; the group card offers a series' .ics; a group session's reminder reaches the
reminders card; the facilitator downloads a session's .ics from the group's session list; the
supervising officer finds a confirmed absence on the follow-up list and the case's attendance
lines on the case page. The API only sets up a fresh facilitator, group, clients, sessions
and the confirmed register. Axe-clean at 360 px."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly
from tests.browser.test_web_axe import assert_no_violations
from tests.browser.test_web_group_sessions import PASSWORD, _client
from tests.browser.test_web_groups import _facilitator

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def _download(page: Any, locator: Any) -> str:
    with page.expect_download() as download:
        locator.click()
    path = download.value.path()
    assert path is not None
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def test_group_sessions_in_the_upcoming_list_calendars_reminders_and_follow_ups(
        phone: Phone, open_device: Callable[..., Phone]) -> None:
    page, base = phone.page, phone.base_url
    admin = api_login(base, "admin")
    tag = secrets.token_hex(2)
    username, password, _ = _facilitator(base, admin, f"Kaisa Ohjaaja {tag}")
    token = api_login(base, username, password)
    group_name = f"Thursday {tag}"
    group_id = api_call(base, "POST", "/api/groups", token, {"name": group_name, "programme": "Thinking Skills"})["id"]
    names = [f"Ioana Marin {tag}", f"Tiit Kask {tag}"]
    clients = [_client(base, n) for n in names]
    for _, case_id in clients:
        api_call(base, "POST", f"/api/groups/{group_id}/participants", token, {"case_id": case_id})
    now = datetime.now(UTC).replace(microsecond=0)
    # A session that has just started (its register can be confirmed) and a weekly series of two
    # starting in 8 minutes (its join window is open, its 15-minute reminder is due).
    started = api_call(base, "POST", f"/api/groups/{group_id}/sessions", token, {
        "starts_at": (now - timedelta(minutes=2)).isoformat(), "ends_at": (now + timedelta(minutes=58)).isoformat()
    })["sessions"][0]["id"]
    soon = now + timedelta(minutes=8)
    series = api_call(base, "POST", f"/api/groups/{group_id}/sessions", token, {
        "starts_at": soon.isoformat(), "ends_at": (soon + timedelta(minutes=90)).isoformat(),
        "recurrence": {"interval_weeks": 1, "count": 2, "timezone": "UTC"}})["sessions"]
    register = api_call(base, "GET", f"/api/group-sessions/{started}/register", token)
    ids = {x["display_name"]: x["user_id"] for x in register["lines"]}
    api_call(base, "POST", f"/api/group-sessions/{started}/register", token, {"lines": [
        {"user_id": ids[names[0]], "status": "absent"}, {"user_id": ids[names[1]], "status": "attended"}]})

    # The participant: the group's sessions among the appointments, Join while the window is open.
    phone.open_login()
    phone.submit_login(clients[0][0], PASSWORD)
    page.wait_for_url("**/#/home")
    phone.settled()
    item = page.locator(f'#appointments > li[data-group-session-id="{series[0]["id"]}"]')
    expect(item).to_contain_text(phone.t("appt.kind.group"))
    expect(item).to_contain_text(group_name)
    join = item.locator(f'[data-join-group="{series[0]["id"]}"]')
    expect(join).to_have_attribute("href", f"#/group-sessions/{series[0]['id']}/live")
    expect(page.locator(f'#appointments > li[data-group-session-id="{started}"] [data-join-group]')).to_have_count(1)
    expect(page.locator(f'#appointments > li[data-group-session-id="{series[1]["id"]}"] [data-join-group]')
           ).to_have_count(0)  # next week: not open yet
    # The 15-minute reminder of the series' first session reaches the reminders card (task every 30 s);
    # first, as it moves the appointments down the page: a click during that shift lands elsewhere.
    expect(page.locator(f'#reminders > li[data-group-session-id="{series[0]["id"]}"]')).to_have_count(1, timeout=75_000)
    expect(page.locator(f'#reminders > li[data-group-session-id="{series[0]["id"]}"]')).to_contain_text(
        phone.t("appt.kind.group"))
    text = _download(page, item.locator(f'[data-ics-group="{series[0]["id"]}"]'))
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.count("BEGIN:VEVENT") == 1
    assert "SUMMARY:Group session\r\n" in text and group_name not in text
    # The group card: a series' calendar, offered once, on its first coming session.
    mine = page.locator(f"#my-sessions-{group_id}")
    expect(mine.locator("[data-ics-series]")).to_have_count(1)
    text = _download(page, mine.locator(f'[data-ics-series="{series[0]["id"]}"]'))
    assert text.count("BEGIN:VEVENT") == 2 and f"UID:{series[1]['id']}@tandem" in text
    assert_phone_friendly(phone)
    assert_no_violations(phone, "participant group sessions in the appointments")

    # The facilitator: a session's .ics from the group's session list.
    facilitator = open_device(base)
    facilitator.open_login()
    facilitator.submit_login(username, password)
    fpage = facilitator.page
    expect(fpage.locator("h1")).to_have_text(facilitator.t("facilitator.title"))
    facilitator.settled()
    fpage.locator(f'#groups > li[data-id="{group_id}"] [data-open-group]').click()
    session_item = fpage.locator(f'#sessions-{group_id} li[data-session-id="{started}"]')
    text = _download(fpage, session_item.locator(f'[data-ics="{started}"]'))
    assert f"UID:{started}@tandem" in text and "SUMMARY:Group session" in text
    assert_no_violations(facilitator, "facilitator sessions with calendar links")

    # The supervising officer: the absence on the follow-up list, the lines on the case.
    officer = open_device(base)
    officer.login("officer")
    officer.page.goto(f"{base}/#/schedule")
    officer.settled()
    absence = officer.page.locator(f'#group-absences > li[data-case-id="{clients[0][1]}"]')
    expect(absence).to_have_count(1)
    expect(absence).to_contain_text(names[0])
    expect(absence).to_contain_text(group_name)
    expect(officer.page.locator(f'#group-absences > li[data-case-id="{clients[1][1]}"]')).to_have_count(0)
    assert_phone_friendly(officer)
    assert_no_violations(officer, "officer follow-ups with group absences")
    absence.locator("a").click()
    officer.page.wait_for_url(f"**/#/cases/{clients[0][1]}")
    officer.settled()
    line = officer.page.locator(f'#group-attendance > li[data-session-id="{started}"]')
    expect(line).to_have_attribute("data-status", "absent")
    expect(line).to_contain_text(officer.t("register.status.absent"))
    expect(line).to_contain_text(group_name)
    assert_phone_friendly(officer)
    assert_no_violations(officer, "officer case with group attendance")


def test_a_facilitators_join_link_signs_a_participant_in_for_that_session_only(
        phone: Phone, open_device: Callable[..., Phone]) -> None:
    page, base = phone.page, phone.base_url
    admin = api_login(base, "admin")
    tag = secrets.token_hex(2)
    username, password, _ = _facilitator(base, admin, f"Anu Ohjaaja {tag}")
    token = api_login(base, username, password)
    group_id = api_call(base, "POST", "/api/groups", token,
                        {"name": f"Friday {tag}", "programme": "Thinking Skills"})["id"]
    name = f"Mihai Pop {tag}"
    _username, case_id = _client(base, name)  # the participant never types their password here
    api_call(base, "POST", f"/api/groups/{group_id}/participants", token, {"case_id": case_id})
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    session_id = api_call(base, "POST", f"/api/groups/{group_id}/sessions", token, {
        "starts_at": soon.isoformat(), "ends_at": (soon + timedelta(minutes=90)).isoformat()})["sessions"][0]["id"]
    member_id = next(m["id"] for m in api_call(base, "GET", f"/api/groups/{group_id}", token)["members"]
                     if m["display_name"] == name)

    # The facilitator makes the participant's link from the group's panel.
    phone.open_login()
    phone.submit_login(username, password)
    expect(page.locator("h1")).to_have_text(phone.t("facilitator.title"))
    phone.settled()
    page.locator(f'#groups > li[data-id="{group_id}"] [data-open-group]').click()
    page.locator(f"#join-link-session-{group_id}").select_option(session_id)
    page.locator(f"#join-link-participant-{group_id}").select_option(member_id)
    page.locator(f"#join-link-form-{group_id}-submit").click()
    made = page.locator(f'[data-join-link="{member_id}"]')
    expect(made).to_contain_text(name)
    link = page.locator(f"#join-link-made-{group_id}-link").inner_text()
    assert link.startswith(f"{base}/#/group-join?s={session_id}&code=")
    assert_phone_friendly(phone)
    assert_no_violations(phone, "facilitator join link")

    # The participant opens it on a phone with no session: signed in for this session only.
    participant = open_device(base)
    ppage = participant.page
    ppage.goto(link)
    participant.settled()
    expect(ppage.locator("h1")).to_have_text(participant.t("group_join.title"))
    assert_no_violations(participant, "group join link")
    ppage.locator("#group-join-use").click()
    expect(ppage.locator("#group-join-ready")).to_have_text(participant.t("group_join.ready"))
    # On to the live session with its group named, whose agreement the page may then ask for.
    expect(ppage.locator("#group-join-go")).to_have_attribute(
        "href", f"#/group-sessions/{session_id}/live?g={group_id}")
    assert "code=" not in ppage.url  # the spent code is gone from the address bar
    assert_phone_friendly(participant)
    assert_no_violations(participant, "group join link used")
    reach = ppage.evaluate("""async (sid) => {
      const status = async (path) => (await fetch(path, { credentials: "same-origin" })).status;
      const me = await (await fetch("/api/me")).json();
      return { me: me.id, own: await status(`/api/group-sessions/${sid}/ics`),
               safe: await status(`/api/group-sessions/${sid}/safe-space`),
               appointments: await status("/api/my/appointments"), groups: await status("/api/groups") };
    }""", session_id)
    assert reach == {"me": member_id, "own": 200, "safe": 200, "appointments": 403, "groups": 403}, reach

    # Spent: the same link on another phone signs nobody in, and says so.
    again = open_device(base)
    again.page.goto(link)
    again.settled()
    again.page.locator("#group-join-use").click()
    expect(again.page.locator("#group-join-error")).to_have_text(again.t("reason.group_session.bad_code"))
