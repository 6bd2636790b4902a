"""A case-network meeting by video through the UI alone (issue 16, TUKO stage 2: "joined by video
through Tandem's own rooms"): the officer raises a concern on the case page, invites a partner
agency and schedules a network meeting by video starting in a few minutes; the meeting's "Join by
video" button opens the live view, where the officer answers the staff safe-space questions (the
meeting's own question: nobody outside the meeting sees or hears it) and is in the session. The
partner, on their home, joins the same meeting from its button, answers their questions and is
in; each decodes the other's video tile, captioned with the other's name. The API only opens a
fresh case and a fresh partner (a random tag). Axe-clean at 360 px."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from tests.browser.support import Phone, assert_phone_friendly
from tests.browser.test_web_axe import assert_no_violations
from tests.browser.test_web_data_requests import fresh_client
from tests.browser.test_web_group_live import ALL_TILES_DECODE, _answer_safe
from tests.browser.test_web_networks import new_partner

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

#: A datetime-local value `minutes` from now, in the browser's own time zone.
LOCAL_SOON = """(minutes) => {
    const d = new Date(Date.now() + minutes * 60000);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}"""


def _join(device: Phone) -> None:
    """From the meeting's button to the session: the safe-space check with the meeting's question."""
    page = device.page
    page.locator("a.network-join-video").first.click()
    page.wait_for_url("**/#/group-sessions/netmeet-*/live?case=*")
    form = page.locator("#safe-form")
    form.wait_for(timeout=30_000)
    expect(form.locator('[data-question="group_only"] legend')).to_have_text(device.t("live.safe_meeting"))
    _answer_safe(device)
    expect(page.locator("#live-status")).to_have_attribute("data-place", "present", timeout=30_000)
    expect(page.locator("main h1")).to_have_text(device.t("live.meeting_title"))
    expect(page.locator("#live-not-recorded")).to_have_text(device.t("live.not_recorded"))


@pytest.mark.timeout(240)
def test_officer_and_partner_meet_by_video(tandem_server: str, open_device: Callable[..., Phone]) -> None:
    tag = secrets.token_hex(3)
    name = f"Ion Popa {tag}"
    _, _case_id = fresh_client(tandem_server, name)
    police, police_name = new_partner(tandem_server, tag, "police")

    # The officer gathers the network on the case page and schedules a meeting by video.
    officer = open_device(tandem_server, desktop=True)
    page = officer.page
    officer.login("officer")
    page.locator(".case a[data-open-case]").filter(has_text=name).click()
    page.wait_for_url("**/#/cases/*")
    officer.settled()
    status = page.locator("#case-network-status")
    page.locator("#network-noticed").fill("Threatening messages to the ex-partner")
    page.locator("#network-noticed-by").fill("Police")
    page.locator("#network-concern-submit").click()
    expect(status).to_have_text(officer.t("network.raised"))
    page.locator("#network-partner").select_option(label=police_name)
    page.locator("#network-agency").fill("Police")
    page.locator("#network-invite-submit").click()
    expect(page.locator(".network-members")).to_contain_text("Police")
    page.locator("#network-meeting-at").fill(page.evaluate(LOCAL_SOON, 3))
    page.locator("#network-meeting-mode").select_option("video")
    page.locator("#network-meeting-submit").click()
    expect(status).to_have_text(officer.t("network.scheduled"))
    join = page.locator("a.network-join-video")
    expect(join).to_have_count(1)
    expect(join).to_have_text(officer.t("network.join_video"))
    assert_no_violations(officer, "the case network card with a meeting to join by video")

    # The officer joins by video: their safe-space check, then the session, which they run.
    _join(officer)
    expect(page.locator("#live-console")).to_have_count(1)

    # The partner joins the same meeting from their home.
    partner = open_device(tandem_server)
    partner.login(police)
    item = partner.page.locator("#partner-networks [data-network]")
    expect(item).to_have_count(1)
    expect(item.locator("a.network-join-video")).to_have_text(partner.t("network.join_video"))
    assert_no_violations(partner, "the partner's network with a meeting to join by video")
    _join(partner)

    # Each sees the other's video: one decoding tile each, captioned with the other's name.
    partner.page.wait_for_function(ALL_TILES_DECODE, arg=1, timeout=60_000)
    page.wait_for_function(ALL_TILES_DECODE, arg=1, timeout=60_000)
    shown = "#group-tiles .tile:not([hidden]) figcaption"
    expect(partner.page.locator(shown)).to_have_text(partner.t(
        "live.name_role", name="Olli Officer", role=partner.t("live.role.case_leader")))
    expect(page.locator(shown)).to_have_text(officer.t(
        "live.name_role", name=police_name, role=officer.t("live.role.network_member")))
    assert_no_violations(partner, "a network meeting by video on a phone")
    assert_phone_friendly(partner)
