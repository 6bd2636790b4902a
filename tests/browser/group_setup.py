"""What the live group session browser tests set up through the API before the UI takes over
(test_web_group_feedback.py, test_web_group_safe_space.py): a fresh facilitator, their group with
its confidentiality agreement, one enrolled client, and a session that started just now; and the
participant's way from their appointments to the safe-space questions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tests.browser.support import Phone, api_call, api_login
from tests.browser.test_web_group_live import AGREEMENT, PASSWORD, _client
from tests.browser.test_web_groups import _facilitator


@dataclass(frozen=True)
class LiveGroup:
    fac_user: str
    fac_password: str
    group_id: str
    client_name: str  # the enrolled client's display name (tagged)
    username: str  # theirs, signing in with PASSWORD
    case_id: str
    sid: str  # the session, started now, one hour long


def live_group(base: str, *, facilitator: str, group: str, client: str) -> LiveGroup:
    """``facilitator``, ``group`` and ``client`` names, each made unique with a random tag."""
    tag = secrets.token_hex(2)
    fac_user, fac_password, _ = _facilitator(base, api_login(base, "admin"), f"{facilitator} {tag}")
    fac_token = api_login(base, fac_user, fac_password)
    group_id = api_call(base, "POST", "/api/groups", fac_token,
                        {"name": f"{group} {tag}", "programme": "Thinking Skills"})["id"]
    api_call(base, "PUT", f"/api/groups/{group_id}/agreement", fac_token, {"text": AGREEMENT})
    client_name = f"{client} {tag}"
    username, case_id = _client(base, client_name)
    api_call(base, "POST", f"/api/groups/{group_id}/participants", fac_token, {"case_id": case_id})
    now = datetime.now(UTC)
    sid = api_call(base, "POST", f"/api/groups/{group_id}/sessions", fac_token, {
        "starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()})["sessions"][0]["id"]
    return LiveGroup(fac_user, fac_password, group_id, client_name, username, case_id, sid)


def sign_in_participant(phone: Phone, live: LiveGroup) -> None:
    phone.open_login()
    phone.submit_login(live.username, PASSWORD)


def to_the_questions(phone: Phone, sid: str) -> None:
    """From the participant's appointments: Join, the device test, on to the safe-space questions."""
    page = phone.page
    page.locator(f'[data-join-group="{sid}"]').click()
    page.locator("#device-start").click()
    page.locator("#device-continue-video").click(timeout=30_000)
    page.locator("#safe-form").wait_for(timeout=30_000)
