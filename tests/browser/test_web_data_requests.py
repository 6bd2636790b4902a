"""Data subjects' requests through the UI: a client asks for erasure on "my data", the
admin decides it with a reason on the admin page and the client then sees the decision;
an admin records a request for a client by the case reference and exports the client's
data (the server's refusal of an unknown case is shown). Each test uses a fresh client so
the shared demo server's data stays as the other tests expect."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.browser.support import DEMO_PASSWORD, Phone, api_call, api_login, assert_phone_friendly, open_case
from tests.browser.test_web_axe import assert_no_violations

pytestmark = pytest.mark.browser


def fresh_client(base_url: str, name: str) -> tuple[str, str]:
    """A new client of the demo officer's, enrolled through the API: (username, case id)."""
    username, link = open_case(base_url, name)
    api_call(base_url, "POST", "/api/enrol", body={"code": link.split("code=", 1)[1], "password": DEMO_PASSWORD})
    cases = api_call(base_url, "GET", "/api/caseload", api_login(base_url, "officer"))["cases"]
    return username, next(c["case_id"] for c in cases if c["client"]["display_name"] == name)


def admin_requests(base_url: str, case_id: str) -> list[dict[str, object]]:
    found = api_call(base_url, "GET", "/api/admin/data-requests", api_login(base_url, "admin"))["requests"]
    return [r for r in found if r["case_id"] == case_id]


def test_client_asks_for_erasure_and_the_admin_decides_it(
        tandem_server: str, open_device: Callable[..., Phone]) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    name = f"Eeva Erase {secrets.token_hex(2)}"
    username, case_id = fresh_client(tandem_server, name)
    api_call(tandem_server, "POST", f"/api/cases/{case_id}/face-to-face", api_login(tandem_server, "officer"),
             {"met_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "location": "Office"})
    client = open_device(tandem_server)
    page = client.page
    client.login(username)
    page.locator("#my-data-card #my-request").wait_for()
    # A meeting is kept with the case: "my data" says so rather than "nothing is kept".
    expect(page.locator('#my-data-categories [data-record="face_to_face_meetings"]')).to_contain_text(
        client.t("mydata.count", count=1))
    expect(page.locator("#my-requests")).to_have_text(client.t("datareq.mine_none"))
    # An erasure names at least one category: the server's refusal is shown on the form.
    page.locator("#my-request-kind").select_option("erasure")
    page.locator("#my-request-details").fill("Please remove my messages.")
    page.locator("#my-request-submit").click()
    expect(page.locator("#my-request-error [role=alert]")).to_be_visible()
    assert admin_requests(tandem_server, case_id) == []
    page.locator("#my-request-cat-messages").check()
    page.locator("#my-request-submit").click()
    expect(page.locator("#my-request-notice")).to_have_text(client.t("datareq.sent"))
    mine = page.locator("#my-requests > li")
    expect(mine).to_have_count(1)
    expect(mine.locator(".request-status")).to_have_text(client.t("datareq.status.open"))
    client.settled()
    assert_no_violations(client, "client my data with a request")
    assert_phone_friendly(client)
    [asked] = admin_requests(tandem_server, case_id)
    assert (asked["kind"], asked["categories"], asked["status"]) == ("erasure", ["messages"], "open")

    admin = open_device(tandem_server)
    admin.login("admin")
    item = admin.page.locator(f'#data-requests > li[data-request-id="{asked["id"]}"]')
    expect(item).to_contain_text(admin.t("datareq.case_ref", case_id=case_id))
    expect(item.locator(".request-status")).to_have_text(admin.t("datareq.status.open"))
    admin.settled()
    assert_no_violations(admin, "admin data requests")
    item.locator(f'#decide-{asked["id"]}-reason').fill("No legal duty to keep the messages.")
    item.locator(f'#decide-{asked["id"]}-submit').click()
    expect(item.locator(".request-status")).to_have_text(admin.t("datareq.status.granted"))
    expect(item.locator("form")).to_have_count(0)
    [decided] = admin_requests(tandem_server, case_id)
    assert (decided["status"], decided["decision_reason"]) == ("granted", "No legal duty to keep the messages.")

    page.reload()
    page.locator("#my-requests > li").wait_for()
    expect(page.locator("#my-requests .request-status")).to_have_text(client.t("datareq.status.granted"))
    expect(page.locator("#my-requests .request-reason")).to_have_text("No legal duty to keep the messages.")
    # Who looked at the data: the admin's decision, under today, with what it was about.
    decided_by = page.locator('#my-data-access li[data-action="request.granted"]')
    expect(decided_by).to_contain_text(client.t("role.admin"))
    expect(decided_by).to_contain_text(client.t("mydata.what.requests"))
    # ... and why: the purpose the server derives from the audited action, in the client's words.
    expect(decided_by).to_have_attribute("data-purpose", "data_request")
    expect(decided_by.locator(".access-purpose")).to_have_text(
        client.t("mydata.access_purpose", why=client.t("mydata.purpose.data_request")))
    client.settled()
    assert_no_violations(client, "client my data after the decision")


def test_admin_records_a_request_for_a_client_and_exports_their_data(
        tandem_server: str, open_device: Callable[..., Phone], tmp_path: Path) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    name = f"Rasmus Rekord {secrets.token_hex(2)}"
    _, case_id = fresh_client(tandem_server, name)
    admin = open_device(tandem_server)
    page = admin.page
    admin.login("admin")
    page.locator("#record-request").wait_for()
    page.locator("#record-request-case").fill(case_id)
    page.locator("#record-request-kind").select_option("rectification")
    page.locator("#record-request-details").fill("Asked by letter: the address is wrong.")
    page.locator("#record-request-submit").click()
    expect(page.locator("#record-request-notice")).to_have_text(admin.t("datareq.recorded"))
    [recorded] = admin_requests(tandem_server, case_id)
    assert (recorded["kind"], recorded["status"]) == ("rectification", "open")
    item = page.locator(f'#data-requests > li[data-request-id="{recorded["id"]}"]')
    expect(item).to_contain_text("Asked by letter: the address is wrong.")
    # "Refuse" sends the same form with the other decision.
    item.locator(f'#decide-{recorded["id"]}-reason').fill("Address confirmed as correct by the court record.")
    item.locator(f'#decide-{recorded["id"]}-refuse').click()
    expect(item.locator(".request-status")).to_have_text(admin.t("datareq.status.refused"))

    page.locator("#export-case").fill(case_id)
    page.locator("#export-format").select_option("json")
    with page.expect_download() as download:
        page.locator("#export-submit").click()
    saved = tmp_path / "export.json"
    download.value.save_as(saved)
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["client"]["display_name"] == name
    assert [r["status"] for r in data["records"]["data_requests"]] == ["refused"]
    expect(page.locator("#export-link")).to_have_attribute("download", f"tandem-data-{case_id}.json")
    page.locator("#export-format").select_option("html")
    with page.expect_download() as download:
        page.locator("#export-submit").click()
    html = tmp_path / "export.html"
    download.value.save_as(html)
    assert name in html.read_text(encoding="utf-8")
    admin.settled()
    assert_no_violations(admin, "admin export")
    # The server audits every export: the client's own access log shows two by the admin.
    client_token = api_login(tandem_server, data["client"]["username"])
    mine = api_call(tandem_server, "GET", "/api/my/data", client_token)
    assert sum(1 for a in mine["access_log"] if a["action"] == "data.export" and a["role"] == "admin") == 2

    page.locator("#export-case").fill("no-such-case")
    page.locator("#export-submit").click()
    expect(page.locator("#export-result [role=alert]")).to_have_text(admin.t("errors.not_found"))
    expect(page.locator("#export-link")).to_have_count(0)
