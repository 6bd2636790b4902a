"""SQL of the group safe-space check (``group_safe_space``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.schema_groups import group_safe_space


async def insert(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(group_safe_space.insert().values(**values))


async def passed(conn: AsyncConnection, session_id: str, user_id: str) -> bool:
    """Whether the user's latest check for this session passed (a pass and a failure stored at
    the same instant count as a pass given after the failure), as for check-ins."""
    rows = (await conn.execute(select(group_safe_space.c.passed, func.max(group_safe_space.c.at)).where(
        group_safe_space.c.session_id == session_id, group_safe_space.c.user_id == user_id)
        .group_by(group_safe_space.c.passed))).all()
    last = {bool(r[0]): r[1] for r in rows}
    return True in last and (False not in last or last[True] >= last[False])
