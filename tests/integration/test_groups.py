"""Programme groups: cohorts, enrolment through a case, the group conversation and its
fences. Runs on SQLite and PostgreSQL through the real HTTP API and /ws gateway."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from server.store.schema import audit_log, data_keys, messages
from tests.helpers.world import PASSWORD, build, login
from tests.integration.test_messaging import connect, next_of


async def _group(client: Any, headers: dict[str, str]) -> str:
    resp = await client.post("/api/groups", json={"name": "Tuesday", "programme": "Thinking Skills"}, headers=headers)
    assert resp.status == 201, await resp.text()
    group_id: str = (await resp.json())["id"]
    return group_id


async def test_group_conversation_reaches_every_member_and_only_them(api: Any) -> None:
    client, services = api
    w = await build(services)
    f_h = await login(client, "facilitator")
    group_id = await _group(client, f_h)
    for key in ("own", "same_office"):
        resp = await client.post(f"/api/groups/{group_id}/participants", json={"case_id": w.cases[key]}, headers=f_h)
        assert resp.status == 201, await resp.text()
    detail = await (await client.get(f"/api/groups/{group_id}", headers=f_h)).json()
    assert sorted((m["display_name"], m["role"]) for m in detail["members"]) == [
        ("Client", "participant"), ("Client_Same", "participant"), ("Facilitator", "facilitator")]
    conv_id = detail["conversation_id"]

    c_h, s_h = await login(client, "client"), await login(client, "client_same")
    listing = await (await client.get("/api/conversations", headers=c_h)).json()
    group_conv = next(c for c in listing["conversations"] if c["kind"] == "group")
    assert group_conv["id"] == conv_id and group_conv["case_id"] is None
    f_ws, c_ws, s_ws = await connect(client, f_h), await connect(client, c_h), await connect(client, s_h)
    await c_ws.send_json({"type": "send", "id": "g1", "conversation_id": conv_id, "body": "hello group"})
    assert (await next_of(c_ws, "ack"))["seq"] == 1
    for ws in (f_ws, s_ws):
        frame = await next_of(ws, "message")
        assert (frame["seq"], frame["body"]) == (1, "hello group")

    # Someone outside the group cannot write to it or read it.
    o_h = await login(client, "officer")
    o_ws = await connect(client, o_h)
    await o_ws.send_json({"type": "send", "id": "x1", "conversation_id": conv_id, "body": "intruder"})
    assert (await next_of(o_ws, "error"))["code"] == "not_found"
    assert (await client.get(f"/api/groups/{group_id}", headers=o_h)).status == 403  # officers: role fence
    assert (await client.get(f"/api/groups/{group_id}", headers=await login(client, "client_other"))).status == 404
    assert (await client.get(f"/api/conversations/{conv_id}/messages", headers=o_h)).status == 404

    # A withdrawn participant leaves the conversation with the cohort.
    resp = await client.delete(f"/api/groups/{group_id}/members/{w.clients['same_office']}", headers=f_h)
    assert resp.status == 204, await resp.text()
    assert (await client.get(f"/api/conversations/{conv_id}/messages", headers=s_h)).status == 404
    await f_ws.send_json({"type": "send", "id": "g2", "conversation_id": conv_id, "body": "after"})
    assert (await next_of(f_ws, "ack"))["seq"] == 2
    frame = await next_of(c_ws, "message")
    if frame["seq"] == 1:  # the sender's own echo of g1, where the gateway sends one
        frame = await next_of(c_ws, "message")
    assert (frame["seq"], frame["body"]) == (2, "after")

    # Group messages are encrypted under the cohort's bucket keys, so retention shreds them as one.
    async with services.store.read("t") as conn:
        bodies = (await conn.execute(select(messages.c.body).where(messages.c.conversation_id == conv_id))).all()
        assert len(bodies) == 2 and all(b"hello" not in b.body for b in bodies)
        owners = (await conn.execute(select(data_keys.c.case_id).where(data_keys.c.category == "messages"))).all()
        assert (group_id,) in owners
        actions = (await conn.execute(select(audit_log.c.action, func.count()).where(
            audit_log.c.target_type == "cohort").group_by(audit_log.c.action))).all()
    assert dict(actions) == {"group.create": 1, "group.enrol": 2, "group.read": 1, "group.withdraw": 1}
    for ws in (f_ws, c_ws, s_ws, o_ws):
        await ws.close()


async def test_enrolment_fences_and_group_size(api: Any) -> None:
    client, services = api
    w = await build(services)
    f_h, o_h, o3_h = await login(client, "facilitator"), await login(client, "officer"), await login(client, "officer3")
    group_id = await _group(client, f_h)

    # A case from another office never joins this office's group: to its facilitator it does not exist.
    resp = await client.post(f"/api/groups/{group_id}/participants", json={"case_id": w.cases["other_office"]},
                             headers=f_h)
    assert resp.status == 404
    assert (await resp.json())["error"] == {"code": "not_found", "message": "No such case"}
    # An officer refers their own client, but not someone else's.
    assert (await client.post(f"/api/groups/{group_id}/participants", json={"case_id": w.cases["own"]},
                              headers=o_h)).status == 201
    resp = await client.post(f"/api/groups/{group_id}/participants", json={"case_id": w.cases["same_office"]},
                             headers=o_h)
    assert (await resp.json())["error"]["rule_id"] == "scope"
    # Nor does this group exist for an officer of another office.
    resp = await client.post(f"/api/groups/{group_id}/participants", json={"case_id": w.cases["other_office"]},
                             headers=o3_h)
    assert resp.status == 404
    assert (await resp.json())["error"] == {"code": "not_found", "message": "No such group"}
    # Officers do not open groups; clients cannot change them.
    assert (await client.post("/api/groups", json={"name": "x", "programme": "y"}, headers=o_h)).status == 403
    c_h = await login(client, "client")
    assert (await client.delete(f"/api/groups/{group_id}/members/{w.users['facilitator']}",
                                headers=c_h)).status == 403
    # Unknown fields and unknown groups are refused with clear codes, nothing written.
    bad = await client.post("/api/groups", json={"name": "x", "programme": "y", "extra": 1}, headers=f_h)
    assert (await bad.json())["error"]["code"] == "invalid_request"
    assert (await client.post("/api/groups/nope/participants", json={"case_id": w.cases["own"]},
                              headers=f_h)).status == 404

    # The cohort never outgrows a session (group_rules.max_participants).
    admin = await login(client, "admin")
    rules = (await (await client.get("/api/policies", headers=admin)).json())["rules"]
    config = next(r["config"] for r in rules if r["rule_id"] == "group_rules")
    config["max_participants"] = 2
    config["min_facilitators"] = 1
    resp = await client.put("/api/policies/group_rules", headers=admin,
                            json={"config": config, "reason": "test: groups of two"})
    assert resp.status == 200, await resp.text()
    s_ws_h = await login(client, "senior")
    assert (await client.post(f"/api/groups/{group_id}/participants", json={"case_id": w.cases["same_office"]},
                              headers=s_ws_h)).status == 201
    third = await services.cases.create_case(w.actor("senior"), client_username="client_third",
                                             client_display_name="Third", officer_id=w.users["officer"])
    resp = await client.post(f"/api/groups/{group_id}/participants", json={"case_id": third.case_id}, headers=f_h)
    body = await resp.json()
    assert resp.status == 403 and body["error"]["rule_id"] == "group_rules", body
    assert "The group is full (2 participants)" in body["error"]["message"]
    detail = await (await client.get(f"/api/groups/{group_id}", headers=f_h)).json()
    assert [m["role"] for m in detail["members"]].count("participant") == 2



async def test_those_who_run_a_group_see_the_office_facilitators_they_may_add(api: Any) -> None:
    from server.identity.model import Role
    from tests.helpers.world import PASSWORD

    client, services = api
    w = await build(services)
    ident = services.identity
    second = await ident.create_user(None, username="facilitator2", display_name="Second", role=Role.FACILITATOR,
                                     office_id=w.offices["A"], password=PASSWORD)
    gone = await ident.create_user(None, username="facilitator3", display_name="Gone", role=Role.FACILITATOR,
                                   office_id=w.offices["A"], password=PASSWORD)
    await ident.create_user(None, username="facilitator_b", display_name="Other office", role=Role.FACILITATOR,
                            office_id=w.offices["B"], password=PASSWORD)
    await ident.set_disabled(w.actor("admin"), gone, True)
    f_h = await login(client, "facilitator")
    group_id = await _group(client, f_h)
    detail = await (await client.get(f"/api/groups/{group_id}", headers=f_h)).json()
    assert [(c["id"], c["display_name"]) for c in detail["colleagues"]] == [(second, "Second")]
    resp = await client.post(f"/api/groups/{group_id}/facilitators", json={"user_id": second}, headers=f_h)
    assert resp.status == 204, await resp.text()
    detail = await (await client.get(f"/api/groups/{group_id}", headers=f_h)).json()
    assert detail["colleagues"] == []
    assert ("Second", "facilitator") in [(m["display_name"], m["role"]) for m in detail["members"]]
    # A participant sees the group's members, never the office's staff list.
    assert (await client.post(f"/api/groups/{group_id}/participants", json={"case_id": w.cases["own"]},
                              headers=f_h)).status == 201
    seen = await (await client.get(f"/api/groups/{group_id}", headers=await login(client, "client"))).json()
    assert seen["colleagues"] == []


async def test_participants_see_one_another_by_first_name_staff_by_full_name(api: Any) -> None:
    """A programme group gathers people under supervision: in its conversation they see one
    another by first name (a case flagged for domestic violence included), staff see full names."""
    client, services = api
    w = await build(services)
    f_h = await login(client, "facilitator")
    group_id = await _group(client, f_h)
    for username, name in (("kalle", "Kalle Tamm"), ("liis", "Liis Kask")):
        made = await services.cases.create_case(w.actor("senior"), client_username=username, client_display_name=name,
                                                officer_id=w.users["officer"], password=PASSWORD,
                                                domestic_violence=username == "liis")
        resp = await client.post(f"/api/groups/{group_id}/participants", json={"case_id": made.case_id}, headers=f_h)
        assert resp.status == 201, await resp.text()

    def group_names(listing: dict[str, Any]) -> list[str]:
        conv = next(c for c in listing["conversations"] if c["kind"] == "group")
        return sorted(m["display_name"] for m in conv["members"])

    seen_by_kalle = await (await client.get("/api/conversations", headers=await login(client, "kalle"))).json()
    assert group_names(seen_by_kalle) == ["Facilitator", "Kalle", "Liis"]
    seen_by_staff = await (await client.get("/api/conversations", headers=f_h)).json()
    assert group_names(seen_by_staff) == ["Facilitator", "Kalle Tamm", "Liis Kask"]

    # The group page shows a participant the others by the same name, and never the full name.
    k_h = await login(client, "kalle")
    page = await (await client.get(f"/api/groups/{group_id}", headers=k_h)).json()
    assert sorted(m["display_name"] for m in page["members"]) == ["Facilitator", "Kalle Tamm", "Liis"]
    assert page["member_names"] == "first_name"

    # The facilitator sets initials instead; a participant cannot change it.
    refused = await client.put(f"/api/groups/{group_id}/member-names", json={"member_names": "first_name"},
                               headers=k_h)
    assert refused.status == 403
    resp = await client.put(f"/api/groups/{group_id}/member-names", json={"member_names": "initials"}, headers=f_h)
    assert resp.status == 204, await resp.text()
    bad = await client.put(f"/api/groups/{group_id}/member-names", json={"member_names": "full"}, headers=f_h)
    err = (await bad.json())["error"]
    assert (bad.status, err["reason"], err["field"]) == (422, "field.invalid_choice", "member_names")
    seen_by_kalle = await (await client.get("/api/conversations", headers=k_h)).json()
    assert group_names(seen_by_kalle) == ["Facilitator", "K. T.", "L. K."]
    page = await (await client.get(f"/api/groups/{group_id}", headers=k_h)).json()
    assert sorted(m["display_name"] for m in page["members"]) == ["Facilitator", "Kalle Tamm", "L. K."]
    assert group_names(await (await client.get("/api/conversations", headers=f_h)).json()) == [
        "Facilitator", "Kalle Tamm", "Liis Kask"]
