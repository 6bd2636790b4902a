"""Conversations and message history over HTTP (live traffic goes over /ws)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from server.identity.model import Role
from server.messaging.model import unread
from server.web import schemas as s
from server.web.routing import Call, Permission, Registry
from server.web.state import SERVICES

# Membership is the fence: every role may have conversations (mentors, partners, clients).
CONVERSE = Permission("use their conversations")


class ConversationMember(Struct, kw_only=True):
    id: str
    display_name: str
    role: str


class Conversation(Struct, kw_only=True):
    id: str
    kind: str
    title: str
    case_id: str | None
    members: list[ConversationMember]
    last_seq: int
    last_read_seq: int
    unread: int
    closed: bool  # its mentor assignment ended: history to read, nothing more to send
    #: Whether the caller may write a message here now, and if not why (a case conversation
    #: before the first face-to-face meeting): the screen says so instead of a composer.
    may_send: bool = True
    why_not: s.ReasonOut | None = None
    rule_id: str | None = None  # the refusing rule (staff screens name it)


class Conversations(Struct, kw_only=True):
    conversations: list[Conversation]


class HistoryQuery(s.Strict, kw_only=True):
    after_seq: Annotated[int, Meta(ge=0, le=2**53)] = 0
    limit: Annotated[int, Meta(ge=1, le=200)] = 50


class Message(Struct, kw_only=True):
    seq: int
    id: str
    sender_id: str
    kind: str
    body: str
    sent_at: str


class History(Struct, kw_only=True):
    messages: list[Message]
    last_seq: int


def register(api: Registry) -> None:
    @api.route(
        "GET",
        "/api/conversations",
        permission=CONVERSE,
        summary="My conversations with unread counts",
        response=Conversations,
        tag="messaging",
    )
    async def conversations(call: Call[None]) -> Conversations:
        me = call.actor.user_id
        out = []
        for row, members, decision in await call.request.app[SERVICES].messaging.conversations(call.actor):
            refused = decision is not None and not decision.allowed
            why = decision.codes[0] if refused and decision is not None and decision.codes else None
            others = [m.display_name for m in members if m.id != me]
            out.append(
                Conversation(
                    id=row.id,
                    kind=row.kind,
                    title=", ".join(others) or row.kind,
                    # Mentors see no case data, not even which case a conversation hangs off.
                    case_id=None if call.actor.role is Role.MENTOR else row.case_id,
                    members=[ConversationMember(id=m.id, display_name=m.display_name, role=m.role) for m in members],
                    last_seq=int(row.last_seq),
                    last_read_seq=int(row.read_seq),
                    unread=unread(int(row.last_seq), int(row.read_seq)),
                    closed=row.closed_at is not None,
                    may_send=row.closed_at is None and not refused,
                    why_not=s.ReasonOut(code=why.code, params=dict(why.params)) if why else None,
                    rule_id=decision.rule_id if refused and decision is not None else None,
                )
            )
        return Conversations(conversations=out)

    @api.route(
        "GET",
        "/api/conversations/{conversation_id}/messages",
        permission=CONVERSE,
        summary="Messages after a seq, oldest first (audited read)",
        query=HistoryQuery,
        response=History,
        tag="messaging",
    )
    async def history(call: Call[None]) -> History:
        messages, last = await call.request.app[SERVICES].messaging.history(
            call.actor, call.param("conversation_id"), after_seq=call.query.after_seq, limit=call.query.limit
        )
        return History(
            messages=[
                Message(
                    seq=m.seq, id=m.id, sender_id=m.sender_id, kind=m.kind, body=m.body, sent_at=m.sent_at.isoformat()
                )
                for m in messages
            ],
            last_seq=last,
        )
