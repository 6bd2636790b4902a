"""The device and network test on a phone: Chromium's fake camera and microphone go to the
server's aiortc echo peer and back; the phone decodes its own echoed video, the server
recommends video on loopback, and the screen passes axe."""

from __future__ import annotations

import pytest

from tests.browser.support import Phone, assert_phone_friendly
from tests.browser.test_web_axe import assert_no_blocking_violations

pytestmark = pytest.mark.browser


def test_device_test_against_the_echo_peer(phone: Phone) -> None:
    phone.login("client1")
    phone.page.goto(f"{phone.base_url}/#/checkin?c=no-such-checkin")
    start = phone.page.locator("#device-start")
    start.wait_for()
    assert_no_blocking_violations(phone, "device test, before")
    assert_phone_friendly(phone)
    start.click()
    # The echoed picture plays in the page (frames decoded after the round trip through the server).
    phone.page.wait_for_function("""() => {
        const v = document.getElementById('echo-video');
        return v && v.srcObject && v.getVideoPlaybackQuality
            && v.getVideoPlaybackQuality().totalVideoFrames > 0;
    }""", timeout=20_000)
    phone.page.locator("#device-continue-video").wait_for(timeout=30_000)
    assert phone.page.locator("#device-camera").get_attribute("data-state") == "ok"
    assert phone.page.locator("#device-microphone").get_attribute("data-state") == "ok"
    assert phone.page.locator("#device-network").get_attribute("data-state") == "ok"
    assert phone.page.locator("#device-status").inner_text() == phone.t("device.recommend_video")
    assert_no_blocking_violations(phone, "device test, result")
    assert_phone_friendly(phone)
    assert not phone.page_errors
    assert not phone.csp_reports()
