"""Mentoring conversations belong to one mentor assignment (issue 12, finding 2), on SQLite
and PostgreSQL: a new mentor starts an empty conversation and never reads the one before,
an ended assignment takes the mentor out of its conversation, assignments are not
duplicated, and a mentor comes from the client's office unless policy allows otherwise."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from server.identity.model import Role
from tests.helpers.http import error_of, row_counts
from tests.helpers.world import PASSWORD, World, build, login
from tests.integration.test_attachments import PNG, upload
from tests.integration.test_messaging import connect, next_of


async def new_mentor(services: Any, w: World, username: str, office: str = "A") -> str:
    return str(await services.identity.create_user(None, username=username, display_name=username.title(),
                                                   role=Role.MENTOR, office_id=w.offices[office], password=PASSWORD))


async def assign(client: Any, headers: dict[str, str], mentor_id: str, client_id: str) -> Any:
    return await client.post("/api/mentor-assignments", headers=headers,
                             json={"mentor_id": mentor_id, "client_id": client_id})


async def mentoring_with(client: Any, headers: dict[str, str], mentor_id: str) -> dict[str, Any]:
    """The caller's mentoring conversation that ``mentor_id`` is a member of."""
    convs = (await (await client.get("/api/conversations", headers=headers)).json())["conversations"]
    found: dict[str, Any] = next(c for c in convs if c["kind"] == "mentoring"
                                 and mentor_id in {m["id"] for m in c["members"]})
    return found


async def talk(client: Any, c_h: dict[str, str], m_h: dict[str, str], conversation_id: str) -> str:
    """The mentor and the client exchange a message each; the client sends a photo. Its id."""
    for h, text in ((m_h, "I am your mentor"), (c_h, "Something I tell only you")):
        ws = await connect(client, h)
        await ws.send_json({"type": "send", "id": text[:8], "conversation_id": conversation_id, "body": text})
        assert (await next_of(ws, "ack"))["conversation_id"] == conversation_id
        await ws.close()
    resp = await upload(client, c_h, conversation_id, PNG, "image/png")
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["id"])


async def conversation_ids(client: Any, headers: dict[str, str]) -> list[str]:
    body = await (await client.get("/api/conversations", headers=headers)).json()
    return sorted(c["id"] for c in body["conversations"])


async def test_a_new_mentor_never_reads_the_earlier_mentoring_conversation(api: Any) -> None:
    client, services = api
    w = await build(services)
    mentor1, mentor2 = await new_mentor(services, w, "mentor1"), await new_mentor(services, w, "mentor2")
    o_h, c_h = await login(client, "officer"), await login(client, "client")
    m1_h = await login(client, "mentor1")
    assert (await assign(client, o_h, mentor1, w.clients["own"])).status == 201
    first = await mentoring_with(client, c_h, mentor1)
    attachment = await talk(client, c_h, m1_h, first["id"])
    assert (await assign(client, o_h, mentor2, w.clients["own"])).status == 201
    m2_h = await login(client, "mentor2")
    # Mentor 2 has one conversation: new, empty, theirs and the client's only.
    convs = (await (await client.get("/api/conversations", headers=m2_h)).json())["conversations"]
    assert len(convs) == 1 and convs[0]["kind"] == "mentoring" and convs[0]["id"] != first["id"]
    assert convs[0]["last_seq"] == 0
    assert {m["id"] for m in convs[0]["members"]} == {mentor2, w.clients["own"]}
    page = await (await client.get(f"/api/conversations/{convs[0]['id']}/messages", headers=m2_h)).json()
    assert page["messages"] == [] and page["last_seq"] == 0
    # Mentor 1's conversation, its messages and its photo are not there for mentor 2, by any way in.
    before = await row_counts(services)
    await error_of(await client.get(f"/api/conversations/{first['id']}/messages", headers=m2_h), 404, "not_found")
    await error_of(await client.get(f"/api/attachments/{attachment}", headers=m2_h), 404, "not_found")
    ws = await connect(client, m2_h, resume={first["id"]: 0})
    assert (await next_of(ws, "error")) | {"message": ""} == {
        "type": "error", "code": "not_found", "message": "", "ref": first["id"]}
    await ws.send_json({"type": "ping", "id": "p"})
    assert await ws.receive_json(timeout=5) == {"type": "pong", "id": "p"}  # no message frame came before it
    await ws.close()
    assert await row_counts(services) == before
    # Mentor 1 still has their own conversation with its history (both assignments run).
    page = await (await client.get(f"/api/conversations/{first['id']}/messages", headers=m1_h)).json()
    assert [m["body"] for m in page["messages"]] == ["I am your mentor", "Something I tell only you"]


async def test_ending_an_assignment_takes_the_mentor_out_and_a_successor_starts_afresh(api: Any) -> None:
    client, services = api
    w = await build(services)
    mentor1, mentor2 = await new_mentor(services, w, "mentor1"), await new_mentor(services, w, "mentor2")
    o_h, c_h, m1_h = await login(client, "officer"), await login(client, "client"), await login(client, "mentor1")
    made = await (await assign(client, o_h, mentor1, w.clients["own"])).json()
    assert made["mentor_id"] == mentor1 and made["client_id"] == w.clients["own"]
    # No end named: the policy's default period (issue 16).
    default = services.policy.engine.policies.mentoring.default_period_days
    assert made["ends_on"] == (services.clock.now().date() + timedelta(days=default)).isoformat()
    first = await mentoring_with(client, c_h, mentor1)
    attachment = await talk(client, c_h, m1_h, first["id"])
    mentees = await (await client.get("/api/mentees", headers=m1_h)).json()
    assert [p["id"] for p in mentees["mentees"]] == [w.clients["own"]]
    m1_ws = await connect(client, m1_h)

    resp = await client.post(f"/api/mentor-assignments/{made['id']}/end", headers=o_h)
    assert resp.status in (200, 204), await resp.text()
    await error_of(await client.post(f"/api/mentor-assignments/{made['id']}/end", headers=o_h), 409, "conflict")

    # The ended mentor reads nothing and sends nothing; the client is off their list.
    before = await row_counts(services)
    await error_of(await client.get(f"/api/conversations/{first['id']}/messages", headers=m1_h), 404, "not_found")
    await error_of(await client.get(f"/api/attachments/{attachment}", headers=m1_h), 404, "not_found")
    await error_of(await upload(client, m1_h, first["id"], PNG, "image/png"), 404, "not_found")
    await m1_ws.send_json({"type": "send", "id": "late", "conversation_id": first["id"], "body": "still here?"})
    assert (await next_of(m1_ws, "error"))["code"] == "not_found"
    assert await conversation_ids(client, m1_h) == []
    assert await row_counts(services) == before
    assert (await (await client.get("/api/mentees", headers=m1_h)).json())["mentees"] == []
    async with services.store.read("t") as conn:
        view = await services.cases.view(conn, w.cases["own"])
    assert mentor1 not in view.ref.mentor_ids and w.users["mentor"] in view.ref.mentor_ids

    # The client keeps the history and its photo; the conversation takes no more messages.
    convs = (await (await client.get("/api/conversations", headers=c_h)).json())["conversations"]
    assert {c["id"]: c["closed"] for c in convs if c["kind"] == "mentoring"} == {
        first["id"]: True, (await mentoring_with(client, c_h, w.users["mentor"]))["id"]: False}
    page = await (await client.get(f"/api/conversations/{first['id']}/messages", headers=c_h)).json()
    assert len(page["messages"]) == 2
    assert (await client.get(f"/api/attachments/{attachment}", headers=c_h)).status == 200
    c_ws = await connect(client, c_h)
    await c_ws.send_json({"type": "send", "id": "after", "conversation_id": first["id"], "body": "hello?"})
    assert (await next_of(c_ws, "error"))["code"] == "conversation_closed"
    await error_of(await upload(client, c_h, first["id"], PNG, "image/png"), 409, "conversation_closed")

    # The next mentor starts a new, empty conversation; the old one stays closed to them.
    assert (await assign(client, o_h, mentor2, w.clients["own"])).status == 201
    m2_h = await login(client, "mentor2")
    second = await mentoring_with(client, m2_h, mentor2)
    assert second["id"] != first["id"] and second["last_seq"] == 0
    await error_of(await client.get(f"/api/conversations/{first['id']}/messages", headers=m2_h), 404, "not_found")
    await error_of(await client.get(f"/api/attachments/{attachment}", headers=m2_h), 404, "not_found")
    await c_ws.send_json({"type": "send", "id": "new", "conversation_id": second["id"], "body": "Hi"})
    assert (await next_of(c_ws, "ack"))["seq"] == 1
    # Assigned again later, mentor 1 gets a new conversation too, not the old one back.
    assert (await assign(client, o_h, mentor1, w.clients["own"])).status == 201
    again = await mentoring_with(client, m1_h, mentor1)
    assert again["id"] not in (first["id"], second["id"]) and again["last_seq"] == 0
    await error_of(await client.get(f"/api/conversations/{first['id']}/messages", headers=m1_h), 404, "not_found")
    await c_ws.close()
    await m1_ws.close()


async def test_who_may_end_an_assignment(api: Any) -> None:
    client, services = api
    w = await build(services)
    mentor1 = await new_mentor(services, w, "mentor1")
    made = await (await assign(client, await login(client, "officer"), mentor1, w.clients["own"])).json()
    url = f"/api/mentor-assignments/{made['id']}/end"
    # No tie to the case: as if the assignment did not exist (issue 12, finding 3); a role that
    # may not end any assignment: refused by the role fence before any lookup.
    refused = {"officer2": (404, "not_found"), "officer3": (404, "not_found"), "senior_b": (404, "not_found"),
               "mentor1": (403, "forbidden"), "client": (403, "forbidden"), "admin": (403, "forbidden")}
    headers = {username: await login(client, username) for username in [*refused, "officer"]}
    before = await row_counts(services)
    for username, (status, code) in refused.items():
        err = await error_of(await client.post(url, headers=headers[username]), status, code)
        assert status == 403 or err["message"] == "No such mentor assignment", (username, err)
    await error_of(await client.post("/api/mentor-assignments/nope/end", headers=headers["officer"]),
                   404, "not_found")
    assert await row_counts(services) == before
    assert (await mentoring_with(client, headers["mentor1"], mentor1))["kind"] == "mentoring"  # still running
    # The office's senior officer may end it.
    assert (await client.post(url, headers=await login(client, "senior"))).status in (200, 204)


async def test_assigning_a_running_mentor_again_is_a_conflict_and_the_mentee_is_listed_once(api: Any) -> None:
    client, services = api
    w = await build(services)
    mentor = w.users["mentor"]  # already mentors the client of "own" (the world assigned them)
    o_h, s_h = await login(client, "officer"), await login(client, "senior")
    before = await row_counts(services)
    for h in (o_h, s_h, o_h):
        await error_of(await assign(client, h, mentor, w.clients["own"]), 409, "already_assigned")
    assert await row_counts(services) == before
    m_h = await login(client, "mentor")
    mentees = (await (await client.get("/api/mentees", headers=m_h)).json())["mentees"]
    assert [p["id"] for p in mentees] == [w.clients["own"]]
    convs = (await (await client.get("/api/conversations", headers=m_h)).json())["conversations"]
    assert [c["kind"] for c in convs] == ["mentoring"]


async def test_a_mentor_comes_from_the_clients_office_unless_policy_allows(api: Any) -> None:
    client, services = api
    w = await build(services)
    outsider = await new_mentor(services, w, "mentor_b", office="B")
    o_h, admin = await login(client, "officer"), await login(client, "admin")
    before = await row_counts(services)
    # Another office's mentor is out of the officer's scope: the answer to an unknown mentor.
    err = await error_of(await assign(client, o_h, outsider, w.clients["own"]), 404, "not_found")
    assert err == {"code": "not_found", "message": "No such client or mentor"}, err
    assert await row_counts(services) == before
    policies = await (await client.get("/api/policies", headers=admin)).json()
    rules = {r["rule_id"]: r["config"] for r in policies["rules"]}
    assert rules["scope"]["mentor_from_other_office"] is False
    resp = await client.put("/api/policies/scope", headers=admin, json={
        "config": rules["scope"] | {"mentor_from_other_office": True}, "reason": "Regional mentoring scheme"})
    assert resp.status == 200, await resp.text()
    assert (await assign(client, o_h, outsider, w.clients["own"])).status == 201
    m_h = await login(client, "mentor_b")
    assert [p["id"] for p in (await (await client.get("/api/mentees", headers=m_h)).json())["mentees"]] == [
        w.clients["own"]]


async def test_a_planned_end_is_recorded_and_lies_ahead(api: Any) -> None:
    client, services = api
    w = await build(services)
    mentor1 = await new_mentor(services, w, "mentor1")
    o_h = await login(client, "officer")
    today = services.clock.now().date()
    body = {"mentor_id": mentor1, "client_id": w.clients["own"]}
    before = await row_counts(services)
    for day in (today, today - timedelta(days=1)):
        resp = await client.post("/api/mentor-assignments", headers=o_h, json=body | {"ends_on": day.isoformat()})
        await error_of(resp, 422, "invalid_request")
    assert await row_counts(services) == before
    ends_on = (today + timedelta(days=90)).isoformat()
    resp = await client.post("/api/mentor-assignments", headers=o_h, json=body | {"ends_on": ends_on})
    assert resp.status == 201 and (await resp.json())["ends_on"] == ends_on
