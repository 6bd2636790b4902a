"""Answering the safe-space check before a live group session, as the web client does: the
server refuses ``group.join`` (rule safe_space) until the check is passed for the session."""

from __future__ import annotations

from typing import Any

from server.groups.safe_space import GroupSafeSpace
from server.identity.model import Actor


async def pass_group_safe_space(client: Any, headers: dict[str, str], session_id: str, *, base: str = "") -> bool:
    """Answer every question safely through the routes; False when the caller has no check to
    answer for this session (not theirs, another office's, the room device): the join that
    follows then meets the server's own refusal. ``client`` is the aiohttp test client, or an
    ``aiohttp.ClientSession`` with ``base`` the server's address."""
    url = f"{base}/api/group-sessions/{session_id}/safe-space"
    resp = await client.get(url, headers=headers)
    if resp.status != 200:
        return False
    asked = await resp.json()
    resp = await client.post(url, headers=headers, json={"answers": {q["id"]: True for q in asked["questions"]}})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["passed"] is True
    return True


async def pass_safe_space_in(service: GroupSafeSpace, actor: Actor, session_id: str) -> None:
    """The same through the service, for tests that join through ``join_context``."""
    _side, asked, _passed = await service.questions(actor, session_id)
    assert (await service.answer(actor, session_id, {q.id: True for q in asked})).passed
