"""SQL of network meetings by video: which case a meeting belongs to, and the safe-space check
before it (``network_meeting_safe_space``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.schema_networks import network_meeting_safe_space, network_meetings


async def meeting(conn: AsyncConnection, meeting_id: str) -> Any:
    """The meeting's row in clear (its case and start), or None."""
    return (await conn.execute(select(network_meetings).where(network_meetings.c.id == meeting_id))).first()


async def insert_safe_space(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(network_meeting_safe_space.insert().values(**values))


async def passed(conn: AsyncConnection, meeting_id: str, user_id: str) -> bool:
    """Whether the user's latest check for this meeting passed (a pass and a failure stored at the
    same instant count as a pass given after the failure), as for group sessions."""
    t = network_meeting_safe_space
    rows = (await conn.execute(select(t.c.passed, func.max(t.c.at)).where(
        t.c.meeting_id == meeting_id, t.c.user_id == user_id).group_by(t.c.passed))).all()
    last = {bool(r[0]): r[1] for r in rows}
    return True in last and (False not in last or last[True] >= last[False])
