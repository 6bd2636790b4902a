"""Attachments: upload and download round trips, ciphertext at rest, refusals of type,
size and content, the membership fence, and audit rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import func, select

from server.store.schema import attachments, audit_log
from tests.helpers.http import error_of, row_counts
from tests.helpers.world import build, login
from tests.integration.test_messaging import connect, conversation, next_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(300)
JPEG = b"\xff\xd8\xff\xe0" + os.urandom(300)
PDF = b"%PDF-1.7\n" + b"secret payslip " * 20


def url(conversation_id: str) -> str:
    return f"/api/conversations/{conversation_id}/attachments"


async def upload(client: Any, headers: dict[str, str], conversation_id: str, data: Any,
                 content_type: str) -> Any:
    return await client.post(url(conversation_id), data=data, headers={**headers, "Content-Type": content_type})


async def audit_count(services: Any, action: str) -> int:
    async with services.store.read("t") as conn:
        return int((await conn.execute(select(func.count()).where(audit_log.c.action == action))).scalar_one())


async def test_upload_download_round_trip_encrypted_and_audited(api: Any) -> None:
    client, services = api
    w = await build(services)
    c_h, o_h = await login(client, "client"), await login(client, "officer")
    conv = await conversation(client, c_h, "case")
    made = {}
    for data, content_type in ((PNG, "image/png"), (JPEG, "image/jpeg"), (PDF, "application/pdf")):
        resp = await upload(client, c_h, conv["id"], data, content_type)
        assert resp.status == 201, await resp.text()
        body = await resp.json()
        assert set(body) == {"id", "content_type", "size"}
        assert body["content_type"] == content_type and body["size"] == len(data)
        made[content_type] = (body["id"], data)
    # The other member downloads each file as it was sent, as a download, never sniffed.
    for content_type, (attachment_id, data) in made.items():
        resp = await client.get(f"/api/attachments/{attachment_id}", headers=o_h)
        assert resp.status == 200
        assert await resp.read() == data
        assert resp.content_type == content_type
        assert resp.headers["Content-Disposition"].startswith("attachment;")
        assert attachment_id in resp.headers["Content-Disposition"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in resp.headers["Content-Security-Policy"]
        assert resp.headers["Cache-Control"] == "no-store"
    # The uploader may read their own upload too.
    assert (await client.get(f"/api/attachments/{made['image/png'][0]}", headers=c_h)).status == 200
    async with services.store.read("t") as conn:
        rows = (await conn.execute(select(attachments))).all()
        audits = (await conn.execute(select(audit_log).where(audit_log.c.action.like("attachment.%")))).all()
    assert len(rows) == 3
    for row in rows:  # ciphertext at rest, under the case's attachments key
        plain = made[row.content_type][1]
        assert plain[:32] not in row.body and b"secret payslip" not in row.body
        assert row.case_id == w.cases["own"] and row.uploader_id == w.users["client"]
        assert row.conversation_id == conv["id"] and row.size == len(plain)
    assert sorted(a.action for a in audits) == ["attachment.read"] * 4 + ["attachment.upload"] * 3
    reads = [a for a in audits if a.action == "attachment.read"]
    assert {a.actor_id for a in reads} == {w.users["officer"], w.users["client"]}
    assert all(a.case_id == w.cases["own"] for a in audits)


async def test_a_message_refers_to_an_attachment_by_id(api: Any) -> None:
    client, services = api
    await build(services)
    c_h, o_h = await login(client, "client"), await login(client, "officer")
    conv = await conversation(client, c_h, "case")
    attachment_id = (await (await upload(client, c_h, conv["id"], PDF, "application/pdf")).json())["id"]
    c_ws, o_ws = await connect(client, c_h), await connect(client, o_h)
    await c_ws.send_json({"type": "send", "id": "m1", "conversation_id": conv["id"],
                          "body": f"My payslip attachment:{attachment_id}"})
    await next_of(c_ws, "ack")
    got = await next_of(o_ws, "message")
    ref = got["body"].split("attachment:", 1)[1]
    assert await (await client.get(f"/api/attachments/{ref}", headers=o_h)).read() == PDF
    await c_ws.close()
    await o_ws.close()


async def test_type_content_and_size_refusals_write_nothing(app_factory: Any) -> None:
    client, services = await app_factory(attachment_max_bytes=100 * 1024)
    await build(services)
    c_h = await login(client, "client")
    conv = await conversation(client, c_h, "case")
    cases = [
        (PNG, "text/plain", 415, "unsupported_media_type"),
        (PNG, "image/gif", 415, "unsupported_media_type"),
        (PNG, "application/json", 415, "unsupported_media_type"),
        (b"<svg onload=alert(1)>", "image/png", 422, "invalid_request"),  # declared PNG, is not
        (PDF, "image/jpeg", 422, "invalid_request"),
        (JPEG, "application/pdf", 422, "invalid_request"),
        (b"", "image/png", 422, "invalid_request"),
        (b"\x89PNG\r\n\x1a\n" + b"x" * 100 * 1024, "image/png", 413, "payload_too_large"),
    ]
    for data, content_type, status, code in cases:
        before = await row_counts(services)
        resp = await upload(client, c_h, conv["id"], data, content_type)
        await error_of(resp, status, code)
        assert await row_counts(services) == before, (content_type, status)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the stream is cut off at the limit
        yield b"\x89PNG\r\n\x1a\n"
        for _ in range(40):
            yield b"x" * 8192

    before = await row_counts(services)
    await error_of(await upload(client, c_h, conv["id"], chunks(), "image/png"), 413, "payload_too_large")
    assert await row_counts(services) == before
    # Exactly at the limit is taken, and so is anything over the app-wide 64 KiB JSON limit.
    at_limit = b"\x89PNG\r\n\x1a\n" + os.urandom(100 * 1024 - 8)
    resp = await upload(client, c_h, conv["id"], at_limit, "image/png")
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["size"] == 100 * 1024 > services.settings.max_body_bytes


async def test_default_limit_is_five_mebibytes(api: Any) -> None:
    client, services = api
    await build(services)
    assert services.settings.attachment_max_bytes == 5 * 1024 * 1024
    c_h = await login(client, "client")
    conv = await conversation(client, c_h, "case")
    big = b"%PDF-" + b"\x00" * (5 * 1024 * 1024 - 5)
    resp = await upload(client, c_h, conv["id"], io.BytesIO(big), "application/pdf")
    assert resp.status == 201, await resp.text()
    resp = await client.get(f"/api/attachments/{(await resp.json())['id']}", headers=c_h)
    assert await resp.read() == big
    over = io.BytesIO(big + b"\x00")
    await error_of(await upload(client, c_h, conv["id"], over, "application/pdf"), 413, "payload_too_large")


async def test_non_members_get_404_and_nothing_is_written(api: Any) -> None:
    client, services = api
    await build(services)
    c_h = await login(client, "client")
    conv = await conversation(client, c_h, "case")
    attachment_id = (await (await upload(client, c_h, conv["id"], PNG, "image/png")).json())["id"]
    for username in ("mentor", "senior", "officer2", "partner", "admin"):
        h = await login(client, username)
        before = await row_counts(services)
        await error_of(await client.get(f"/api/attachments/{attachment_id}", headers=h), 404, "not_found")
        await error_of(await upload(client, h, conv["id"], PNG, "image/png"), 404, "not_found")
        assert await row_counts(services) == before, username
    await error_of(await client.get("/api/attachments/nope", headers=c_h), 404, "not_found")
    await error_of(await upload(client, c_h, "nope", PNG, "image/png"), 404, "not_found")
    assert (await client.get(f"/api/attachments/{attachment_id}")).status == 401
    # The mentor reaches attachments of the mentoring conversation, not the case's.
    m_h = await login(client, "mentor")
    mentoring = await conversation(client, m_h, "mentoring")
    resp = await upload(client, m_h, mentoring["id"], JPEG, "image/jpeg")
    assert resp.status == 201
    assert (await client.get(f"/api/attachments/{(await resp.json())['id']}", headers=c_h)).status == 200
    assert await audit_count(services, "attachment.read") == 1


async def test_face_to_face_first_applies_to_attachments(api: Any) -> None:
    client, services = api
    await build(services)
    # client_same has not met officer2 face to face: no content from them yet.
    h = await login(client, "client_same")
    conv = await conversation(client, h, "case")
    before = await row_counts(services)
    resp = await upload(client, h, conv["id"], PNG, "image/png")
    err = await error_of(resp, 403, "policy_refused")
    assert err["rule_id"] == "face_to_face_first"
    assert await row_counts(services) == before


async def test_uploads_in_memory_at_once_are_bounded(api: Any) -> None:
    client, services = api
    await build(services)
    services.attachments.max_concurrent = 1
    c_h = await login(client, "client")
    conv = await conversation(client, c_h, "case")
    started, release = asyncio.Event(), asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield PNG[:8]
        started.set()
        await release.wait()
        yield PNG[8:]

    first = asyncio.create_task(upload(client, c_h, conv["id"], slow(), "image/png"))
    await started.wait()
    for _ in range(500):  # until the server has taken the first slot
        if services.attachments._in_progress:
            break
        await asyncio.sleep(0.01)
    resp = await upload(client, c_h, conv["id"], PNG, "image/png")
    await error_of(resp, 429, "rate_limited")
    assert resp.headers["Retry-After"]
    release.set()
    assert (await first).status == 201
    assert (await upload(client, c_h, conv["id"], PNG, "image/png")).status == 201
