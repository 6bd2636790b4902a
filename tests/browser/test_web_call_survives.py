"""A call survives the app (issue 13, item 7), through the UI on a 360 x 740 phone: a client
with two video appointments sees two Join buttons told apart by time and officer; the waiting
room shows the appointment and a self-view, with "Leave" not the main button; the officer's
page tells the truth before and after admitting (someone in the waiting room, then connected
by name) and names the client's tile, as the client's names the officer's; every in-call
control is on screen without scrolling; mute disables the microphone's track; tapping
Messages keeps the call (video still decoded on both sides, a bar to return to it), and a
reload rejoins the call without the device test or a second admission."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly
from tests.browser.test_web_attachments import PASSWORD, fresh_client
from tests.browser.test_web_axe import assert_no_blocking_violations
from tests.browser.test_web_checkin_call import _answer_safe, _decodes_video, _frames

pytestmark = pytest.mark.browser

CONTROLS = ("#call-mute", "#call-camera", "#call-audio-only", "#call-leave", "#call-cant-talk")
AUDIO_SENT = """() => {
    const call = window.__tandemCall;
    const local = call.local.getAudioTracks().map((t) => t.enabled);
    const sent = [];
    for (const entry of call.peers.values()) {
        for (const s of entry.pc.getSenders()) if (s.track && s.track.kind === 'audio') sent.push(s.track.enabled);
    }
    return {local, sent};
}"""
PLAYING = """(selector) => {
    const video = document.querySelector(selector);
    return Boolean(video && video.isConnected && !video.paused && video.readyState >= 2
        && video.srcObject && video.srcObject.getTracks().some((t) => t.readyState === 'live'));
}"""


def _video_appointments(base_url: str, client_name: str) -> list[dict[str, Any]]:
    """Two video appointments with the demo officer whose join windows are open now."""
    token = api_login(base_url, "officer")
    cases = api_call(base_url, "GET", "/api/caseload", token)["cases"]
    case_id = next(c["case_id"] for c in cases if c["client"]["display_name"] == client_name)
    soon = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=3)
    made = []
    for starts in (soon, soon + timedelta(minutes=4)):
        made += api_call(base_url, "POST", f"/api/cases/{case_id}/appointments", token, {
            "kind": "video", "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=30)).isoformat()})["appointments"]
    return made


def _local_time(device: Phone, iso: str, **fields: str) -> str:
    """`iso` as the page's language writes it (Intl, as shared/appointments.js formats it)."""
    return str(device.page.evaluate(
        "([iso, fields]) => new Intl.DateTimeFormat(document.documentElement.lang, fields).format(new Date(iso))",
        [iso, fields]))


def _grows(device: Phone, within_s: float = 15.0) -> None:
    """This page goes on decoding the other side's video."""
    before = _frames(device)
    deadline = time.monotonic() + within_s
    while _frames(device) <= before:
        assert time.monotonic() < deadline, "no new video frame decoded"
        device.page.wait_for_timeout(250)


def _status(device: Phone, text: str) -> None:
    device.page.wait_for_function(
        "(text) => document.getElementById('call-status')?.textContent === text", arg=text, timeout=20_000)


def test_a_call_survives_the_app(phone: Phone, open_device: Callable[..., Phone],
                                 demo_directory: dict[str, dict[str, Any]]) -> None:
    client_name = "Vera Videocall"
    officer_name = demo_directory["officer"]["display_name"]
    username = fresh_client(phone.base_url, client_name)
    first, second = _video_appointments(phone.base_url, client_name)
    page = phone.page

    # Two Join buttons, each named by its time and officer.
    phone.open_login()
    phone.submit_login(username, PASSWORD)
    page.wait_for_url("**/#/home")
    joins = page.locator("#appointments [data-join]")
    joins.nth(1).wait_for()
    names = [joins.nth(i).inner_text() for i in range(2)]
    assert names[0] != names[1]
    for name, appointment in zip(names, (first, second), strict=True):
        at = _local_time(phone, appointment["starts_at"], hour="2-digit", minute="2-digit")
        assert name == phone.t("client.join_checkin_at", time=at, name=officer_name)
        assert page.get_by_role("link", name=name, exact=True).count() == 1
    checkin = joins.nth(0).get_attribute("data-join")
    joins.nth(0).click()

    # Device test, safe space, then the waiting room: the appointment, a self-view, calm.
    page.locator("#device-start").click()
    page.locator("#device-continue-video").click(timeout=30_000)
    _answer_safe(phone)
    _status(phone, phone.t("checkin.waiting"))
    when = _local_time(phone, first["starts_at"], weekday="short", day="numeric", month="short",
                       hour="2-digit", minute="2-digit")
    page.locator("#call-when").wait_for()
    assert page.locator("#call-when").inner_text() == phone.t("call.appointment_when", when=when)
    assert page.locator("#call-with").inner_text() == phone.t("call.appointment_with", name=officer_name)
    page.wait_for_function(PLAYING, arg="#local-video")
    assert page.locator("#local-video").evaluate("(v) => v.muted") is True
    assert page.locator("#call-stage .button.primary").count() == 0  # "Leave" is not the main action
    assert_no_blocking_violations(phone, "waiting room with self-view")
    assert_phone_friendly(phone)

    # The officer's page says who is in the waiting room, not "You are connected".
    officer = open_device(phone.base_url, desktop=True)
    officer.login("officer")
    officer.page.locator(f"#open-{checkin}").click(timeout=20_000)
    _answer_safe(officer)
    _status(officer, officer.t("call.host_in_waiting_room", name=client_name))
    assert officer.t("checkin.in_call") not in officer.page.locator("#call-status").inner_text()
    officer.page.locator("#call-lobby .admit").click()
    assert _decodes_video(phone) > 0
    assert _decodes_video(officer) > 0
    _status(officer, officer.t("call.connected_with", name=client_name))
    _status(phone, phone.t("call.connected_with", name=officer_name))
    assert page.locator("#call-tiles .tile:has(.remote-video) figcaption").inner_text() == officer_name
    assert officer.page.locator("#call-tiles .tile:has(.remote-video) figcaption").inner_text() == client_name

    # Every control on screen at 360 x 740 without scrolling; "switch camera" only with two cameras.
    for selector in CONTROLS:
        box = page.locator(selector).bounding_box()
        assert box is not None, f"{selector} is not shown"
        assert box["x"] >= 0 and box["y"] >= 0, selector
        assert box["x"] + box["width"] <= 360 and box["y"] + box["height"] <= 740, f"{selector} off screen: {box}"
    cameras = page.evaluate(
        "async () => (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput').length")
    assert page.locator("#call-switch-camera").is_visible() is (cameras > 1)
    assert page.evaluate("() => window.scrollY") == 0
    assert_no_blocking_violations(phone, "call with controls")
    assert_phone_friendly(phone)

    # Mute: the microphone's track is disabled, in the page's stream and on what is sent.
    assert page.evaluate(AUDIO_SENT) == {"local": [True], "sent": [True]}
    page.locator("#call-mute").click()
    assert page.locator("#call-mute").get_attribute("aria-pressed") == "true"
    assert page.evaluate(AUDIO_SENT) == {"local": [False], "sent": [False]}
    page.locator("#call-mute").click()
    assert page.evaluate(AUDIO_SENT) == {"local": [True], "sent": [True]}

    # Messages during the call: the call goes on, with a bar back to it.
    page.locator("#nav-messages").click()
    page.wait_for_url("**/#/messages")
    phone.settled()
    page.locator("#call-bar").wait_for()
    assert page.locator("#call-stage").is_visible() is False
    assert page.locator("#call-return").is_visible()
    assert page.evaluate(PLAYING, ".remote-video")
    _grows(phone)
    _grows(officer)
    assert officer.page.locator("#call-status").inner_text() == officer.t("call.connected_with", name=client_name)
    assert_no_blocking_violations(phone, "messages during a call")
    assert_phone_friendly(phone)
    page.locator("#call-return").click()
    page.wait_for_url(f"**/#/checkin?c={checkin}")
    page.locator("#call-controls").wait_for()
    assert page.locator("#call-bar").is_hidden()
    assert page.locator("#page-title").inner_text() == phone.t("call.title")
    _grows(phone)

    # A reload rejoins: no device test, no second admission.
    page.reload()
    _status(phone, phone.t("call.connected_with", name=officer_name))
    assert page.locator("#device-start").count() == 0
    _grows(phone, within_s=30)
    _grows(officer, within_s=30)

    officer.page.locator("#call-leave").click()  # the host ends it for everybody
    page.locator("#checkin-ended").wait_for(timeout=15_000)
    officer.page.locator("#call-outcome-form").wait_for(timeout=15_000)
    assert page.locator("#call-bar").count() == 0
    for device in (phone, officer):
        assert not device.page_errors, device.page_errors
        assert not device.csp_reports()
