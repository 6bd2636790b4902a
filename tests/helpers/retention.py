"""Seeding client data for retention tests through the action functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from server.clock import FakeClock
from server.store.schema import attachments, case_notes, data_keys, messages
from server.web.state import Services
from tests.helpers.world import World, login

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Seeded:
    conversation: str  # the "own" case conversation
    early: list[str]  # message ids sent in the first month


async def case_conversation(services: Services, w: World, key: str = "own") -> str:
    rows = await services.messaging.conversations(w.actor("officer"))
    return str(next(r.id for r, _, _ in rows if r.kind == "case" and r.case_id == w.cases[key]))


async def seed(services: Services, w: World, clock: FakeClock, *, messages_now: int = 3) -> Seeded:
    """January 2026: messages, an attachment and a note on case "own", a note on "same_office";
    March 2026: one more message on "own" (a bucket that lives longer)."""
    officer = w.actor("officer")
    conv = await case_conversation(services, w)
    early = []
    for i in range(messages_now):
        await services.messaging.send(officer, conv, f"jan-{i}", f"January {i}")
        early.append(f"jan-{i}")
    await services.attachments.upload(w.actor("client"), conv, "image/png", PNG)
    await services.cases.add_note(officer, w.cases["own"], "January note")
    await services.cases.add_note(w.actor("officer2"), w.cases["same_office"], "Other client's note")
    clock.advance(datetime(2026, 3, 10, tzinfo=UTC) - clock.now())
    await services.messaging.send(officer, conv, "mar-0", "March 0")
    return Seeded(conv, early)


async def counts(services: Services, case_id: str) -> dict[str, Any]:
    async with services.store.read("test.retention.counts") as conn:
        out: dict[str, Any] = {}
        for name, table in (("messages", messages), ("attachments", attachments), ("case_notes", case_notes)):
            out[name] = (await conn.execute(select(func.count()).select_from(table)
                                            .where(table.c.case_id == case_id))).scalar_one()
        rows = await conn.execute(select(data_keys.c.category, data_keys.c.bucket, data_keys.c.wrapped_key)
                                  .where(data_keys.c.case_id == case_id))
        out["keys"] = sorted((r.category, r.bucket, r.wrapped_key is not None) for r in rows)
    return out


async def granted_erasure(client: Any, categories: list[str], details: str = "Erase") -> None:
    """The client asks through the routes for ``categories`` of their case to be erased; the admin grants it."""
    resp = await client.post("/api/my/data-requests", headers=await login(client, "client"),
                             json={"kind": "erasure", "categories": categories, "details": details})
    assert resp.status == 201, await resp.text()
    request_id = (await resp.json())["id"]
    resp = await client.post(f"/api/admin/data-requests/{request_id}/decision", headers=await login(client, "admin"),
                             json={"decision": "grant", "reason": "No exemption applies"})
    assert (await resp.json()) == {"status": "granted"}
