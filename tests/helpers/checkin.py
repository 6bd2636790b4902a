"""Check-ins through the REST API (docs/protocol.md, "Video check-ins: REST"), for media tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any


async def open_checkin(client: Any, officer: dict[str, str], case_id: str, starts_at: datetime,
                       ends_at: datetime) -> str:
    """The officer schedules a check-in for the case; its id (the room id)."""
    resp = await client.post(f"/api/cases/{case_id}/checkins", headers=officer,
                             json={"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()})
    body = await resp.json()
    assert resp.status == 201, body
    return str(body["id"])


async def pass_safe_space(client: Any, headers: dict[str, str], checkin_id: str) -> None:
    """Answer every safe-space question of this user for the check-in with the safe answer."""
    resp = await client.get(f"/api/checkins/{checkin_id}/safe-space", headers=headers)
    asked = await resp.json()
    assert resp.status == 200, asked
    resp = await client.post(f"/api/checkins/{checkin_id}/safe-space", headers=headers,
                             json={"answers": {q["id"]: True for q in asked["questions"]}, "cant_talk": False})
    result = await resp.json()
    assert resp.status == 200 and result["passed"], result
