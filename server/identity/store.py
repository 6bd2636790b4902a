"""SQL for accounts, sessions, enrolment codes and recovery codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.identity.model import Actor, Role, Session
from server.store.schema import cases, enrolment_codes, offices, recovery_codes, sessions, users

#: The office that administers an account: its own, or for a client their case's.
_administering_office = func.coalesce(users.c.office_id, cases.c.office_id)
_with_case = users.outerjoin(cases, cases.c.client_id == users.c.id)


def actor_from_row(row: Any) -> Actor:
    return Actor(
        user_id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        office_id=row.office_id,
        locale=row.locale,
        mfa_enrolled=bool(row.totp_enabled),
    )


async def user_by_username(conn: AsyncConnection, username: str) -> Any:
    return (await conn.execute(select(users).where(users.c.username == username))).first()


async def user_by_id(conn: AsyncConnection, user_id: str) -> Any:
    return (await conn.execute(select(users).where(users.c.id == user_id))).first()


async def insert_user(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(users.insert().values(**values))


async def update_user(conn: AsyncConnection, user_id: str, **values: Any) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(**values))


async def list_users(conn: AsyncConnection, *, office_id: str | None, limit: int, offset: int) -> list[Any]:
    """Accounts by username: all of them (``office_id`` None), or those one office administers."""
    query = select(users).select_from(_with_case)
    if office_id is not None:
        query = query.where(_administering_office == office_id)
    return list((await conn.execute(query.order_by(users.c.username).limit(limit).offset(offset))).all())


async def user_with_office(conn: AsyncConnection, user_id: str) -> tuple[Any, str | None] | None:
    """An account and the office that administers it (None: no office)."""
    row = (await conn.execute(select(users, _administering_office.label("administered_by")).select_from(_with_case)
                              .where(users.c.id == user_id))).first()
    return None if row is None else (row, row.administered_by)


async def insert_office(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(offices.insert().values(**values))


async def office_exists(conn: AsyncConnection, office_id: str) -> bool:
    return (await conn.execute(select(offices.c.id).where(offices.c.id == office_id))).first() is not None


async def list_offices(conn: AsyncConnection) -> list[Any]:
    return list((await conn.execute(select(offices).order_by(offices.c.name))).all())


async def insert_session(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(sessions.insert().values(**values))


async def session_with_user(conn: AsyncConnection, token_hash: str) -> tuple[Session, Any] | None:
    row = (
        await conn.execute(
            select(sessions, users)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.token_hash == token_hash)
        )
    ).first()
    if row is None:
        return None
    m = row._mapping
    session = Session(
        token_hash=m[sessions.c.token_hash],
        user_id=m[sessions.c.user_id],
        kind=m[sessions.c.kind],
        csrf_token=m[sessions.c.csrf_token],
        mfa_pending=bool(m[sessions.c.mfa_pending]),
        created_at=m[sessions.c.created_at],
        last_seen_at=m[sessions.c.last_seen_at],
        expires_at=m[sessions.c.expires_at],
        checkin_id=m[sessions.c.checkin_id],
        group_session_id=m[sessions.c.group_session_id],
    )
    return session, row


async def touch_session(conn: AsyncConnection, token_hash: str, at: datetime) -> None:
    await conn.execute(update(sessions).where(sessions.c.token_hash == token_hash).values(last_seen_at=at))


async def update_session(conn: AsyncConnection, token_hash: str, **values: Any) -> None:
    await conn.execute(update(sessions).where(sessions.c.token_hash == token_hash).values(**values))


async def delete_session(conn: AsyncConnection, token_hash: str) -> int:
    return (await conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))).rowcount or 0


async def delete_user_sessions(conn: AsyncConnection, user_id: str) -> int:
    return (await conn.execute(delete(sessions).where(sessions.c.user_id == user_id))).rowcount or 0


async def purge_expired_sessions(conn: AsyncConnection, now: datetime) -> int:
    return (await conn.execute(delete(sessions).where(sessions.c.expires_at <= now))).rowcount or 0


async def insert_enrolment_code(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(enrolment_codes.insert().values(**values))


async def enrolment_code(conn: AsyncConnection, code_hash: str) -> Any:
    return (await conn.execute(select(enrolment_codes).where(enrolment_codes.c.code_hash == code_hash))).first()


async def use_enrolment_code(conn: AsyncConnection, code_hash: str, at: datetime) -> bool:
    result = await conn.execute(
        update(enrolment_codes)
        .where(enrolment_codes.c.code_hash == code_hash, enrolment_codes.c.used_at.is_(None))
        .values(used_at=at)
    )
    return (result.rowcount or 0) == 1


async def replace_recovery_codes(conn: AsyncConnection, user_id: str, rows: list[dict[str, Any]]) -> None:
    await conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
    if rows:
        await conn.execute(recovery_codes.insert(), rows)


async def use_recovery_code(conn: AsyncConnection, user_id: str, code_hash: str, at: datetime) -> bool:
    result = await conn.execute(
        update(recovery_codes)
        .where(
            recovery_codes.c.user_id == user_id,
            recovery_codes.c.code_hash == code_hash,
            recovery_codes.c.used_at.is_(None),
        )
        .values(used_at=at)
    )
    return (result.rowcount or 0) == 1


async def count_users(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(users))).scalar_one())
