"""Refusals and decisions reach a client as stable codes with parameters, beside the English
message (issue 13): the policy's remote decision, who may write, a refused form's field, a
meeting recorded after the fact. Runs on SQLite and PostgreSQL through the real HTTP API and /ws."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.helpers.http import error_of
from tests.helpers.world import build, login
from tests.integration.test_messaging import connect, next_of


def _iso(moment: Any) -> str:
    return str(moment.isoformat())


async def test_a_client_before_the_first_meeting_is_told_why_in_codes(api: Any) -> None:
    client, services = api
    w = await build(services)
    c_h, o_h = await login(client, "client_same"), await login(client, "officer2")

    mine = await (await client.get("/api/my/case", headers=c_h)).json()
    assert mine["remote"]["allowed"] is False
    assert mine["remote"]["coded"] == {"code": "face_to_face_first.none_recorded", "params": {}}
    assert mine["messaging"]["allowed"] is False
    assert mine["messaging"]["coded"]["code"] == "face_to_face_first.none_recorded"

    listing = await (await client.get("/api/conversations", headers=c_h)).json()
    case_conv = next(c for c in listing["conversations"] if c["kind"] == "case")
    assert (case_conv["may_send"], case_conv["why_not"]["code"], case_conv["rule_id"]) == (
        False, "face_to_face_first.none_recorded", "face_to_face_first")

    # A send anyway is refused with the same code on the error frame.
    ws = await connect(client, c_h)
    await ws.send_json({"type": "send", "id": "early", "conversation_id": case_conv["id"], "body": "hello"})
    frame = await next_of(ws, "error")
    assert (frame["code"], frame["rule_id"], frame["reason"]) == (
        "policy_refused", "face_to_face_first", "face_to_face_first.none_recorded")
    await ws.close()

    # A meeting two hours ago is recorded; one tomorrow is refused with its reason code.
    now = services.clock.now()
    case_path = f"/api/cases/{w.cases['same_office']}/face-to-face"
    future = await client.post(case_path, json={"met_at": _iso(now + timedelta(days=1)), "location": "Office A"},
                               headers=o_h)
    err = await error_of(future, 422, "invalid_request")
    assert err["reason"] == "case.meeting_in_future"
    missing = await client.post(case_path, json={"met_at": _iso(now - timedelta(hours=2))}, headers=o_h)
    err = await error_of(missing, 422, "invalid_request")
    assert (err["reason"], err["field"]) == ("field.missing", "location")
    recorded = await client.post(case_path, json={"met_at": _iso(now - timedelta(hours=2)), "location": "Office A"},
                                 headers=o_h)
    assert recorded.status == 201, await recorded.text()

    mine = await (await client.get("/api/my/case", headers=c_h)).json()
    assert mine["remote"]["allowed"] is True
    assert mine["remote"]["coded"] == {"code": "face_to_face_first.met", "params": {"count": 1, "required": 1}}
    assert mine["messaging"]["allowed"] is True
    listing = await (await client.get("/api/conversations", headers=c_h)).json()
    case_conv = next(c for c in listing["conversations"] if c["kind"] == "case")
    assert (case_conv["may_send"], case_conv["why_not"], case_conv["rule_id"]) == (True, None, None)

    decision = await (await client.get(f"/api/cases/{w.cases['same_office']}/remote-decision", headers=o_h)).json()
    assert [c["code"] for c in decision["codes"]] == ["scope.acting_as", "face_to_face_first.met"]
    assert len(decision["codes"]) == len(decision["reasons"])


async def test_a_past_appointment_is_refused_with_a_reason_that_points_to_the_case_page(api: Any) -> None:
    client, services = api
    w = await build(services)
    o_h = await login(client, "officer")
    now = services.clock.now()
    resp = await client.post(f"/api/cases/{w.cases['own']}/appointments", headers=o_h, json={
        "kind": "in_person", "starts_at": _iso(now - timedelta(hours=2)), "ends_at": _iso(now - timedelta(hours=1))})
    err = await error_of(resp, 422, "invalid_request")
    assert err["reason"] == "scheduling.start_in_past"
    assert "case page" in err["message"]
    resp = await client.post(f"/api/cases/{w.cases['own']}/appointments", headers=o_h, json={
        "kind": "in_person", "starts_at": _iso(now + timedelta(hours=2)), "ends_at": _iso(now + timedelta(hours=12))})
    err = await error_of(resp, 422, "invalid_request")
    assert (err["reason"], err["params"]) == ("scheduling.length", {"min": 5, "max": 480})


async def test_a_policy_refusal_carries_its_code_and_params(api: Any) -> None:
    client, services = api
    w = await build(services)
    s_h = await login(client, "senior")
    resp = await client.post(f"/api/cases/{w.cases['same_office']}/exceptions", headers=s_h,
                             json={"days": 40, "reason": "Too long"})
    err = await error_of(resp, 403, "policy_refused")
    assert (err["rule_id"], err["reason"], err["params"]) == (
        "face_to_face_first", "face_to_face_first.exception_too_long", {"max_days": 30})
