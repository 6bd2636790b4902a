"""Words in the user's language (issue 13), through the UI only: a client's home in Finnish
holds no English and no rule id; a refused officer form shows the server's own reason, worded
from its code, once; programme-group members see one another by the name the group uses.
The API is used only to set up fresh data (the demo's own accounts stay as other tests expect)
and to check results."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.support import Phone, api_call, api_login, open_case
from tests.browser.test_web_axe import assert_no_violations

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

RULE_IDS = ("face_to_face_first", "safe_space", "group_rules", "alternatives", "scope", "retention")


def _english_only(catalogs: dict[str, dict[str, str]], lang: str) -> list[str]:
    """English catalog sentences that the other language words differently (placeholders cut
    out: each part of a sentence with parameters is checked on its own)."""
    out = []
    for key, english in catalogs["en"].items():
        if catalogs[lang][key] == english:
            continue
        out += [part.strip() for part in re.split(r"\{\w+\}", english) if len(part.strip()) > 12 and " " in part]
    return out


def test_the_client_home_in_finnish_shows_no_english_and_no_rule_id(
        phone: Phone, catalogs: dict[str, dict[str, str]]) -> None:
    page = phone.page
    phone.login("client2")  # never met their officer: video and messages unavailable, with the reason
    page.locator("#lang-select").select_option("fi")
    expect(page.locator("html")).to_have_attribute("lang", "fi")
    expect(page.locator("#unavailable")).to_be_visible()
    phone.settled()
    expect(page.locator("#unavailable [data-unavailable]")).to_have_count(2)
    expect(page.locator("#unavailable [data-unavailable=video]")).to_have_text(phone.t("client.unavailable_video"))
    expect(page.locator("#unavailable [data-unavailable=messages]")).to_have_text(
        phone.t("client.unavailable_messages"))
    expect(page.locator("[data-remote=refused] .reason")).to_have_text(
        phone.t("reason.face_to_face_first.none_recorded.client"))
    text = page.locator("main").inner_text()
    leaked = [sentence for sentence in _english_only(catalogs, "fi") if sentence in text]
    assert not leaked, f"English on the Finnish page: {leaked}"
    assert "(rule " not in text and "Rule:" not in text
    assert not [r for r in RULE_IDS if r in text], text
    expect(page.locator("[data-rule-id]")).to_have_count(0)
    # Not even the server's English reason: it names the rule.
    mine = api_call(phone.base_url, "GET", "/api/my/case", api_login(phone.base_url, "client2"))
    assert mine["remote"]["reason"] not in text
    assert_no_violations(phone, "client home in Finnish, remote contact unavailable")


def _schedule(page: Any, client: str, kind: str, when: datetime) -> None:
    page.locator("#appt-case").select_option(label=client)
    page.locator("#appt-kind").select_option(kind)
    page.locator("#appt-date").fill(when.strftime("%Y-%m-%d"))
    page.locator("#appt-time").fill(when.strftime("%H:%M"))
    page.locator("#schedule-submit").click()


def test_a_refused_officer_form_shows_the_servers_reason_once(phone: Phone, demo_directory: Any) -> None:
    page = phone.page
    name = f"Siim Saar {secrets.token_hex(2)}"
    open_case(phone.base_url, name)  # never met: no video yet
    phone.login("officer")
    page.goto(f"{phone.base_url}/#/schedule")
    page.locator("#schedule-form").wait_for()
    phone.settled()

    # A meeting that happened two hours ago is not an appointment: the reason says where it goes.
    # The browser runs in UTC here, so the server's clock and the form's agree.
    _schedule(page, name, "in_person", datetime.now(UTC) - timedelta(hours=2))
    alert = page.locator("#schedule-error [role=alert]")
    expect(alert).to_have_text(phone.t("reason.scheduling.start_in_past"))
    expect(page.locator("#schedule-error")).not_to_contain_text(phone.t("errors.invalid_request"))
    expect(page.locator("#schedule-error [data-reason]")).to_have_attribute("data-reason", "scheduling.start_in_past")

    # A video check-in before the first meeting: the policy's reason once, and its rule once (staff).
    _schedule(page, name, "video", datetime.now(UTC) + timedelta(days=1))
    expect(alert).to_have_text(phone.t("reason.face_to_face_first.none_recorded"))
    box = page.locator("#schedule-error")
    expect(box.locator(".rule")).to_have_text(phone.t("remote.rule", rule_id="face_to_face_first"))
    assert box.inner_text().count(phone.t("reason.face_to_face_first.none_recorded")) == 1
    assert box.inner_text().count("face_to_face_first") == 1
    assert_no_violations(phone, "officer schedule form refused")

    # In Estonian too, from that catalog.
    page.locator("#lang-select").select_option("et")
    page.locator("#schedule-form").wait_for()
    phone.settled()
    _schedule(page, name, "video", datetime.now(UTC) + timedelta(days=1))
    expect(page.locator("#schedule-error [role=alert]")).to_have_text(
        phone.t("reason.face_to_face_first.none_recorded", lang="et"))


def _client(base: str, name: str) -> tuple[str, str, str]:
    """A fresh client of the demo officer, enrolled: (username, password, case id)."""
    username, link = open_case(base, name)
    password = secrets.token_urlsafe(12)
    api_call(base, "POST", "/api/enrol", body={"code": link.split("code=", 1)[1], "password": password})
    cases = api_call(base, "GET", "/api/caseload", api_login(base, "officer"))["cases"]
    return username, password, next(c["case_id"] for c in cases if c["client"]["display_name"] == name)


def test_group_members_see_one_another_by_the_name_the_group_uses(phone: Phone, open_device: Any) -> None:
    base, tag = phone.base_url, secrets.token_hex(2)
    admin = api_login(base, "admin")
    fac_user, fac_password = f"fac{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    api_call(base, "POST", "/api/admin/users", admin, {"username": fac_user, "display_name": f"Fiona Fac {tag}",
                                                        "role": "facilitator", "password": fac_password})
    kalle, kalle_password, kalle_case = _client(base, f"Kalle Tamm{tag}")
    _, _, liis_case = _client(base, f"Liis Kask{tag}")
    fac = api_login(base, fac_user, fac_password)
    group_id = api_call(base, "POST", "/api/groups", fac, {"name": f"Tuesday {tag}", "programme": "Thinking Skills"})[
        "id"]
    for case_id in (kalle_case, liis_case):
        api_call(base, "POST", f"/api/groups/{group_id}/participants", fac, {"case_id": case_id})

    # The participant's inbox and the group's conversation: first names only.
    page = phone.page
    phone.open_login()
    phone.submit_login(kalle, kalle_password)
    page.locator("#logout").wait_for()
    phone.settled()
    group = page.locator('#messages-card [data-kind="group"]')
    expect(group).to_contain_text("Liis")
    expect(group).not_to_contain_text(f"Kask{tag}")
    group.locator("a").click()
    page.locator("#thread").wait_for(state="attached")
    phone.settled()
    expect(page.locator("h1")).to_contain_text("Liis")
    expect(page.locator("main")).not_to_contain_text(f"Kask{tag}")

    # The facilitator, who sees full names, chooses initials for the group.
    desk = open_device(base, desktop=True)
    desk.open_login()
    desk.submit_login(fac_user, fac_password)
    desk.page.locator("#logout").wait_for()
    desk.settled()
    card = desk.page.locator("#groups > li").filter(has_text=f"Tuesday {tag}")
    card.locator("[data-open-group]").click()
    expect(card.locator(f"#participants-{group_id}")).to_contain_text(f"Liis Kask{tag}")
    desk.page.locator(f"#naming-{group_id}").select_option("initials")
    desk.page.locator(f"#names-{group_id}-submit").click()
    expect(card.locator(f"#group-status-{group_id}")).to_have_text(desk.t("groups.member_names_saved"))
    assert_no_violations(desk, "facilitator chose initials")
    assert api_call(base, "GET", f"/api/groups/{group_id}", fac)["member_names"] == "initials"

    page.reload()
    page.locator("#thread").wait_for(state="attached")
    phone.settled()
    expect(page.locator("h1")).to_contain_text("L. K.")
    expect(page.locator("main")).not_to_contain_text("Liis")
