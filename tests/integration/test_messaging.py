"""Messaging: persist-then-publish sends, idempotency, seq order, receipts, resume, history.

Runs on SQLite and PostgreSQL through the real /ws gateway and HTTP API.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from server.store.schema import audit_log, messages
from tests.helpers.world import build, login


async def connect(client: Any, headers: dict[str, str], resume: dict[str, int] | None = None) -> Any:
    ws = await client.ws_connect("/ws", headers=headers)
    await ws.send_json({"type": "hello", "resume": resume or {}})
    welcome = await ws.receive_json(timeout=5)
    assert welcome["type"] == "welcome"
    return ws


async def next_of(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=5)
        if frame["type"] == kind:
            return frame


async def conversation(client: Any, headers: dict[str, str], kind: str) -> dict[str, Any]:
    body = await (await client.get("/api/conversations", headers=headers)).json()
    conv: dict[str, Any] = next(c for c in body["conversations"] if c["kind"] == kind)
    return conv


async def test_case_conversation_send_ack_deliver_once_in_order(api: Any) -> None:
    client, services = api
    await build(services)
    c_h, o_h = await login(client, "client"), await login(client, "officer")
    conv = await conversation(client, c_h, "case")
    assert {m["role"] for m in conv["members"]} == {"client", "officer"}
    c_ws, o_ws = await connect(client, c_h), await connect(client, o_h)
    for i in range(3):
        await c_ws.send_json({"type": "send", "id": f"m{i}", "conversation_id": conv["id"], "body": f"hello {i}"})
        ack = await next_of(c_ws, "ack")
        assert ack["id"] == f"m{i}" and ack["seq"] == i + 1
    got = [await next_of(o_ws, "message") for _ in range(3)]
    assert [(m["seq"], m["body"]) for m in got] == [(1, "hello 0"), (2, "hello 1"), (3, "hello 2")]
    # A retried send (same id) is acknowledged with the same seq and stored once.
    await c_ws.send_json({"type": "send", "id": "m1", "conversation_id": conv["id"], "body": "hello 1"})
    assert (await next_of(c_ws, "ack"))["seq"] == 2
    async with services.store.read("t") as conn:
        assert (await conn.execute(select(func.count()).select_from(messages))).scalar_one() == 3
        stored = (await conn.execute(select(messages.c.body))).scalars().all()
        assert all(b"hello" not in b for b in stored)  # encrypted at rest
        assert (await conn.execute(select(func.count()).where(audit_log.c.action == "message.send"))).scalar_one() == 3
    listing = await conversation(client, o_h, "case")
    assert listing["last_seq"] == 3 and listing["unread"] == 3
    # The officer has the inbox open in a second tab too: a read reaches the client and every
    # connection of the reader (the other tab clears its unread count), as messages do.
    o_tab = await connect(client, o_h)
    await o_ws.send_json({"type": "receipt", "conversation_id": conv["id"], "seq": 3, "status": "read"})
    receipt = await next_of(c_ws, "receipt")
    assert receipt["status"] == "read" and receipt["seq"] == 3
    mine = await next_of(o_tab, "receipt")
    assert (mine["user_id"], mine["status"], mine["seq"]) == (receipt["user_id"], "read", 3)
    assert (await next_of(o_ws, "receipt")) == mine
    assert (await conversation(client, o_h, "case"))["unread"] == 0
    await c_ws.close()
    await o_ws.close()
    await o_tab.close()


async def test_face_to_face_first_refuses_client_messages_but_not_appointment_notices(api: Any) -> None:
    client, services = api
    await build(services)
    # client_same has not met officer2 face to face.
    c_h, o_h = await login(client, "client_same"), await login(client, "officer2")
    conv = await conversation(client, c_h, "case")
    c_ws, o_ws = await connect(client, c_h), await connect(client, o_h)
    await c_ws.send_json({"type": "send", "id": "x1", "conversation_id": conv["id"], "body": "hi"})
    err = await next_of(c_ws, "error")
    assert err["rule_id"] == "face_to_face_first" and err["ref"] == "x1"
    await o_ws.send_json({"type": "send", "id": "n1", "conversation_id": conv["id"], "body": "Meet Tue 10:00",
                          "kind": "appointment_notice"})
    assert (await next_of(o_ws, "ack"))["seq"] == 1
    notice = await next_of(c_ws, "message")
    assert notice["kind"] == "appointment_notice"
    # Clients cannot send appointment notices.
    await c_ws.send_json({"type": "send", "id": "x2", "conversation_id": conv["id"], "body": "x",
                          "kind": "appointment_notice"})
    assert (await next_of(c_ws, "error"))["rule_id"] == "scope"
    await c_ws.close()
    await o_ws.close()


async def test_mentor_talks_only_to_assigned_mentee(api: Any) -> None:
    client, services = api
    w = await build(services)
    m_h, c_h = await login(client, "mentor"), await login(client, "client")
    convs = (await (await client.get("/api/conversations", headers=m_h)).json())["conversations"]
    assert [c["kind"] for c in convs] == ["mentoring"]
    assert convs[0]["case_id"] is None  # mentors see no case data
    m_ws = await connect(client, m_h)
    await m_ws.send_json({"type": "send", "id": "a", "conversation_id": convs[0]["id"], "body": "How are you?"})
    assert (await next_of(m_ws, "ack"))["seq"] == 1
    # The mentor is not in the case conversation and cannot probe it.
    case_conv = await conversation(client, c_h, "case")
    await m_ws.send_json({"type": "send", "id": "b", "conversation_id": case_conv["id"], "body": "x"})
    assert (await next_of(m_ws, "error"))["code"] == "not_found"
    r = await client.get(f"/api/conversations/{case_conv['id']}/messages", headers=m_h)
    assert r.status == 404
    partner = await login(client, "partner")
    convs = (await (await client.get("/api/conversations", headers=partner)).json())["conversations"]
    assert [c["kind"] for c in convs] == ["network"] and w.cases["own"] == convs[0]["case_id"]
    await m_ws.close()


async def test_resume_replays_exactly_what_was_missed(api: Any) -> None:
    client, services = api
    await build(services)
    c_h, o_h = await login(client, "client"), await login(client, "officer")
    conv = await conversation(client, c_h, "case")
    o_ws = await connect(client, o_h)
    for i in range(5):
        await o_ws.send_json({"type": "send", "id": f"o{i}", "conversation_id": conv["id"], "body": f"n{i}"})
        await next_of(o_ws, "ack")
    # The client held seq 2 when it dropped; it gets 3, 4, 5 in order, once.
    c_ws = await connect(client, c_h, resume={conv["id"]: 2})
    replay = [await next_of(c_ws, "message") for _ in range(3)]
    assert [m["seq"] for m in replay] == [3, 4, 5]
    await c_ws.send_json({"type": "ping", "id": "p"})
    assert (await c_ws.receive_json(timeout=5)) == {"type": "pong", "id": "p"}  # nothing else was queued
    await c_ws.close()
    # A seq from the future is refused for that conversation, nothing replayed.
    c_ws = await connect(client, c_h, resume={conv["id"]: 99})
    err = await next_of(c_ws, "error")
    assert err["code"] == "invalid_resume" and err["ref"] == conv["id"]
    await c_ws.close()
    await o_ws.close()


async def test_history_pages_by_seq_and_is_audited(api: Any) -> None:
    client, services = api
    await build(services)
    c_h, o_h = await login(client, "client"), await login(client, "officer")
    conv = await conversation(client, c_h, "case")
    ws = await connect(client, o_h)
    for i in range(7):
        await ws.send_json({"type": "send", "id": f"h{i}", "conversation_id": conv["id"], "body": f"b{i}"})
        await next_of(ws, "ack")
    page = await (await client.get(f"/api/conversations/{conv['id']}/messages?after_seq=0&limit=4",
                                   headers=c_h)).json()
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3, 4] and page["last_seq"] == 7
    page = await (await client.get(f"/api/conversations/{conv['id']}/messages?after_seq=4&limit=4",
                                   headers=c_h)).json()
    assert [m["body"] for m in page["messages"]] == ["b4", "b5", "b6"]
    r = await client.get(f"/api/conversations/{conv['id']}/messages?after_seq=50", headers=c_h)
    assert r.status == 422
    async with services.store.read("t") as conn:
        assert (await conn.execute(select(func.count()).where(audit_log.c.action == "message.read"))).scalar_one() == 2
    await ws.close()


async def test_bad_frames_change_nothing(api: Any) -> None:
    client, services = api
    await build(services)
    c_h = await login(client, "client")
    conv = await conversation(client, c_h, "case")
    ws = await connect(client, c_h)
    bad = [
        {"type": "send", "id": "", "conversation_id": conv["id"], "body": "x"},
        {"type": "send", "id": "a", "conversation_id": conv["id"], "body": ""},
        {"type": "send", "id": "a", "conversation_id": conv["id"], "body": "x" * 4001},
        {"type": "send", "id": "a", "conversation_id": conv["id"], "body": "x", "extra": 1},
        {"type": "send", "id": "a", "conversation_id": "nope", "body": "x"},
        {"type": "receipt", "conversation_id": conv["id"], "seq": 5, "status": "read"},
        {"type": "receipt", "conversation_id": conv["id"], "seq": 1, "status": "seen"},
    ]
    for frame in bad:
        await ws.send_json(frame)
        assert (await ws.receive_json(timeout=5))["type"] == "error", frame
    async with services.store.read("t") as conn:
        assert (await conn.execute(select(func.count()).select_from(messages))).scalar_one() == 0
    await ws.close()


async def test_new_officer_takes_over_the_conversation_with_its_history(api: Any) -> None:
    client, services = api
    w = await build(services)
    c_h, o_h = await login(client, "client"), await login(client, "officer")
    conv = await conversation(client, c_h, "case")
    ws = await connect(client, o_h)
    await ws.send_json({"type": "send", "id": "before", "conversation_id": conv["id"], "body": "from the old officer"})
    await next_of(ws, "ack")
    await ws.close()
    senior = await login(client, "senior")
    url = f"/api/cases/{w.cases['own']}/officer"
    r = await client.put(url, headers=senior, json={"officer_id": w.users["officer2"]})
    assert r.status == 204
    o2_h = await login(client, "officer2")
    page = await (await client.get(f"/api/conversations/{conv['id']}/messages", headers=o2_h)).json()
    assert [m["body"] for m in page["messages"]] == ["from the old officer"]
    assert (await client.get(f"/api/conversations/{conv['id']}/messages", headers=o_h)).status == 404
    # Face-to-face-first counts meetings with the new officer: remote supervision waits.
    d = await (await client.get(f"/api/cases/{w.cases['own']}/remote-decision", headers=o2_h)).json()
    assert d["allowed"] is False and d["rule_id"] == "face_to_face_first"
    # Only within the office (to whom an officer of another office is no officer at all), and
    # only by a senior officer.
    r = await client.put(url, headers=senior, json={"officer_id": w.users["officer3"]})
    assert (r.status, await r.json()) == (404, {"error": {"code": "not_found", "message": "No such officer"}})
    r = await client.put(url, headers=o2_h, json={"officer_id": w.users["officer"]})
    assert r.status == 403
