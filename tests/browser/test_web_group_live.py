"""A live group session through the UI (issue 14): a facilitator's console (desktop page),
a participant's phone page (fake camera and microphone) and aiortc bots speaking the /ws
group frames, all through the demo server's SFU. The participant joins from their
appointments: device test, the group's safe-space question, the confidentiality agreement, the
lobby; the facilitator admits them (and the bots) from the console; the phone decodes
video tiles, labelled with the other participants' first names only, and switches to voice
only and back. The facilitator spotlights themselves, clears a raised hand, sees the
participant's own mute, mutes the participant (the phone shows it; unmuting is refused by
the server and the refusal is shown; after the phone reloads it is back in the session,
still muted; once allowed it unmutes; its socket drops and it reconnects by itself),
removes a bot (it cannot rejoin), opens a breakout room with the participant and a bot,
visits it, moves the bot back, returns everyone and ends the session; the register, opened
in the facilitator's UI, lists each person's arrival and departure, and once confirmed there
each line is on that participant's case for their officer. The API only sets up the
facilitator, group, clients, room and session, and checks the cases. Axe-clean at 360 px.

A room device, paired to the session's room on its #/device page (the pairing itself through
the API, as setup), joins from its Join button: straight in, a full-screen grid of the
online participants (first names only), no personal controls, nothing in the browser's
storage."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.browser.group_bots import Loop, WsBot
from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly, open_case
from tests.browser.test_web_axe import assert_no_violations
from tests.browser.test_web_groups import _facilitator

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

PASSWORD = "a-long-enough-password-1"
AGREEMENT = "What is said in the group stays in the group."
#: Keeps the page's WebSockets (test instrumentation, injected before any page script), marking
#: the live session's own: the one that sends group.join.
SOCKETS = """
window.__sockets = [];
window.WebSocket = class extends window.WebSocket {
  constructor(...args) { super(...args); window.__sockets.push(this); }
  send(data) { if (String(data).includes('"group.join"')) this.__group = true; super.send(data); }
};
"""
DROP_GROUP_SOCKET = """() => {
    const open = window.__sockets.filter((s) => s.__group && s.readyState === WebSocket.OPEN);
    open.forEach((s) => s.close());
    return open.length;
}"""
#: Every video tile shown plays decoded video (it has a picture size), and there are `n` of them.
ALL_TILES_DECODE = """(n) => {
    const shown = [...document.querySelectorAll('#group-tiles .tile:not([hidden]) video')];
    return shown.length === n && shown.every((v) => v.videoWidth > 0 && !v.paused);
}"""


def _client(base: str, name: str) -> tuple[str, str]:
    """A new client of the demo officer (met face to face), enrolled with PASSWORD: (username, case id)."""
    username, link = open_case(base, name, met=True)
    api_call(base, "POST", "/api/enrol", body={"code": link.split("code=", 1)[1], "password": PASSWORD})
    cases = api_call(base, "GET", "/api/caseload", api_login(base, "officer"))["cases"]
    return username, next(c["case_id"] for c in cases if c["client"]["display_name"] == name)


@pytest.fixture
def loop() -> Iterator[Loop]:
    running = Loop()
    yield running
    running.close()


def _answer_safe(device: Phone) -> None:
    form = device.page.locator("#safe-form")
    form.wait_for(timeout=30_000)
    for fieldset in form.locator("fieldset.question").all():
        fieldset.locator("input[value=yes]").check()
    device.page.locator("#safe-submit").click()


def _admit(fac: Phone, name: str) -> str:
    """Admit the one waiting under that name from the console's lobby; their participant id."""
    item = fac.page.locator("#live-lobby > li").filter(has_text=name)
    item.wait_for(timeout=30_000)
    pid = str(item.get_attribute("data-participant"))
    item.locator(".admit").click()
    expect(fac.page.locator(f'#live-people > li[data-participant="{pid}"]')).to_have_count(1, timeout=20_000)
    return pid


@pytest.mark.timeout(300)
def test_a_live_group_session_from_the_console_and_a_phone(phone: Phone, open_device: Callable[..., Phone],
                                                          loop: Loop) -> None:
    base = phone.base_url
    admin = api_login(base, "admin")
    tag = secrets.token_hex(2)
    fac_user, fac_password, _ = _facilitator(base, admin, f"Mari Ohjaaja {tag}")
    fac_token = api_login(base, fac_user, fac_password)
    group_id = api_call(base, "POST", "/api/groups", fac_token,
                        {"name": f"Live {tag}", "programme": "Thinking Skills"})["id"]
    api_call(base, "PUT", f"/api/groups/{group_id}/agreement", fac_token, {"text": AGREEMENT})
    names = {"phone": f"Ana Popescu {tag}", "b1": f"Bot Uno {tag}", "b2": f"Bot Dos {tag}"}
    users = {key: _client(base, name) for key, name in names.items()}
    for _, case_id in users.values():
        api_call(base, "POST", f"/api/groups/{group_id}/participants", fac_token, {"case_id": case_id})
    room_id = api_call(base, "POST", "/api/rooms", admin, {"name": f"Room {tag}", "kind": "office"})["id"]
    now = datetime.now(UTC)
    sid = api_call(base, "POST", f"/api/groups/{group_id}/sessions", fac_token, {
        "starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat(),
        "room_id": room_id})["sessions"][0]["id"]
    bot_tokens = {}
    for key in ("b1", "b2"):
        bot_tokens[key] = api_login(base, users[key][0], PASSWORD)
        api_call(base, "POST", f"/api/groups/{group_id}/agreement/acceptance", bot_tokens[key], {"version": 1})

    # The facilitator starts the session from their groups page: their own safe-space check, then the console.
    fac = open_device(base, desktop=True)
    fac.open_login()
    fac.submit_login(fac_user, fac_password)
    fac.page.locator(f'#groups > li[data-id="{group_id}"] [data-open-group]').click()
    fac.page.locator(f'[data-start-session="{sid}"]').click()
    _answer_safe(fac)
    expect(fac.page.locator("#live-status")).to_have_attribute("data-place", "present", timeout=30_000)
    expect(fac.page.locator("#live-not-recorded")).to_have_text(fac.t("live.not_recorded"))
    expect(fac.page.locator("#live-lobby-empty")).to_be_visible()

    # The participant joins from their phone: device test, safe space, agreement, lobby.
    page = phone.page
    page.context.add_init_script(SOCKETS)
    phone.open_login()
    phone.submit_login(users["phone"][0], PASSWORD)
    page.locator(f'[data-join-group="{sid}"]').click()  # among their appointments
    page.locator("#device-start").click()
    page.locator("#device-continue-video").click(timeout=30_000)
    form = page.locator("#safe-form")
    expect(form.locator('[data-question="group_only"] legend')).to_have_text(phone.t("live.safe_group"))
    assert_no_violations(phone, "group safe-space questions")
    _answer_safe(phone)
    expect(page.locator("#live-agreement-text")).to_have_text(AGREEMENT)
    assert_no_violations(phone, "group agreement before the first session")
    page.locator("#live-agreement-accept").click()
    expect(page.locator("#live-status")).to_have_text(phone.t("live.waiting"), timeout=30_000)
    expect(page.locator("#live-not-recorded")).to_have_text(phone.t("live.not_recorded"))
    assert_no_violations(phone, "group lobby")
    assert_phone_friendly(phone)
    assert api_call(base, "GET", f"/api/groups/{group_id}/agreement",
                    api_login(base, users["phone"][0], PASSWORD))["accepted"] is True

    # The facilitator admits the participant, then the bots, from the console's lobby.
    ppid = _admit(fac, names["phone"])
    expect(page.locator("#live-status")).to_have_text(phone.t("live.present"), timeout=30_000)
    b1 = WsBot(loop, base, bot_tokens["b1"], "b1", tone=True)
    b2 = WsBot(loop, base, bot_tokens["b2"], "b2")
    try:
        for bot in (b1, b2):
            bot.join(sid)
            assert bot.frame("group.joined")["state"] == "waiting"
        b1pid = _admit(fac, names["b1"])
        b2pid = _admit(fac, names["b2"])
        assert (b1.participant, b2.participant) == (b1pid, b2pid)

        # The room's computer, paired to the room, joins from its Join button: straight in, no steps.
        device_name = f"Room {tag} computer"
        room_pc = open_device(base, desktop=True)
        room_pc.page.goto(f"{base}/#/device")
        code = room_pc.page.locator("#pairing-code").get_attribute("data-code", timeout=15_000)
        api_call(base, "POST", f"/api/rooms/{room_id}/devices", admin, {"code": code, "name": device_name})
        room_pc.page.locator("#device-join").click(timeout=30_000)
        expect(room_pc.page.locator("#live-status")).to_have_attribute("data-place", "present", timeout=30_000)
        assert room_pc.page.evaluate("() => document.body.classList.contains('room-mode')")
        for absent in ("#live-controls", "#safe-form", "#device-start", "#live-chat", "#group-self", "#live-console"):
            expect(room_pc.page.locator(absent)).to_have_count(0)
        expect(fac.page.locator('#live-people > li[data-role="room_device"]')).to_contain_text(device_name)
        assert_no_violations(fac, "facilitator console")
        fac.page.set_viewport_size({"width": 360, "height": 740})  # a facilitator on a phone
        assert_no_violations(fac, "facilitator console at 360 px")
        assert_phone_friendly(fac)
        fac.page.set_viewport_size({"width": 1280, "height": 800})

        # Media through the SFU: the phone decodes video tiles, and so does a bot.
        page.wait_for_function(ALL_TILES_DECODE, arg=4, timeout=60_000)  # the facilitator, two bots, the room
        b1.until(lambda: b1.decoded() > 0, "a decoded video frame", within_s=60)
        # The room's screen: everyone online in a grid (the facilitator, the phone, two bots).
        room_pc.page.wait_for_function(ALL_TILES_DECODE, arg=4, timeout=60_000)
        room_captions = room_pc.page.locator("#group-tiles .tile:not([hidden]) figcaption").all_inner_texts()
        assert "Ana" in room_captions and not any(names["phone"] in c for c in room_captions), room_captions
        assert room_pc.page.evaluate("() => localStorage.length + sessionStorage.length") == 0
        assert_no_violations(room_pc, "room device in a session")
        # The phone shows the other participants by the group's name for them (first names), never
        # their full names; the facilitator by their full name and role.
        captions = page.locator("#group-tiles .tile:not([hidden]) figcaption").all_inner_texts()
        assert sorted(captions) == sorted(["Bot", "Bot", device_name, phone.t(
            "live.name_role", name=f"Mari Ohjaaja {tag}", role=phone.t("live.role.facilitator"))]), captions
        assert_no_violations(phone, "group session on a phone")
        assert_phone_friendly(phone)

        # The facilitator spotlights themselves: the phone's large view shows them.
        fac_pid = str(fac.page.locator('#live-people > li[data-role="facilitator"]').get_attribute("data-participant"))
        fac.page.locator(f"#live-spotlight-{fac_pid}").click()
        expect(page.locator("#group-tiles .tile.large")).to_have_attribute("data-participant", fac_pid)
        fac.page.locator(f"#live-spotlight-{fac_pid}").click()  # and ends the spotlight
        expect(fac.page.locator(f"#live-spotlight-{fac_pid}")).to_have_text(fac.t("live.spotlight"))

        # Voice only on the phone: no video is shown (nor sent to it), then video again.
        page.locator("#live-voice-only").click()
        expect(page.locator("#group-tiles-empty")).to_have_text(phone.t("live.voice_only_on"))
        expect(page.locator("#group-tiles .tile:not([hidden])")).to_have_count(0)
        page.locator("#live-voice-only").click()
        page.wait_for_function(ALL_TILES_DECODE, arg=4, timeout=60_000)

        # A raised hand is queued for the facilitator, who lowers every hand.
        page.locator("#live-hand").click()
        expect(fac.page.locator("#live-hands > li")).to_have_count(1)
        expect(fac.page.locator("#live-hands > li")).to_contain_text(names["phone"])
        fac.page.locator("#live-hands-clear").click()
        expect(fac.page.locator("#live-hands > li")).to_have_count(0)
        expect(page.locator("#live-hand")).to_have_attribute("aria-pressed", "false")

        # The participant mutes themselves; the console shows the microphone off, then on again.
        person = fac.page.locator(f'#live-people > li[data-participant="{ppid}"]')
        page.locator("#live-mic").click()
        expect(person.locator(".flags")).to_contain_text(fac.t("live.flag.mic_off"))
        page.locator("#live-mic").click()
        expect(person.locator(".flags")).not_to_contain_text(fac.t("live.flag.mic_off"))
        expect(page.locator("#live-mic")).to_have_attribute("aria-pressed", "false")

        # Mute: the phone says so, and the server refuses to unmute until allowed.
        fac.page.locator(f"#live-mute-{ppid}").click()
        expect(page.locator("#live-told")).to_have_text(phone.t("live.notice.muted"))
        expect(page.locator("#live-mic")).to_have_attribute("aria-pressed", "true")
        expect(person).to_have_attribute("data-muted", "true")
        page.locator("#live-mic").click()
        expect(page.locator("#live-told")).to_have_attribute("data-code", "unmute_not_allowed")
        expect(page.locator("#live-told")).to_have_text(phone.t("errors.unmute_not_allowed"))
        expect(page.locator("#live-mic")).to_have_attribute("aria-pressed", "true")

        # The phone reloads (a drop): back through the checks, into the session without the
        # lobby, still muted by the facilitator, the tiles playing again.
        page.reload()
        page.locator("#device-start").click()
        page.locator("#device-continue-video").click(timeout=30_000)
        # The server keeps the safe-space pass for the session: the rejoin is not asked again.
        expect(page.locator("#live-status")).to_have_text(phone.t("live.present"), timeout=30_000)
        expect(page.locator("#safe-form")).to_have_count(0)
        expect(page.locator("#live-mic")).to_have_attribute("aria-pressed", "true")
        page.wait_for_function(ALL_TILES_DECODE, arg=4, timeout=60_000)

        # Allowed to unmute again, the participant unmutes.
        fac.page.locator(f"#live-allow-{ppid}").click()
        expect(page.locator("#live-told")).to_have_text(phone.t("live.notice.unmute_allowed"))
        page.locator("#live-mic").click()
        expect(page.locator("#live-mic")).to_have_attribute("aria-pressed", "false")
        expect(person).to_have_attribute("data-muted", "false")

        # The session's socket drops: the page reconnects by itself and joins again (a new
        # offer), back in the session with the tiles playing.
        assert page.evaluate(DROP_GROUP_SOCKET) == 1
        page.wait_for_function("() => window.__sockets.filter((s) => s.__group).length === 2", timeout=30_000)
        expect(page.locator("#live-status")).to_have_attribute("data-place", "present", timeout=30_000)
        page.wait_for_function(ALL_TILES_DECODE, arg=4, timeout=60_000)
        expect(person.locator(".flags")).not_to_contain_text(fac.t("live.flag.dropped"))

        # Remove a bot, after a confirmation: it is told, and it cannot join again.
        fac.page.locator(f"#live-remove-{b2pid}").click()
        expect(fac.page.locator("#live-confirm-question")).to_have_text(
            fac.t("live.confirm_remove", name=names["b2"]))
        fac.page.locator("#live-confirm-yes").click()
        b2.frame("group.notice", kind="removed")
        expect(fac.page.locator(f'#live-people > li[data-participant="{b2pid}"]')).to_have_count(0)
        b2.close()
        again = WsBot(loop, base, bot_tokens["b2"], "b2-again")
        try:
            again.join(sid)
            refused = again.frame("error", code="join_refused")
            assert (refused["rule_id"], refused["reason"]) == ("session_controls", "session_controls.removed"), refused
        finally:
            again.close()

        # A breakout room with the participant and a bot, then everyone back.
        fac.page.locator(f"#live-assign-{ppid}").select_option("0")
        fac.page.locator(f"#live-assign-{b1pid}").select_option("0")
        room = fac.t("live.room_default", n=1)
        fac.page.locator("#live-breakouts-open").click()
        expect(page.locator("#live-room")).to_have_text(phone.t("live.in_breakout", room=room), timeout=20_000)
        b1.until(lambda: (b1.my_seat() or {}).get("room") == room, "moved to the breakout room")
        expect(fac.page.locator("#live-breakout-timer")).not_to_be_empty()
        assert_no_violations(fac, "facilitator console, breakouts open")
        # The facilitator, alone in the main room, visits the breakout room: its media only.
        rooms = fac.page.locator("#live-rooms")
        rooms.locator(f'li[data-room="{room}"] button').click()
        expect(rooms.locator(f'li[data-room="{room}"] .note')).to_have_text(fac.t("live.you_are_here"))
        fac.page.wait_for_function(ALL_TILES_DECODE, arg=2, timeout=60_000)  # the phone and the bot
        # A bot is moved back to the main room.
        fac.page.locator(f"#live-move-{b1pid}").select_option("main")
        fac.page.locator(f"#live-move-go-{b1pid}").click()
        b1.until(lambda: (b1.my_seat() or {}).get("room") == "main", "moved back to the main room")
        fac.page.locator("#live-return-all").click()
        expect(page.locator("#live-told")).to_have_text(phone.t("live.back_in_main"), timeout=20_000)
        expect(page.locator("#live-room")).to_be_hidden()
        b1.until(lambda: (b1.my_seat() or {}).get("room") == "main", "back in the main room")

        # The facilitator ends the session for everyone, after a confirmation.
        fac.page.locator("#live-end").click()
        fac.page.locator("#live-confirm-yes").click()
        expect(page.locator("#live-status")).to_have_text(phone.t("live.notice.ended"), timeout=20_000)
        b1.frame("group.notice", kind="ended")
        expect(room_pc.page.locator("#live-status")).to_have_text(room_pc.t("live.notice.ended"), timeout=20_000)
        assert not room_pc.page.evaluate("() => document.body.classList.contains('room-mode')")
    finally:
        b1.close()
        b2.close()

    # The register, from the console's link: everyone's arrival and departure.
    fac.page.locator("#live-register-after").click()
    card = fac.page.locator(f'#groups > li[data-id="{group_id}"]')
    card.locator("[data-open-group]").click()
    card.locator(f'[data-open-register="{sid}"]').click()
    lines = card.locator(f"#register-{sid}-lines > li")
    expect(lines).to_have_count(3)
    for name in names.values():
        line = lines.filter(has_text=name)
        expect(line).to_contain_text(fac.t("register.arrived"))
        expect(line).to_contain_text(fac.t("register.left"))
    # Confirmed as suggested: each line lands on the participant's case, for their officer.
    fac.page.locator(f"#register-{sid}-form-submit").click()
    expect(fac.page.locator(f"#sessions-status-{group_id}")).to_have_text(fac.t("register.confirmed"))
    register = api_call(base, "GET", f"/api/group-sessions/{sid}/register", fac_token)
    confirmed = {x["display_name"]: x["status"] for x in register["lines"]}
    assert set(confirmed) == set(names.values()) and None not in confirmed.values(), confirmed
    officer = api_login(base, "officer")
    for key, (_, case_id) in users.items():
        on_case = api_call(base, "GET", f"/api/cases/{case_id}/group-attendance", officer)["lines"]
        assert [(x["session_id"], x["status"]) for x in on_case] == [(sid, confirmed[names[key]])], key
    for device in (phone, fac, room_pc):
        assert not device.page_errors, device.page_errors
        assert not device.csp_reports()

