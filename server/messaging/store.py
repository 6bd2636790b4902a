"""SQL for conversations, members and messages."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.ids import new_id
from server.store.raw import Driver, Statement, any_of, parse_ts
from server.store.schema import cohorts, conversation_members, conversations, messages, users


async def conversation(conn: AsyncConnection, conversation_id: str) -> Any:
    return (await conn.execute(select(conversations).where(conversations.c.id == conversation_id))).first()


async def conversation_for_case(conn: AsyncConnection, case_id: str, kind: str) -> Any:
    return (
        await conn.execute(
            select(conversations).where(conversations.c.case_id == case_id, conversations.c.kind == kind)
        )
    ).first()


async def insert_conversation(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(conversations.insert().values(last_seq=0, **values))


async def ensure_conversation(
    conn: AsyncConnection, *, kind: str, case_id: str, user_ids: list[str], at: datetime
) -> str:
    """The case's conversation of this kind, created on first use, with these members in it."""
    row = await conversation_for_case(conn, case_id, kind)
    if row is None:
        conversation_id = new_id()
        await insert_conversation(conn, id=conversation_id, kind=kind, case_id=case_id, created_at=at)
    else:
        conversation_id = str(row.id)
    for user_id in user_ids:
        await add_member(conn, conversation_id, user_id, at)
    return conversation_id


async def open_mentoring(
    conn: AsyncConnection, *, case_id: str, assignment_id: str, user_ids: list[str], at: datetime,
    access_ends_at: datetime | None = None,
) -> str:
    """A new, empty mentoring conversation for one mentor assignment, open until its period ends."""
    conversation_id = new_id()
    await insert_conversation(conn, id=conversation_id, kind="mentoring", case_id=case_id,
                              mentor_assignment_id=assignment_id, created_at=at, access_ends_at=access_ends_at)
    for user_id in user_ids:
        await add_member(conn, conversation_id, user_id, at)
    return conversation_id


async def close_mentoring(conn: AsyncConnection, *, assignment_id: str, mentor_id: str, at: datetime) -> None:
    """Close the assignment's conversation: the mentor leaves it, nobody sends any more."""
    row = (
        await conn.execute(select(conversations.c.id).where(conversations.c.mentor_assignment_id == assignment_id))
    ).first()
    if row is None:
        return
    await conn.execute(update(conversations).where(conversations.c.id == row.id).values(closed_at=at))
    await conn.execute(
        update(conversation_members)
        .where(
            conversation_members.c.conversation_id == row.id,
            conversation_members.c.user_id == mentor_id,
            conversation_members.c.left_at.is_(None),
        )
        .values(left_at=at)
    )


async def membership(conn: AsyncConnection, conversation_id: str, user_id: str) -> Any:
    return (
        await conn.execute(
            select(conversation_members).where(
                conversation_members.c.conversation_id == conversation_id,
                conversation_members.c.user_id == user_id,
                conversation_members.c.left_at.is_(None),
            )
        )
    ).first()


async def add_member(conn: AsyncConnection, conversation_id: str, user_id: str, at: datetime) -> None:
    existing = (
        await conn.execute(
            select(conversation_members.c.left_at).where(
                conversation_members.c.conversation_id == conversation_id, conversation_members.c.user_id == user_id
            )
        )
    ).first()
    if existing is None:
        await conn.execute(
            conversation_members.insert().values(
                conversation_id=conversation_id,
                user_id=user_id,
                joined_at=at,
                left_at=None,
                delivered_seq=0,
                read_seq=0,
            )
        )
    elif existing.left_at is not None:
        await set_member(conn, conversation_id, user_id, left_at=None, joined_at=at)


async def hand_over(conn: AsyncConnection, *, case_id: str, old_user_id: str, new_user_id: str, at: datetime) -> None:
    """Move the case's staff seat (case and network conversations) from one officer to another."""
    rows = await conn.execute(
        select(conversations.c.id).where(
            conversations.c.case_id == case_id, conversations.c.kind.in_(("case", "network"))
        )
    )
    for (conversation_id,) in rows.all():
        await conn.execute(
            update(conversation_members)
            .where(
                conversation_members.c.conversation_id == conversation_id,
                conversation_members.c.user_id == old_user_id,
                conversation_members.c.left_at.is_(None),
            )
            .values(left_at=at)
        )
        await add_member(conn, conversation_id, new_user_id, at)


async def set_member(conn: AsyncConnection, conversation_id: str, user_id: str, **values: Any) -> None:
    await conn.execute(
        update(conversation_members)
        .where(conversation_members.c.conversation_id == conversation_id, conversation_members.c.user_id == user_id)
        .values(**values)
    )


async def member_ids(conn: AsyncConnection, conversation_id: str) -> list[str]:
    rows = await conn.execute(
        select(conversation_members.c.user_id).where(
            conversation_members.c.conversation_id == conversation_id, conversation_members.c.left_at.is_(None)
        )
    )
    return [r.user_id for r in rows]


async def members_with_names(conn: AsyncConnection, conversation_ids: list[str]) -> list[Any]:
    if not conversation_ids:
        return []
    return list(
        (
            await conn.execute(
                select(conversation_members.c.conversation_id, users.c.id, users.c.display_name, users.c.role)
                .join(users, users.c.id == conversation_members.c.user_id)
                .where(
                    conversation_members.c.conversation_id.in_(conversation_ids),
                    conversation_members.c.left_at.is_(None),
                )
                .order_by(users.c.display_name)
            )
        ).all()
    )


async def conversations_of(conn: AsyncConnection, user_id: str) -> list[Any]:
    return list(
        (
            await conn.execute(
                select(conversations, conversation_members.c.read_seq, conversation_members.c.delivered_seq)
                .join(
                    conversation_members,
                    and_(
                        conversation_members.c.conversation_id == conversations.c.id,
                        conversation_members.c.user_id == user_id,
                        conversation_members.c.left_at.is_(None),
                    ),
                )
                .order_by(conversations.c.created_at)
            )
        ).all()
    )


async def next_seq(conn: AsyncConnection, conversation_id: str) -> int:
    """Take the next seq; the row lock (or SQLite's write lock) orders concurrent sends."""
    result = await conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(last_seq=conversations.c.last_seq + 1)
        .returning(conversations.c.last_seq)
    )
    return int(result.scalar_one())


async def message_by_client_id(conn: AsyncConnection, sender_id: str, client_id: str) -> Any:
    return (
        await conn.execute(select(messages).where(messages.c.sender_id == sender_id, messages.c.id == client_id))
    ).first()


async def insert_message(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(messages.insert().values(**values))


async def messages_after(conn: AsyncConnection, conversation_id: str, after_seq: int, limit: int) -> list[Any]:
    return list(
        (
            await conn.execute(
                select(messages)
                .where(messages.c.conversation_id == conversation_id, messages.c.seq > after_seq)
                .order_by(messages.c.seq)
                .limit(limit)
            )
        ).all()
    )


# -- group commit of sends: driver-level statements (server/store/raw.py), set-based -----


class StoredRef(NamedTuple):
    """Where an already stored (sender, client id) went."""

    conversation_id: str
    seq: int
    sent_at: datetime


class ConversationRow(NamedTuple):
    id: str
    kind: str
    case_id: str | None
    cohort_id: str | None
    last_seq: int
    closed_at: Any  # None while open; the driver's timestamp form otherwise
    access_ends_at: Any  # a mentoring conversation's period end (issue 16), in the same form


_BY_CLIENT_IDS = Statement(
    lambda sqlite: select(
        messages.c.sender_id, messages.c.id, messages.c.conversation_id, messages.c.seq, messages.c.sent_at
    ).where(any_of(messages.c.sender_id, "senders", sqlite=sqlite), any_of(messages.c.id, "ids", sqlite=sqlite)),
    ["senders", "ids"],
)
_LOCK_CONVERSATIONS = Statement(
    lambda sqlite: (
        select(*(conversations.c[name] for name in ConversationRow._fields))
        .where(any_of(conversations.c.id, "ids", sqlite=sqlite))
        .order_by(conversations.c.id)
        .with_for_update()
    ),
    ["ids"],
)
_CURRENT_MEMBERS = Statement(
    lambda sqlite: select(conversation_members.c.conversation_id, conversation_members.c.user_id).where(
        any_of(conversation_members.c.conversation_id, "ids", sqlite=sqlite),
        conversation_members.c.left_at.is_(None),
    ),
    ["ids"],
)
#: The columns of a message row, in the order ``store_batch`` takes them.
MESSAGE_COLUMNS = tuple(c.name for c in messages.c)
_INSERT_MESSAGES = Statement(
    lambda _: messages.insert().values({name: bindparam(name) for name in MESSAGE_COLUMNS}), MESSAGE_COLUMNS
)
_SET_LAST_SEQ = Statement(
    lambda _: (
        update(conversations).where(conversations.c.id == bindparam("b_id")).values(last_seq=bindparam("b_last_seq"))
    ),
    ["b_last_seq", "b_id"],
)
_SET_CURSORS = Statement(
    lambda _: (
        update(conversation_members)
        .where(
            conversation_members.c.conversation_id == bindparam("b_conversation_id"),
            conversation_members.c.user_id == bindparam("b_user_id"),
        )
        .values(delivered_seq=bindparam("b_delivered"), read_seq=bindparam("b_read"))
    ),
    ["b_delivered", "b_read", "b_conversation_id", "b_user_id"],
)


def messages_by_client_ids(db: Driver, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], StoredRef]:
    """Stored messages by (sender, client id), for the idempotency check of a batch."""
    if not keys:
        return {}
    rows = db.rows(_BY_CLIENT_IDS, (db.set_of({s for s, _ in keys}), db.set_of({i for _, i in keys})))
    return {
        (sender, cid): StoredRef(conv, int(seq), parse_ts(at))
        for sender, cid, conv, seq, at in rows
        if (sender, cid) in keys
    }


def lock_conversations(db: Driver, conversation_ids: Collection[str]) -> dict[str, ConversationRow]:
    """The conversations, their rows locked until commit (in id order, so two nodes locking
    overlapping batches never deadlock; on SQLite the write lock already serialises writers)."""
    rows = db.rows(_LOCK_CONVERSATIONS, (db.set_of(conversation_ids),))
    return {r[0]: ConversationRow(r[0], r[1], r[2], r[3], int(r[4]), r[5], r[6]) for r in rows}


def current_members(db: Driver, conversation_ids: Collection[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for conversation_id, user_id in db.rows(_CURRENT_MEMBERS, (db.set_of(conversation_ids),)):
        out.setdefault(conversation_id, []).append(user_id)
    return out


def store_batch(
    db: Driver,
    rows: list[tuple[Any, ...]],
    last_seqs: dict[str, int],
    sender_cursors: dict[tuple[str, str], int],
) -> None:
    """Insert the batch's messages (tuples in ``MESSAGE_COLUMNS`` order, values in the driver's
    form), move each conversation's last_seq (its row is locked by ``lock_conversations``) and
    each sender's own cursors: three statements."""
    db.many(_INSERT_MESSAGES, rows)
    db.many(_SET_LAST_SEQ, [(s, c) for c, s in last_seqs.items()])
    db.many(_SET_CURSORS, [(s, s, c, u) for (c, u), s in sender_cursors.items()])


async def cohort_member_names(conn: AsyncConnection, conversation_ids: Collection[str]) -> dict[str, str]:
    """How the participants of each group conversation's cohort see one another (first_name |
    initials), by conversation id."""
    if not conversation_ids:
        return {}
    rows = await conn.execute(
        select(conversations.c.id, cohorts.c.member_names)
        .join(cohorts, cohorts.c.id == conversations.c.cohort_id)
        .where(conversations.c.id.in_(list(conversation_ids))))
    return {str(r.id): str(r.member_names) for r in rows}
