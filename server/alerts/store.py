"""Staff alert SQL: the only module of the feature that talks to the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store.schema import cases, checkins, staff_alerts, users


async def insert(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(staff_alerts.insert().values(**values))


async def alert(conn: AsyncConnection, alert_id: str) -> Any:
    return (await conn.execute(select(staff_alerts).where(staff_alerts.c.id == alert_id))).first()


async def open_of_checkin(conn: AsyncConnection, checkin_id: str, kind: str | None = None) -> list[Any]:
    """A check-in's open alerts (of one kind, or all)."""
    query = select(staff_alerts).where(staff_alerts.c.checkin_id == checkin_id, staff_alerts.c.resolved_at.is_(None))
    if kind is not None:
        query = query.where(staff_alerts.c.kind == kind)
    return list((await conn.execute(query)).all())


async def open_for(conn: AsyncConnection, user_id: str, limit: int) -> list[Any]:
    """A user's open alerts, newest first, with the client's name and the check-in's appointment."""
    query = (select(staff_alerts, cases.c.client_id, users.c.display_name.label("client_name"),
                    checkins.c.appointment_id, checkins.c.opens_at)
             .join(cases, cases.c.id == staff_alerts.c.case_id)
             .join(users, users.c.id == cases.c.client_id)
             .outerjoin(checkins, checkins.c.id == staff_alerts.c.checkin_id)
             .where(staff_alerts.c.user_id == user_id, staff_alerts.c.resolved_at.is_(None))
             .order_by(staff_alerts.c.created_at.desc(), staff_alerts.c.id.desc()).limit(limit))
    return list((await conn.execute(query)).all())


async def resolve(conn: AsyncConnection, alert_id: str, at: datetime, resolution: str) -> bool:
    """Close an open alert; False when it was closed already (by another device or node)."""
    done = await conn.execute(update(staff_alerts).where(staff_alerts.c.id == alert_id,
                                                         staff_alerts.c.resolved_at.is_(None))
                              .values(resolved_at=at, resolution=resolution))
    return bool(done.rowcount)
