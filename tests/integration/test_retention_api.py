"""Retention through HTTP on SQLite and PostgreSQL: the policy with its dry run, bad
input refused with nothing changed, exports (complete, and nothing of another client),
erasure requests decided by a person, the records of processing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.clock import FakeClock
from tests.helpers import world
from tests.helpers.http import error_of, row_counts
from tests.helpers.retention import case_conversation, counts, seed


async def test_policy_change_is_a_new_version_with_a_dry_run(api: Any, clock: FakeClock) -> None:
    client, services = api
    w = await world.build(services)
    await seed(services, w, clock)
    admin = await world.login(client, "admin")
    before = (await (await client.get("/api/admin/retention", headers=admin)).json())["version"]
    resp = await client.post("/api/admin/retention/preview", headers=admin,
                             json={"categories": {"messages": {"period_days": 30}},
                                   "on": datetime(2026, 4, 15, tzinfo=UTC).isoformat()})
    body = await resp.json()
    assert resp.status == 200, body
    # January's bucket (3 messages) goes on 2026-02-01 + 30 days; March's not before 2026-05-01.
    assert body["items"]["messages"] == 3 and body["total_buckets"] == 1 and body["cases"] == 1
    assert body["summary"] == "On 2026-04-15 this would remove 3 items in 1 buckets of 1 cases"
    resp = await client.put("/api/admin/retention", headers=admin,
                            json={"categories": {"messages": {"period_days": 365}}, "reason": "Shorter, by law"})
    body = await resp.json()
    assert resp.status == 200, body
    assert body["version"]["version"] == before + 1 and body["version"]["author"] == "admin"
    assert body["version"]["reason"] == "Shorter, by law"
    got = await (await client.get("/api/admin/retention", headers=admin)).json()
    assert {c["category"]: c["period_days"] for c in got["categories"]}["messages"] == 365


async def test_bad_input_is_refused_with_a_code_and_changes_nothing(api: Any, clock: FakeClock) -> None:
    client, services = api
    w = await world.build(services)
    admin, officer = await world.login(client, "admin"), await world.login(client, "officer")
    before = await row_counts(services)
    cases = [
        ({"messages": {"period_days": 0}}, "categories.messages.period_days"),
        ({"messages": {"period_days": -5}}, "categories.messages.period_days"),
        ({"messages": {"period_days": "ten"}}, "categories.messages.period_days"),
        ({"emails": {"period_days": 30}}, "categories.emails"),
        ({"messages": {"colour": "red"}}, "categories.messages.colour"),
        ({"messages": {"action": "anonymise"}}, "categories.messages.action"),
        ({"case_notes": {"period_days": 9999}}, "categories.audit_log.period_days"),  # audit log shorter
        # shorter than the backup window keys live (7 days by default): backups would outlive the data
        ({"call_quality": {"period_days": 6}}, "categories.call_quality.period_days"),
    ]
    for changes, key in cases:
        for method, path in (("PUT", "/api/admin/retention"), ("POST", "/api/admin/retention/preview")):
            body = {"categories": changes, "reason": "bad"} if method == "PUT" else {"categories": changes}
            resp = await client.request(method, path, headers=admin, json=body)
            err = await error_of(resp, 422, "invalid_request")
            assert key in err["message"], (key, err)
    missing = "0" * 32
    err = await error_of(await client.post(f"/api/cases/{missing}/legal-hold", headers=admin,
                                           json={"reason": "x"}), 404, "not_found")
    assert err["message"] == "No such case"
    # An admin of office A exporting a client of office B: outside their scope, so no such case.
    assert await error_of(await client.get(f"/api/cases/{w.cases['other_office']}/export", headers=admin),
                          404, "not_found") == err
    err = await error_of(await client.get(f"/api/cases/{w.cases['own']}/export", headers=officer), 403)
    assert err["rule_id"] == "scope"
    assert await row_counts(services) == before


async def test_export_holds_every_category_of_the_client_and_nothing_of_another(api: Any, clock: FakeClock) -> None:
    client, services = api
    w = await world.build(services)
    await seed(services, w, clock)
    await services.retention.set_hold(w.actor("admin"), w.cases["same_office"], "Appeal")
    mine = await (await client.get("/api/my/data", headers=await world.login(client, "client"))).json()
    resp = await client.get(f"/api/cases/{w.cases['own']}/export", headers=await world.login(client, "admin"))
    by_admin = await resp.json()
    for data in (mine, by_admin):
        cats = data["categories"]
        assert [m["content"] for m in cats["messages"]["items"]] == ["January 0", "January 1", "January 2",
                                                                    "March 0"]
        assert cats["attachments"]["count"] == 1 and cats["attachments"]["items"][0]["content_base64"]
        assert [n["content"] for n in cats["case_notes"]["items"]] == ["January note"]
        assert cats["messages"]["next_expiry_at"] == "2028-02-01T00:00:00+00:00"
        assert cats["case_notes"]["next_expiry_at"] == "2031-01-31T00:00:00+00:00"
        assert data["client"]["username"] == "client"
        assert any(a["action"] == "message.send" and a["actor"] == "Officer" for a in data["access_log"])
        text = str(data)
        assert "Other client's note" not in text and w.cases["same_office"] not in text
    assert by_admin["categories"]["messages"]["count"] == 4
    html = await (await client.get("/api/my/data?format=html", headers=await world.login(client, "client"))).text()
    assert "January 1" in html and "Who accessed this data" in html
    other = await (await client.get(f"/api/cases/{w.cases['same_office']}/export",
                                    headers=await world.login(client, "admin"))).json()
    assert other["categories"]["case_notes"]["on_hold"] is True
    assert other["categories"]["case_notes"]["next_expiry_at"] is None


async def test_a_granted_erasure_shreds_now_and_a_refusal_is_recorded(api: Any, clock: FakeClock) -> None:
    client, services = api
    w = await world.build(services)
    await seed(services, w, clock)
    me, admin = await world.login(client, "client"), await world.login(client, "admin")
    resp = await client.post("/api/my/data-requests", headers=me,
                             json={"kind": "erasure", "categories": ["messages"], "details": "Please erase"})
    erasure = (await resp.json())["id"]
    resp = await client.post("/api/my/data-requests", headers=me,
                             json={"kind": "rectification", "details": "My name is misspelt"})
    rectification = (await resp.json())["id"]
    listed = (await (await client.get("/api/admin/data-requests", headers=admin)).json())["requests"]
    assert {r["id"]: r["status"] for r in listed} == {erasure: "open", rectification: "open"}
    resp = await client.post(f"/api/admin/data-requests/{rectification}/decision", headers=admin,
                             json={"decision": "refuse", "reason": "Exempt: court record"})
    assert (await resp.json()) == {"status": "refused"}
    resp = await client.post(f"/api/admin/data-requests/{erasure}/decision", headers=admin,
                             json={"decision": "grant", "reason": "No exemption applies"})
    assert (await resp.json()) == {"status": "granted"}
    err = await error_of(await client.post(f"/api/admin/data-requests/{erasure}/decision", headers=admin,
                                           json={"decision": "refuse", "reason": "again"}), 409, "conflict")
    assert "granted" in err["message"]
    data = await (await client.get("/api/my/data", headers=me)).json()
    assert data["categories"]["messages"]["count"] == 0 and data["categories"]["case_notes"]["count"] == 1
    left = await counts(services, w.cases["own"])  # rows and keys gone at once, not at the next sweep
    assert left["messages"] == 0 and [k for k in left["keys"] if k[0] == "messages"] == []
    # The month goes on: the next message takes a new key for the same bucket.
    await services.messaging.send(w.actor("officer"), await case_conversation(services, w), "after", "Hello again")
    data = await (await client.get("/api/my/data", headers=me)).json()
    assert [m["content"] for m in data["categories"]["messages"]["items"]] == ["Hello again"]
    doc = await client.get("/api/admin/records-of-processing", headers=admin)
    text = await doc.text()
    assert doc.status == 200 and "| messages |" in text and "| 730 |" in text
