"""Rooms and room devices through the UI only (issue 14): an admin registers a room on the
Rooms screen; a second page opens #/device and shows a pairing code; the admin pairs it with
that code; the device page signs in as the room. A facilitator schedules a session in the
room, adds a co-facilitator and an observer, marks a participant present in the room, and
the register shows it; the device then shows that session with a large Join. The API only
sets up fresh facilitators, a group and a client, and checks results. Axe-clean at 360 px."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly
from tests.browser.test_web_axe import assert_no_violations
from tests.browser.test_web_group_sessions import _client
from tests.browser.test_web_groups import _facilitator

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser


def test_pair_a_room_device_and_run_a_session_in_the_room(phone: Phone, open_device: Callable[..., Phone]) -> None:
    page, base = phone.page, phone.base_url
    admin_token = api_login(base, "admin")
    tag = secrets.token_hex(3)
    room_name, device_name = f"Room {tag}", f"Room {tag} computer"

    # The admin registers a room.
    phone.login("admin")
    page.locator("#nav-rooms").click()
    page.wait_for_url("**/#/rooms")
    phone.settled()
    expect(page.locator("h1")).to_have_text(phone.t("rooms.title"))
    page.locator("#new-room-name").fill(room_name)
    page.locator("#new-room-kind").select_option("office")
    page.locator("#new-room-form-submit").click()
    expect(page.locator("#rooms-status")).to_have_text(phone.t("rooms.created", name=room_name))
    room = page.locator("#rooms > li.room", has_text=room_name)
    expect(room.locator(".muted").first).to_have_text(phone.t("rooms.kind.office"))
    room_id = room.get_attribute("data-room-id")
    assert room_id

    # The room's computer opens #/device with nobody signed in: a code, large.
    device = open_device(base, desktop=True)
    device.page.goto(f"{base}/#/device")
    code_line = device.page.locator("#pairing-code")
    expect(code_line).to_be_visible()
    device.settled()
    code = code_line.get_attribute("data-code")
    assert code and len(code) == 6
    assert device.page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    assert_no_violations(device, "room device pairing code")

    # A wrong code is refused in words; the shown code pairs the device.
    assert_phone_friendly(phone)
    assert_no_violations(phone, "rooms screen")
    page.locator("#pair-room").select_option(label=room_name)
    page.locator("#pair-code").fill("ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY")
    page.locator("#pair-name").fill(device_name)
    page.locator("#pair-form-submit").click()
    expect(page.locator("#pair-form-error [role=alert]")).to_have_text(phone.t("reason.room_device.unknown_code"))
    page.locator("#pair-code").fill(f"{code[:3].lower()} {code[3:]}")  # as someone types it
    page.locator("#pair-form-submit").click()
    expect(page.locator("#rooms-status")).to_have_text(phone.t("rooms.paired", name=device_name))
    expect(page.locator(f'#room-{room_id}-devices > li')).to_have_count(1)
    expect(page.locator(f'#room-{room_id}-devices > li')).to_contain_text(device_name)

    # The device page signs itself in as the room.
    expect(device.page.locator("h1")).to_have_text(room_name, timeout=15000)
    device.settled()
    expect(device.page.locator("#device-name")).to_have_text(device.t("room_device.signed_in_as", name=device_name))
    expect(device.page.locator("#device-none")).to_have_text(device.t("room_device.no_session"))
    me = device.page.evaluate("async () => (await fetch('/api/me')).json()")
    assert (me["role"], me["display_name"]) == ("room_device", device_name)
    assert device.page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    assert device.page.evaluate("async () => (await fetch('/api/caseload')).status") == 403

    # A facilitator's group with one participant; two colleagues to add to a session.
    fac_user, fac_password, _ = _facilitator(base, admin_token, f"Mari Ohjaaja {tag}")
    _, _, colleague_id = _facilitator(base, admin_token, f"Peeter Kaas {tag}")
    _, _, mentor_id = _facilitator(base, admin_token, f"Tiina Mentor {tag}")
    fac_token = api_login(base, fac_user, fac_password)
    group_id = api_call(base, "POST", "/api/groups", fac_token,
                        {"name": f"Hybrid {tag}", "programme": "One to One"})["id"]
    participant = f"Ana Popescu {tag}"
    _, case_id = _client(base, participant)
    api_call(base, "POST", f"/api/groups/{group_id}/participants", fac_token, {"case_id": case_id})

    # The facilitator schedules a session in the room, starting this minute.
    fac = open_device(base)
    fac.open_login()
    fac.submit_login(fac_user, fac_password)
    fac.page.wait_for_url("**/#/home")
    fac.settled()
    fp = fac.page
    card = fp.locator(f'#groups > li[data-id="{group_id}"]')
    card.locator("[data-open-group]").click()
    expect(card.locator(f"#sessions-{group_id}")).to_have_text(fac.t("sessions.none"))
    day, clock = fp.evaluate("""() => {
      const d = new Date(); const p = (n) => String(n).padStart(2, "0");
      return [`${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`,
              `${p(d.getHours())}:${p(d.getMinutes())}`]; }""")
    fp.locator(f"#session-date-{group_id}").fill(day)
    fp.locator(f"#session-time-{group_id}").fill(clock)
    room_option = fp.locator(f"#session-room-{group_id} option", has_text=room_name)
    expect(room_option).to_have_count(1)
    fp.locator(f"#session-room-{group_id}").select_option(label=room_name)
    fp.locator(f"#session-form-{group_id}-submit").click()
    expect(fp.locator(f"#sessions-status-{group_id}")).to_have_text(fac.t("sessions.scheduled", count=1))
    [made] = api_call(base, "GET", f"/api/groups/{group_id}/sessions", fac_token)["sessions"]
    assert (made["room_id"], made["room_name"]) == (room_id, room_name)
    sid = made["id"]
    item = fp.locator(f'li[data-session-id="{sid}"]')
    expect(item).to_contain_text(room_name)

    # A co-facilitator and an observer.
    item.locator("[data-open-staff]").click()
    expect(fp.locator(f"#staff-{sid}-list")).to_have_text(fac.t("staff.none"))
    fp.locator(f"#staff-{sid}-user").select_option(colleague_id)
    fp.locator(f"#staff-{sid}-role").select_option("co_facilitator")
    fp.locator(f"#staff-{sid}-form-submit").click()
    expect(fp.locator(f"#staff-{sid}-status")).to_have_text(fac.t("staff.added"))
    fp.locator(f"#staff-{sid}-user").select_option(mentor_id)
    fp.locator(f"#staff-{sid}-role").select_option("observer")
    fp.locator(f"#staff-{sid}-form-submit").click()
    staff = fp.locator(f"#staff-{sid}-list > li")
    expect(staff).to_have_count(2)
    expect(fp.locator(f'#staff-{sid}-list > li[data-role="observer"]')).to_have_text(
        fac.t("staff.member", name=f"Tiina Mentor {tag}", role=fac.t("staff.role.observer")))
    expect(fp.locator(f'#staff-{sid}-list > li[data-role="co_facilitator"]')).to_have_text(
        fac.t("staff.member", name=f"Peeter Kaas {tag}", role=fac.t("staff.role.co_facilitator")))
    listed = api_call(base, "GET", f"/api/group-sessions/{sid}/staff", fac_token)["staff"]
    assert sorted((x["user_id"], x["role"]) for x in listed) == sorted(
        [(colleague_id, "co_facilitator"), (mentor_id, "observer")])

    # Present in the room: the checklist, then the register shows it.
    item.locator("[data-open-in-room]").click()
    box = fp.locator(f"#in-room-{sid}-list input[type=checkbox]")
    expect(box).to_have_count(1)
    expect(box).not_to_be_checked()
    assert_phone_friendly(fac)
    assert_no_violations(fac, "facilitator session staff and in-room checklist")
    fp.locator(f"#in-room-{sid}-list label", has_text=participant).click()
    expect(fp.locator(f"#in-room-{sid}-status")).to_have_text(fac.t("in_room.marked", name=participant))
    expect(box).to_be_checked()
    item.locator("[data-open-register]").click()
    line = fp.locator(f"#register-{sid}-lines > li")
    expect(line).to_have_count(1)
    expect(line.locator(".row", has_text=fac.t("register.in_room"))).to_contain_text(fac.t("register.yes"))
    register = api_call(base, "GET", f"/api/group-sessions/{sid}/register", fac_token)
    assert [(x["display_name"], x["in_room"]) for x in register["lines"]] == [(participant, True)]

    # The device shows the session in its room, with Join leading to the live view.
    device.page.reload()
    device.settled()
    session = device.page.locator(f'.device-session[data-session-id="{sid}"]')
    expect(session).to_contain_text(f"Hybrid {tag}")
    expect(session.locator("h2")).to_have_text(device.t("room_device.now"))
    expect(device.page.locator("#device-join")).to_have_text(device.t("room_device.join"))
    expect(device.page.locator("#device-join")).to_have_attribute("href", f"#/group-sessions/{sid}/live")
    assert device.page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    assert_no_violations(device, "room device with its session")
