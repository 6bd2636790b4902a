"""SQL for policy versions. Each admin change is a new row; rows are never updated."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.schema import policy_versions, users


async def latest(conn: AsyncConnection) -> Any:
    return (
        await conn.execute(
            select(policy_versions, users.c.username.label("author"))
            .outerjoin(users, users.c.id == policy_versions.c.author_id)
            .order_by(policy_versions.c.version.desc())
            .limit(1)
        )
    ).first()


async def latest_number(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.coalesce(func.max(policy_versions.c.version), 0)))).scalar_one())


async def insert(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(policy_versions.insert().values(**values))


async def history(conn: AsyncConnection, *, limit: int) -> list[Any]:
    return list(
        (
            await conn.execute(
                select(
                    policy_versions.c.version, policy_versions.c.reason, policy_versions.c.created_at,
                    users.c.username.label("author"),
                )
                .outerjoin(users, users.c.id == policy_versions.c.author_id)
                .order_by(policy_versions.c.version.desc())
                .limit(limit)
            )
        ).all()
    )
