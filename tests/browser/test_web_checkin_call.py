"""A whole check-in in two Chromium pages through the server: the client on a phone joins
from the link with its one-time code, tests camera and network against the echo peer,
answers the safe-space questions and waits; the officer on a desktop sees them waiting,
passes their own safe-space check and admits them; each page then decodes the other's
video (framesDecoded > 0 from getStats); "Voice only" then leaves only audio flowing.
Also: "I can't talk safely now" ends the client's attempt with a neutral message and
quietly alerts the officer."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly
from tests.browser.test_web_axe import assert_no_blocking_violations

pytestmark = pytest.mark.browser

INBOUND = """async () => {
    const out = {audio: 0, video: 0};
    for (const entry of window.__tandemCall.peers.values()) {
        (await entry.pc.getStats()).forEach((s) => {
            if (s.type === 'inbound-rtp') out[s.kind] += s.packetsReceived || 0;
        });
    }
    return out;
}"""
FRAMES_DECODED = """async () => {
    const call = window.__tandemCall;
    if (!call) return 0;
    let frames = 0;
    for (const entry of call.peers.values()) {
        (await entry.pc.getStats()).forEach((s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
        });
    }
    return frames;
}"""


def _checkin_for(base_url: str, client_display_name: str) -> tuple[str, str]:
    """The demo officer schedules a check-in now for that client: (check-in id, join path)."""
    token = api_login(base_url, "officer")
    cases = api_call(base_url, "GET", "/api/caseload", token)["cases"]
    case_id = next(c["case_id"] for c in cases if c["client"]["display_name"] == client_display_name)
    now = datetime.now(UTC)
    made = api_call(base_url, "POST", f"/api/cases/{case_id}/checkins", token,
                    {"starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()})
    link = api_call(base_url, "POST", f"/api/checkins/{made['id']}/link", token)
    return made["id"], link["path"]


def _answer_safe(device: Phone, *, safe: bool = True) -> None:
    form = device.page.locator("#safe-form")
    form.wait_for()
    for fieldset in form.locator("fieldset.question").all():
        fieldset.locator(f"input[value={'yes' if safe else 'no'}]").check()
    device.page.locator("#safe-submit").click()


def _client_reaches_safe_space(phone: Phone, path: str) -> None:
    phone.page.goto(f"{phone.base_url}/{path.lstrip('/')}")
    phone.page.locator("#use-code").click()
    phone.page.locator("#device-start").click()
    phone.page.locator("#device-continue-video").wait_for(timeout=30_000)
    # The session from the link's code may run the device test; it worked and advises video.
    assert phone.page.locator("#device-status").inner_text() == phone.t("device.recommend_video")
    phone.page.locator("#device-continue-video").click()


def _frames(device: Phone) -> int:
    return int(device.page.evaluate(FRAMES_DECODED))


def _decodes_video(device: Phone, within_s: float = 30.0) -> int:
    """Frames of the other side's video this page decoded, once there are any (getStats is
    asynchronous, so it is polled from here rather than through wait_for_function)."""
    deadline = time.monotonic() + within_s
    while (frames := _frames(device)) == 0:
        assert time.monotonic() < deadline, "no video frame decoded in time"
        device.page.wait_for_timeout(250)
    return frames


def test_whole_checkin_both_pages_decode_video(phone: Phone, open_device: Callable[..., Phone],
                                               demo_directory: dict[str, dict[str, Any]]) -> None:
    checkin, path = _checkin_for(phone.base_url, demo_directory["client1"]["display_name"])
    officer = open_device(phone.base_url, desktop=True)
    officer.login("officer")

    _client_reaches_safe_space(phone, path)
    assert_no_blocking_violations(phone, "safe-space questions")
    assert_phone_friendly(phone)
    _answer_safe(phone)
    phone.page.wait_for_function(
        "(text) => document.getElementById('call-status')?.textContent === text", arg=phone.t("checkin.waiting"))
    assert_no_blocking_violations(phone, "waiting room")

    # The officer sees who is waiting, opens the check-in, passes the staff questions, admits.
    officer.page.locator(f"#open-{checkin}").wait_for(timeout=20_000)
    assert_no_blocking_violations(officer, "officer home, someone waiting")
    officer.page.locator(f"#open-{checkin}").click()
    officer.page.locator("#safe-form").wait_for()
    assert_no_blocking_violations(officer, "staff safe-space questions")
    _answer_safe(officer)
    officer.page.locator("#call-lobby .admit").click(timeout=20_000)

    assert _decodes_video(phone) > 0
    assert _decodes_video(officer) > 0
    assert_no_blocking_violations(phone, "call (phone)")
    assert_phone_friendly(phone)
    assert_no_blocking_violations(officer, "call (officer)")

    # Voice only from the phone: renegotiated, so no video flows either way; audio goes on.
    phone.page.locator("#call-audio-only").click()
    phone.page.locator("#call-status").filter(has_text=phone.t("call.audio_only_on")).wait_for()
    phone.page.wait_for_timeout(1500)  # the renegotiation completes, packets in flight arrive
    before = (phone.page.evaluate(INBOUND), officer.page.evaluate(INBOUND))
    phone.page.wait_for_timeout(2000)
    after = (phone.page.evaluate(INBOUND), officer.page.evaluate(INBOUND))
    for side, b, a in (("phone", before[0], after[0]), ("officer", before[1], after[1])):
        assert a["video"] == b["video"], f"{side} still receives video: {b} -> {a}"
        assert a["audio"] > b["audio"], f"{side} receives no audio: {b} -> {a}"

    officer.page.locator("#call-leave").click()  # the host ends the call for everybody
    phone.page.locator("#checkin-ended").wait_for(timeout=15_000)
    for device in (phone, officer):
        assert not device.page_errors, device.page_errors
        assert not device.csp_reports()


def test_cant_talk_safely_is_neutral_for_the_client_and_alerts_the_officer(
        phone: Phone, open_device: Callable[..., Phone], demo_directory: dict[str, dict[str, Any]]) -> None:
    checkin, path = _checkin_for(phone.base_url, demo_directory["client1"]["display_name"])
    officer = open_device(phone.base_url, desktop=True)
    officer.login("officer")
    officer.page.locator("#waiting-card").wait_for()
    _client_reaches_safe_space(phone, path)
    phone.page.locator("#safe-cant-talk").click()
    ended = phone.page.locator("#checkin-ended")
    ended.wait_for()
    assert ended.inner_text() == phone.t("checkin.ended_neutral")
    assert phone.page.locator("#alerts").count() == 0  # nothing on the client's screen says "alert"
    assert_no_blocking_violations(phone, "ended (client)")
    # Kept for the officer until acknowledged (issue 13), once, in the header's alerts (the
    # waiting panel does not repeat it): acknowledged here, so the demo officer has no open
    # alert left for the tests after this one.
    officer.page.locator("#alerts-toggle").click()
    stored = officer.page.locator(f"#alerts-list [data-checkin='{checkin}'][data-kind=cant_talk_safely]")
    stored.wait_for(timeout=15_000)
    assert demo_directory["client1"]["display_name"] in stored.inner_text()  # says who, not "A client"
    assert officer.page.locator(f"[data-checkin='{checkin}']").count() == 1  # shown once on the page
    stored.locator("[data-ack]").click()
    stored.wait_for(state="detached")


def test_signing_in_from_a_link_returns_to_the_checkin(phone: Phone,
                                                        demo_directory: dict[str, dict[str, Any]]) -> None:
    checkin, _path = _checkin_for(phone.base_url, demo_directory["client1"]["display_name"])
    phone.page.goto(f"{phone.base_url}/#/checkin?c={checkin}")
    phone.settled()
    assert phone.page.locator("#use-code").count() == 0  # no code in this link
    assert_no_blocking_violations(phone, "check-in link, signed out")
    phone.page.locator("#sign-in").click()
    phone.page.locator("#username").wait_for()
    phone.submit_login("client1")
    phone.page.locator("#device-start").wait_for()  # back on the check-in, at the device test
    assert f"c={checkin}" in phone.page.url
