"""Messaging action functions: open conversations, send, receipts, history, resume.

A send is stored in one transaction: membership and policy checks, the idempotency
lookup, the next ``seq``, the encrypted body (bucket key per case, ``messages``, month)
and the audit row. Concurrent sends share that transaction (group commit, see
``pipeline.py``); ``send_one`` is the same action for a single send, which the pipeline
falls back to. Only after commit is a message published on the bus to every member's
``user.<id>`` channel; a member who misses the publish resumes from the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.bus.base import Bus
from server.cases.service import CaseService, refuse
from server.clock import Clock
from server.crypto.keyring import Keyring, KeyShredded
from server.errors import BadRequest, Conflict, Forbidden, NotFound, Unavailable
from server.identity.model import STAFF_ROLES, Actor, Role
from server.mentoring.model import conversation_decision, refuse_after_period
from server.messaging import store
from server.messaging.model import (
    CATEGORY,
    FIRST_NAME,
    Ack,
    Kind,
    Member,
    MessageKind,
    StoredMessage,
    aad,
    as_seen_by,
    bucket_owner,
    message_frame,
    next_cursor,
    refuse_closed,
)
from server.messaging.pipeline import MAX_BATCH, SEND_WRITERS_PG, SendPipeline
from server.policy.decision import Decision
from server.policy.facts import READ_MENTORING, WRITE_MENTORING
from server.store.tx import Store

log = logging.getLogger(__name__)

async def member_conversation(conn: AsyncConnection, actor: Actor, conversation_id: str) -> Any:
    """The conversation, when the actor is one of its members. The same 404 answers "no such
    conversation" and "not yours", so conversation ids cannot be probed."""
    row = await store.conversation(conn, conversation_id)
    if row is None or await store.membership(conn, conversation_id, actor.user_id) is None:
        raise NotFound("No such conversation")
    return row


class MessagingService:
    def __init__(
        self, store_: Store, clock: Clock, keyring: Keyring, cases: CaseService, bus: Bus, *, max_batch: int = MAX_BATCH
    ) -> None:
        self.store = store_
        self.clock = clock
        self.keyring = keyring
        self.cases = cases
        self.bus = bus
        # Run after a new message is published, with its members and those of them it reached live
        # on some node (None: the bus failed and nobody knows); Web Push queues here. Must not block.
        self.sent_hooks: list[Callable[[StoredMessage, list[str], set[str] | None], None]] = []
        # SQLite has one writer; on PostgreSQL a batch reads and locks while the one before commits.
        self.pipeline = SendPipeline(self, max_batch=max_batch, writers=1 if store_.sqlite else SEND_WRITERS_PG)

    # -- sending ------------------------------------------------------------------

    async def send(
        self, actor: Actor, conversation_id: str, client_id: str, body: str, kind: MessageKind = MessageKind.TEXT
    ) -> Ack:
        """Store (group commit with concurrent sends), publish, then return the ack."""
        if kind is MessageKind.APPOINTMENT_NOTICE and actor.role not in STAFF_ROLES:
            raise Forbidden("Only staff send appointment notices (rule scope)", rule_id="scope",
                            reason="scope.staff_notices")
        return await self.pipeline.send(actor, conversation_id, client_id, body, kind)

    async def send_one(
        self, actor: Actor, conversation_id: str, client_id: str, body: str, kind: MessageKind = MessageKind.TEXT
    ) -> Ack:
        """One send in its own transaction (the pipeline's fallback when a batch fails)."""
        try:
            return await self._send(actor, conversation_id, client_id, body, kind)
        except Exception as err:
            self.keyring.forget_inserted()  # a key created by the rolled-back transaction does not exist
            if not isinstance(err, Conflict):
                raise
            # A retry racing its original (the client reconnected, perhaps to another node, while the
            # first attempt was still being stored): the unique (sender, id) refused the second insert.
            # It is a retry like any other and gets the original's ack.
            async with self.store.read("message.send.retry") as conn:
                existing = await store.message_by_client_id(conn, actor.user_id, client_id)
            if existing is None or existing.conversation_id != conversation_id:
                raise
            return Ack(client_id, conversation_id, int(existing.seq), existing.sent_at, duplicate=True)

    async def _send(
        self, actor: Actor, conversation_id: str, client_id: str, body: str, kind: MessageKind
    ) -> Ack:
        if kind is MessageKind.APPOINTMENT_NOTICE and actor.role not in STAFF_ROLES:
            raise Forbidden("Only staff send appointment notices (rule scope)", rule_id="scope",
                            reason="scope.staff_notices")
        now = self.clock.now()
        async with self.store.write("message.send") as conn:
            existing = await store.message_by_client_id(conn, actor.user_id, client_id)
            if existing is not None:
                if existing.conversation_id != conversation_id:
                    raise Conflict("That message id was already used in another conversation")
                return Ack(client_id, conversation_id, int(existing.seq), existing.sent_at, duplicate=True)
            row = await member_conversation(conn, actor, conversation_id)
            refuse_closed(row)
            refuse_after_period(self.cases.policy.evaluate, actor, row, WRITE_MENTORING, now)
            if row.kind == Kind.CASE.value:
                view = await self.cases.view(conn, row.case_id)
                refuse(self.cases.decide(actor, "send_message", view, message_kind=kind.value))
            seq = await store.next_seq(conn, conversation_id)
            key_id, blob = await self.keyring.encrypt(
                conn,
                case_id=bucket_owner(row),
                category=CATEGORY,
                at=now,
                plaintext=body.encode(),
                aad=aad(conversation_id, seq),
            )
            await store.insert_message(
                conn,
                conversation_id=conversation_id,
                seq=seq,
                id=client_id,
                sender_id=actor.user_id,
                kind=kind.value,
                case_id=row.case_id,
                key_id=key_id,
                body=blob,
                sent_at=now,
            )
            await store.set_member(conn, conversation_id, actor.user_id, delivered_seq=seq, read_seq=seq)
            await audit.append(
                conn,
                at=now,
                actor_id=actor.user_id,
                action="message.send",
                target_type="message",
                target_id=f"{conversation_id}:{seq}",
                case_id=row.case_id,
                details={"conversation_id": conversation_id, "seq": seq, "kind": kind.value},
            )
            members = await store.member_ids(conn, conversation_id)
        stored = StoredMessage(conversation_id, seq, client_id, actor.user_id, kind.value, body, now)
        reached = await self.publish_many([(members, message_frame(stored))])
        for hook in self.sent_hooks:
            hook(stored, members, reached)
        return Ack(client_id, conversation_id, seq, now)

    async def publish_many(self, frames: list[tuple[list[str], bytes]]) -> set[str] | None:
        """Publish each frame to its members' channels, in order, in one bus call. Returns the
        members a frame reached on some node (a connection there subscribes ``user.<id>``), or
        None when the bus failed and nobody knows who was reached (stored already: members
        resume from the store when the bus is back)."""
        targets = [(u, frame) for members, frame in frames for u in members]
        try:
            counts = await self.bus.publish_many([(f"user.{u}", frame) for u, frame in targets])
        except Unavailable:
            log.warning("publish failed; members will resync")
            return None
        return {u for (u, _frame), n in zip(targets, counts, strict=True) if n > 0}

    # -- receipts ---------------------------------------------------------------

    async def receipt(self, actor: Actor, conversation_id: str, seq: int, status: str) -> None:
        """Move the actor's delivered or read cursor forward and tell the members (the actor's own
        other connections too).

        Receipts are the reader's own cursor, not client data, so they are not audited."""
        if status not in ("delivered", "read"):
            raise BadRequest("status is delivered or read")
        async with self.store.write("message.receipt") as conn:
            row = await member_conversation(conn, actor, conversation_id)
            refuse_after_period(self.cases.policy.evaluate, actor, row, READ_MENTORING, self.clock.now())
            if seq > int(row.last_seq):
                raise BadRequest(f"No message {seq} in this conversation yet")
            member = await store.membership(conn, conversation_id, actor.user_id)
            delivered = next_cursor(int(member.delivered_seq), seq, int(row.last_seq))
            read = (
                next_cursor(int(member.read_seq), seq, int(row.last_seq)) if status == "read" else int(member.read_seq)
            )
            await store.set_member(
                conn, conversation_id, actor.user_id, delivered_seq=max(delivered, read), read_seq=read
            )
            members = await store.member_ids(conn, conversation_id)
        frame = msgspec.json.encode(
            {
                "type": "receipt",
                "conversation_id": conversation_id,
                "user_id": actor.user_id,
                "status": status,
                "seq": seq,
            }
        )
        # To every member, the reader included: their other tabs and devices clear the unread count.
        await self.publish_many([(members, frame)])

    # -- reading (audited) ------------------------------------------------------

    async def history(
        self, actor: Actor, conversation_id: str, *, after_seq: int, limit: int, via: str = "history"
    ) -> tuple[list[StoredMessage], int]:
        if after_seq < 0:
            raise BadRequest("after_seq is 0 or more")
        async with self.store.write("message.read") as conn:
            row = await member_conversation(conn, actor, conversation_id)
            refuse_after_period(self.cases.policy.evaluate, actor, row, READ_MENTORING, self.clock.now())
            if after_seq > int(row.last_seq):
                raise BadRequest(f"after_seq {after_seq} is beyond the last message ({row.last_seq})")
            out: list[StoredMessage] = []
            for m in await store.messages_after(conn, conversation_id, after_seq, limit):
                try:
                    text = (
                        await self.keyring.decrypt(
                            conn, key_id=m.key_id, blob=m.body, aad=aad(conversation_id, int(m.seq))
                        )
                    ).decode()
                except KeyShredded:
                    continue  # shredded by retention: it no longer exists
                out.append(StoredMessage(conversation_id, int(m.seq), m.id, m.sender_id, m.kind, text, m.sent_at))
            if out:
                await audit.append(
                    conn,
                    at=self.clock.now(),
                    actor_id=actor.user_id,
                    action="message.read",
                    target_type="conversation",
                    target_id=conversation_id,
                    case_id=row.case_id,
                    details={"from_seq": out[0].seq, "to_seq": out[-1].seq, "via": via},
                )
        return out, int(row.last_seq)

    async def conversations(self, actor: Actor) -> list[tuple[Any, list[Member], Decision | None]]:
        """The actor's conversations, their members as the actor sees them, and for a case
        conversation whether the actor may write in it now (the send_message decision for a
        text), so a screen says why not before anything is typed (issue 13)."""
        now = self.clock.now()
        async with self.store.read("conversation.list") as conn:
            rows = await store.conversations_of(conn, actor.user_id)
            members = await store.members_with_names(conn, [r.id for r in rows])
            case_ids = sorted({str(r.case_id) for r in rows if r.kind == Kind.CASE.value and r.case_id})
            views = await conn.run_sync(self.cases.views_in, case_ids, now) if case_ids else {}
            names = await store.cohort_member_names(conn, [r.id for r in rows if r.kind == Kind.GROUP.value])
        by_conv: dict[str, list[Any]] = {}
        for m in members:
            by_conv.setdefault(m.conversation_id, []).append(m)
        out = []
        for r in rows:
            view = views.get(str(r.case_id)) if r.kind == Kind.CASE.value else None
            decision = (self.cases.decide(actor, "send_message", view, now=now, message_kind=MessageKind.TEXT.value)
                        if view is not None else
                        conversation_decision(self.cases.policy.evaluate, actor, r, WRITE_MENTORING, now))
            if decision is not None and not decision.allowed and actor.role is Role.MENTOR:
                continue  # the period ended: the mentor's access to the conversation ended with it
            seen = as_seen_by(actor.role.value, r.kind, by_conv.get(r.id, []), names.get(r.id, FIRST_NAME))
            out.append((r, seen, decision))
        return out

    async def last_seq(self, actor: Actor, conversation_id: str) -> int:
        async with self.store.read("conversation.last_seq") as conn:
            row = await member_conversation(conn, actor, conversation_id)
            refuse_after_period(self.cases.policy.evaluate, actor, row, READ_MENTORING, self.clock.now())
            return int(row.last_seq)
