"""Group programme sessions through the UI only (issue 14): a facilitator schedules a weekly
series, sets the group's confidentiality agreement and cancels one session (asked once
more); an enrolled participant sees the group's sessions on their phone and accepts the
agreement; the facilitator opens the started session's register (one line per participant,
"absent" suggested since nobody joined), confirms it with a chosen status each, and
downloads it as CSV. The API only sets up a fresh facilitator, group and clients (so the
demo facilitator keeps exactly one group) and checks results. Axe-clean at 360 px."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly, open_case
from tests.browser.test_web_axe import assert_no_violations
from tests.browser.test_web_groups import _facilitator

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

PASSWORD = "a-long-enough-password-1"


def _client(base: str, name: str) -> tuple[str, str]:
    """A new client of the demo officer, enrolled with PASSWORD: (username, case id)."""
    username, link = open_case(base, name)
    api_call(base, "POST", "/api/enrol", body={"code": link.split("code=", 1)[1], "password": PASSWORD})
    cases = api_call(base, "GET", "/api/caseload", api_login(base, "officer"))["cases"]
    return username, next(c["case_id"] for c in cases if c["client"]["display_name"] == name)


def test_sessions_agreement_and_register(phone: Phone, open_device: Callable[..., Phone]) -> None:
    page, base = phone.page, phone.base_url
    admin = api_login(base, "admin")
    tag = secrets.token_hex(2)
    username, password, _ = _facilitator(base, admin, f"Mari Ohjaaja {tag}")
    token = api_login(base, username, password)
    group_id = api_call(base, "POST", "/api/groups", token, {"name": f"Tuesday {tag}", "programme": "One to One"})["id"]
    names = [f"Ana Popescu {tag}", f"Jüri Tamm {tag}"]
    clients = [_client(base, n) for n in names]
    for _, case_id in clients:
        api_call(base, "POST", f"/api/groups/{group_id}/participants", token, {"case_id": case_id})

    phone.open_login()
    phone.submit_login(username, password)
    expect(page.locator("h1")).to_have_text(phone.t("facilitator.title"))
    phone.settled()
    card = page.locator(f'#groups > li[data-id="{group_id}"]')
    card.locator("[data-open-group]").click()
    sessions = card.locator(f"#sessions-{group_id}")
    expect(sessions).to_have_text(phone.t("sessions.none"))

    # A weekly series of three, the first starting this minute (so its register can be kept).
    day, clock = page.evaluate("""() => {
      const d = new Date(); const p = (n) => String(n).padStart(2, "0");
      return [`${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`,
              `${p(d.getHours())}:${p(d.getMinutes())}`]; }""")
    page.locator(f"#session-date-{group_id}").fill(day)
    page.locator(f"#session-time-{group_id}").fill(clock)
    page.locator(f"#session-repeat-{group_id}").select_option("1")
    page.locator(f"#session-count-{group_id}").fill("3")
    page.locator(f"#session-form-{group_id}-submit").click()
    items = sessions.locator("li.session")
    expect(items).to_have_count(3)
    expect(page.locator(f"#sessions-status-{group_id}")).to_have_text(phone.t("sessions.scheduled", count=3))
    listed = api_call(base, "GET", f"/api/groups/{group_id}/sessions", token)["sessions"]
    assert len(listed) == 3 and len({s["series_id"] for s in listed}) == 1 and listed[0]["series_id"]
    first, _, last = (s["id"] for s in listed)

    # The agreement.
    expect(page.locator(f"#agreement-version-{group_id}")).to_have_text(phone.t("agreement.none"))
    page.locator(f"#agreement-text-{group_id}").fill("What is said in the group stays in the group.")
    page.locator(f"#agreement-form-{group_id}-submit").click()
    expect(page.locator(f"#agreement-version-{group_id}")).to_have_text(phone.t("agreement.version", version=1))
    agreement = api_call(base, "GET", f"/api/groups/{group_id}/agreement", token)
    assert (agreement["text"], agreement["version"], agreement["auto_admit"]) == (
        "What is said in the group stays in the group.", 1, False)
    assert_phone_friendly(phone)
    assert_no_violations(phone, "facilitator group sessions")

    # Cancel the last session, asked once more.
    item = sessions.locator(f'li[data-session-id="{last}"]')
    item.locator("[data-cancel-session]").click()
    expect(item.locator(".confirm")).to_be_visible()
    assert_no_violations(phone, "facilitator cancel confirmation")
    item.locator("[data-confirm-cancel]").click()
    expect(sessions.locator(f'li[data-session-id="{last}"]')).to_have_attribute("data-status", "cancelled")
    expect(sessions.locator(f'li[data-session-id="{last}"] .badge')).to_have_text(phone.t("sessions.cancelled"))
    listed = api_call(base, "GET", f"/api/groups/{group_id}/sessions", token)["sessions"]
    statuses = {s["id"]: s["status"] for s in listed}
    assert list(statuses.values()).count("cancelled") == 1 and statuses[last] == "cancelled"

    # The participant sees the sessions and accepts the agreement.
    participant = open_device(base)
    participant.open_login()
    participant.submit_login(clients[0][0], PASSWORD)
    participant.page.wait_for_url("**/#/home")
    participant.settled()
    mine = participant.page.locator(f"#my-sessions-{group_id} > li")
    expect(mine).to_have_count(3)
    expect(participant.page.locator(f'#my-sessions-{group_id} > li[data-session-id="{last}"]')).to_contain_text(
        participant.t("sessions.cancelled"))
    expect(participant.page.locator(f"#my-agreement-text-{group_id}")).to_have_text(
        "What is said in the group stays in the group.")
    assert_phone_friendly(participant)
    assert_no_violations(participant, "participant group agreement")
    participant.page.locator(f"#my-agreement-accept-{group_id}").click()
    expect(participant.page.locator(f"#my-agreement-accepted-{group_id}")).to_have_text(participant.t("my_groups.accepted"))
    client_token = api_login(base, clients[0][0], PASSWORD)
    assert api_call(base, "GET", f"/api/groups/{group_id}/agreement", client_token)["accepted"] is True
    assert api_call(base, "GET", f"/api/groups/{group_id}/agreement",
                    api_login(base, clients[1][0], PASSWORD))["accepted"] is False

    # The register of the started session: nobody joined, so "absent" is suggested for each.
    item = sessions.locator(f'li[data-session-id="{first}"]')
    item.locator("[data-open-register]").click()
    lines = item.locator(f"#register-{first}-lines > li")
    expect(lines).to_have_count(2)
    expect(lines.locator("[data-suggestion]")).to_have_text(
        [phone.t("register.suggested", status=phone.t("register.status.absent"))] * 2)
    assert sorted(lines.locator(".big").all_inner_texts()) == sorted(names)
    assert_phone_friendly(phone)
    assert_no_violations(phone, "facilitator register")
    excused = next(i for i, n in enumerate(lines.locator(".big").all_inner_texts()) if n == names[1])
    user_ids = lines.evaluate_all("(els) => els.map((e) => e.dataset.userId)")
    page.locator(f"#register-{first}-status-{user_ids[excused]}").select_option("excused")
    page.locator(f"#register-{first}-form-submit").click()
    expect(page.locator(f"#sessions-status-{group_id}")).to_have_text(phone.t("register.confirmed"))
    expect(sessions.locator(f'li[data-session-id="{first}"] .badge')).to_have_text(
        phone.t("sessions.register_confirmed"))
    register = api_call(base, "GET", f"/api/group-sessions/{first}/register", token)
    assert register["confirmed_at"] is not None
    assert sorted((x["display_name"], x["status"]) for x in register["lines"]) == [
        (names[0], "absent"), (names[1], "excused")]

    # Confirmed: read-only lines and the CSV.
    item = sessions.locator(f'li[data-session-id="{first}"]')
    item.locator("[data-open-register]").click()
    expect(item.locator("[data-status]").filter(has_text=phone.t("register.status.excused"))).to_have_count(1)
    with page.expect_download() as download:
        page.locator(f"#register-{first}-csv").click()
    path = download.value.path()
    assert path is not None
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    header, *rows = [line for line in text.splitlines() if line]
    assert "," in header and names[0] not in header and len(rows) == 2, text
    assert any(names[1] in r and "excused" in r for r in rows), text
    assert download.value.suggested_filename == "register.csv"
    assert_phone_friendly(phone)
    assert_no_violations(phone, "facilitator confirmed register")
