"""The case network routes (issue 16, TUKO) on SQLite and PostgreSQL: a whole process through
HTTP; a partner inside their network, outside it, after their end date and after closure; the
other office answered as for no case; strict bodies; audited reads."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from server.identity.model import Role
from server.store.schema import audit_log
from server.web.state import Services
from tests.helpers import world
from tests.helpers.retention import granted_erasure
from tests.helpers.world import PASSWORD, login


async def _partner(services: Services, name: str) -> str:
    return await services.identity.create_user(None, username=name, display_name=name.title(), role=Role.PARTNER,
                                               office_id=None, password=PASSWORD)


async def _reads(services: Services, actor_id: str) -> int:
    async with services.store.read("t") as conn:
        return int((await conn.execute(select(func.count()).select_from(audit_log).where(
            audit_log.c.actor_id == actor_id, audit_log.c.action == "network.read"))).scalar_one())


async def test_a_process_through_the_routes(api: Any) -> None:
    client, services = api
    w = await world.build(services)
    case = w.cases["own"]
    base = f"/api/cases/{case}/network"
    police, social = await _partner(services, "police"), await _partner(services, "social")
    officer, police_h, social_h = (await login(client, "officer"), await login(client, "police"),
                                   await login(client, "social"))
    now = services.clock.now()
    today = now.date()

    async def ok(method: str, path: str, headers: dict[str, str], body: Any = None, status: int = 204) -> Any:
        resp = await client.request(method, path, headers=headers, json=body)
        text = await resp.text()
        assert resp.status == (200 if method == "GET" else status), f"{method} {path}: {resp.status} {text}"
        return await resp.json() if text else None

    # Before any concern a partner outside the case is answered as for no case.
    resp = await client.get(base, headers=police_h)
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    made = await ok("POST", f"{base}/concerns", officer,
                    {"noticed": "Threats by phone", "noticed_by": "Victim support"}, 201)
    for user_id, agency in ((police, "Police"), (social, "Social work")):
        await ok("POST", f"{base}/members", officer, {"user_id": user_id, "agency": agency,
                                                      "ends_on": (today + timedelta(days=20)).isoformat()})
    assert [n["case_id"] for n in (await ok("GET", "/api/my/networks", police_h))["networks"]] == [case]
    await ok("POST", f"{base}/meetings", officer, {"starts_at": (now + timedelta(days=1)).isoformat(),
                                                   "mode": "in_person", "place": "Office, room 2"}, 201)
    await ok("POST", f"{base}/views", police_h, {"answers": {"under_threat": "The ex-partner"}})
    # A member may not take the case leader's steps: the table's rule, in words the client has.
    resp = await client.post(f"{base}/assessment", headers=police_h, json={"answers": {"under_threat": "x"},
                                                                          "decision": "plan"})
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "forbidden"  # the role fence: partners never lead
    await ok("POST", f"{base}/assessment", officer, {"answers": {"harm_likelihood": "High"}, "decision": "plan"})
    plan = {"tasks": [{"text": "Check the order is respected", "owner_id": police,
                       "due_on": (today + timedelta(days=3)).isoformat()},
                      {"text": "Offer a group place", "owner_id": social,
                       "due_on": (today + timedelta(days=9)).isoformat()}],
            "next_meeting_at": (now + timedelta(days=10)).isoformat(), "keep_in_touch": "A call every Monday"}
    await ok("PUT", f"{base}/plan", officer, plan)
    seen = await ok("GET", base, police_h)
    assert seen["network_id"] == made["id"] and seen["processes"][0]["plans"] == []
    assert "draft" not in seen["processes"][0]  # a draft is the leader's alone
    await ok("POST", f"{base}/plan/send", officer)
    before = await _reads(services, police)
    seen = await ok("GET", base, police_h)
    assert await _reads(services, police) == before + 1  # every read is audited
    assert seen["stage"] == "coordinated_case_management"
    assert [t["id"] for t in seen["processes"][0]["plans"][0]["tasks"]] == ["t1", "t2"]
    await ok("POST", f"{base}/plan/acknowledgement", police_h, {"version": 1})
    await ok("POST", f"{base}/tasks", police_h, {"task_id": "t1", "state": "done", "note": "Checked on Tuesday"})
    # Only the owner marks a task; the refusal names its rule and reason code.
    resp = await client.post(f"{base}/tasks", headers=social_h, json={"task_id": "t1", "state": "blocked",
                                                                      "note": "?"})
    err = (await resp.json())["error"]
    assert resp.status == 403 and err["rule_id"] == "task_owner_only" and err["reason"] == "task_owner_only.not_owner"
    await ok("POST", f"{base}/tasks", social_h, {"task_id": "t2", "state": "blocked", "note": "No places left"})
    seen = await ok("GET", base, officer)
    tasks = seen["processes"][0]["plans"][0]["tasks"]
    assert [t["state"] for t in tasks] == ["done", "blocked"]
    assert police in seen["processes"][0]["plans"][0]["acknowledged"]
    # A step the table does not allow in this stage: 409 naming network_stage.
    resp = await client.post(f"{base}/plan/send", headers=officer)
    assert resp.status == 409 and (await resp.json())["error"]["rule_id"] == "network_stage"
    await ok("POST", f"{base}/close", officer, {"conclusion": "The plan was carried out"})
    resp = await client.get(base, headers=police_h)
    err = (await resp.json())["error"]
    assert resp.status == 403 and err["rule_id"] == "network_access_ended"
    assert (await ok("GET", "/api/my/networks", police_h))["networks"] == []
    # A closed process restarts at stage 1; the earlier one stays for the case leader.
    await ok("POST", f"{base}/concerns", officer, {"noticed": "New threats", "noticed_by": "Police"}, 201)
    seen = await ok("GET", base, officer)
    assert [p["stage"] for p in seen["processes"]] == ["closed", "notice_and_inform"]


async def _inside_and_outside(services: Services) -> tuple[str, str]:
    """The world's own case and its network's base path, once two partners exist: ``inside``
    (to be invited) and ``outside`` (never). Returns (case id, inside's user id)."""
    w = await world.build(services)
    inside = await _partner(services, "inside")
    await _partner(services, "outside")
    return w.cases["own"], inside


async def test_who_may_open_a_network(api: Any) -> None:
    client, services = api
    case, inside = await _inside_and_outside(services)
    base = f"/api/cases/{case}/network"
    officer = await login(client, "officer")
    today = services.clock.now().date()
    assert (await client.post(f"{base}/concerns", headers=officer,
                              json={"noticed": "Threats", "noticed_by": "School"})).status == 201
    resp = await client.post(f"{base}/members", headers=officer, json={
        "user_id": inside, "agency": "Police", "ends_on": (today + timedelta(days=5)).isoformat()})
    assert resp.status == 204, await resp.text()
    assert (await client.get(base, headers=await login(client, "inside"))).status == 200
    # A partner never invited: no such case. The world partner, only in the case's old-style list: told the rule.
    resp = await client.get(base, headers=await login(client, "outside"))
    assert resp.status == 404 and (await resp.json())["error"] == {"code": "not_found", "message": "No such case"}
    # Another office's staff: as for a case that does not exist, the same answer as a random id.
    for name in ("officer3", "senior_b"):
        headers = await login(client, name)
        real = await client.get(base, headers=headers)
        fake = await client.get("/api/cases/no-such-case/network", headers=headers)
        assert real.status == fake.status == 404
        assert (await real.json()) == (await fake.json())
        resp = await client.post(f"{base}/concerns", headers=headers, json={"noticed": "x", "noticed_by": "y"})
        assert resp.status == 404
    # Strict bodies: an unknown field, an oversized text, an unknown question.
    for body in ({"noticed": "x", "noticed_by": "y", "extra": 1}, {"noticed": "x" * 8001, "noticed_by": "y"}):
        resp = await client.post(f"{base}/concerns", headers=officer, json=body)
        assert resp.status == 422, await resp.text()
    # After the last day of access the partner is told their access ended.
    services.clock.advance(timedelta(days=6))
    headers = await login(client, "inside")
    resp = await client.get(base, headers=headers)
    err = (await resp.json())["error"]
    assert resp.status == 403 and err["rule_id"] == "network_access_ended"
    assert (await (await client.get("/api/my/networks", headers=headers)).json())["networks"] == []


async def test_the_plan_as_pdf_and_the_follow_up_list(api: Any) -> None:
    """The plan's PDF to a member inside the network (audited), not to a partner outside it or after
    their end date; a crisis plan through the route; the overdue task on the follow-up list."""
    client, services = api
    case, inside = await _inside_and_outside(services)
    base = f"/api/cases/{case}/network"
    officer, inside_h = await login(client, "officer"), await login(client, "inside")
    now = services.clock.now()
    today = now.date()

    async def ok(method: str, path: str, body: Any = None, headers: dict[str, str] = officer) -> None:
        resp = await client.request(method, path, headers=headers, json=body)
        assert resp.status in (201, 204), f"{method} {path}: {resp.status} {await resp.text()}"

    await ok("POST", f"{base}/concerns", {"noticed": "Threats", "noticed_by": "School"})
    await ok("POST", f"{base}/members", {"user_id": inside, "agency": "Police",
                                          "ends_on": (today + timedelta(days=8)).isoformat()})
    await ok("POST", f"{base}/meetings", {"starts_at": (now + timedelta(days=1)).isoformat(), "mode": "video",
                                          "minutes": 90})
    # The meetings for a member's calendar: when, how and where, nothing of the case (audited).
    before = await _reads(services, inside)
    resp = await client.get(f"{base}/meetings.ics", headers=inside_h)
    assert resp.status == 200 and resp.content_type == "text/calendar"
    text = await resp.text()
    assert await _reads(services, inside) == before + 1
    start = (now + timedelta(days=1)).strftime("%Y%m%dT%H%M%SZ")
    end = (now + timedelta(days=1, minutes=90)).strftime("%Y%m%dT%H%M%SZ")
    assert f"DTSTART:{start}\r\n" in text and f"DTEND:{end}\r\n" in text
    assert "SUMMARY:Case network meeting (video\\, in Tandem)" in text and "Threats" not in text
    resp = await client.get(f"{base}/meetings.ics", headers=await login(client, "outside"))
    assert resp.status == 404
    resp = await client.post(f"{base}/meetings", headers=officer, json={
        "starts_at": (now + timedelta(days=2)).isoformat(), "mode": "video", "minutes": 5})
    assert resp.status == 422
    await ok("POST", f"{base}/assessment", {"answers": {"harm_likelihood": "High"}, "decision": "plan"})
    task = {"text": "Check the order", "owner_id": inside, "due_on": (today + timedelta(days=20)).isoformat()}
    plan = {"tasks": [task],
            "next_meeting_at": (now + timedelta(days=5)).isoformat(), "keep_in_touch": "Daily calls", "crisis": True}
    resp = await client.put(f"{base}/plan", headers=officer, json=plan)  # in a crisis: days, not weeks
    assert resp.status == 422 and "within 14 days" in (await resp.json())["error"]["message"]
    plan["tasks"][0]["due_on"] = (today + timedelta(days=2)).isoformat()
    await ok("PUT", f"{base}/plan", plan)
    resp = await client.get(f"{base}/plan.pdf", headers=inside_h)
    assert resp.status == 404  # nothing sent yet: a draft is the leader's alone
    await ok("POST", f"{base}/plan/send")

    before = await _reads(services, inside)
    resp = await client.get(f"{base}/plan.pdf", headers=inside_h)
    assert resp.status == 200 and resp.content_type == "application/pdf"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="risk-reduction-plan-v1.pdf"'
    body = await resp.read()
    assert body.startswith(b"%PDF-1.4") and b"Check the order" in body and b"Crisis plan" in body
    assert await _reads(services, inside) == before + 1
    for query, status in (("?version=1", 200), ("?version=2", 404), ("?version=0", 422), ("?version=x", 422),
                          ("?nope=1", 422)):
        assert (await client.get(f"{base}/plan.pdf{query}", headers=officer)).status == status, query
    resp = await client.get(f"{base}/plan.pdf", headers=await login(client, "outside"))
    assert resp.status == 404 and (await resp.json())["error"]["message"] == "No such case"

    # Three days on the task is overdue: on the officer's follow-up list, for the screen.
    services.clock.advance(timedelta(days=3))
    resp = await client.get("/api/networks/follow-up", headers=await login(client, "officer"))  # a new session
    assert resp.status == 200, await resp.text()
    tasks = (await resp.json())["tasks"]
    assert [(t["case_id"], t["id"], t["owner_agency"], t["client_name"]) for t in tasks] == [
        (case, "t1", "Police", "Client")]
    # After the partner's last day of access: told the rule, also for the PDF.
    services.clock.advance(timedelta(days=6))
    inside_h = await login(client, "inside")
    for path in ("plan.pdf", "meetings.ics"):
        resp = await client.get(f"{base}/{path}", headers=inside_h)
        assert resp.status == 403 and (await resp.json())["error"]["rule_id"] == "network_access_ended"


async def test_a_granted_erasure_of_network_records_takes_the_case_network_with_it(api: Any) -> None:
    """The client asks for their network records to be erased (the request form's category); the
    admin grants it: the case's network is shredded, the case leader finds none and its partners
    are no longer members, the grant is audited with the keys it shredded; another case's network is
    untouched."""
    from tests.integration.test_networks import to_a_plan

    client, services = api
    w = await world.build(services)
    case, _officer, _police, _social = await to_a_plan(services, w)
    officer_h, police_h = await login(client, "officer"), await login(client, "police")
    assert (await client.get(f"/api/cases/{case}/network", headers=police_h)).status == 200
    other = f"/api/cases/{w.cases['same_office']}/network"
    officer2_h = await login(client, "officer2")  # supervises same_office
    resp = await client.post(f"{other}/concerns", headers=officer2_h,
                             json={"noticed": "Missed appointments", "noticed_by": "Officer"})
    assert resp.status == 201, await resp.text()

    await granted_erasure(client, ["network_records"], "Erase them")

    resp = await client.get(f"/api/cases/{case}/network", headers=officer_h)
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    # The membership went with the records: the partner is refused by the rule, and lists nothing.
    resp = await client.get(f"/api/cases/{case}/network", headers=police_h)
    assert resp.status == 403 and (await resp.json())["error"]["rule_id"] == "network_member_only"
    assert (await (await client.get("/api/my/networks", headers=police_h)).json())["networks"] == []
    assert (await client.get(other, headers=officer2_h)).status == 200
    async with services.store.read("t") as conn:
        granted = (await conn.execute(select(audit_log).where(audit_log.c.action == "request.granted"))).one()
    assert granted.case_id == case and json.loads(granted.details)["keys_shredded"] >= 1
